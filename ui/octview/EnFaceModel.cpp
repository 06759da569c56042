#include "octview/EnFaceModel.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "preprocess/OctEnFace.h"

namespace al::ui {

namespace {

QImage toGrey(const Volume& v) {
  const auto range = v.valueRange();
  const double lo = range.min, span = range.max > range.min ? range.max - range.min : 1.0;
  QImage img(static_cast<int>(v.size().x), static_cast<int>(v.size().y), QImage::Format_Grayscale8);
  for (int y = 0; y < img.height(); ++y) {
    uchar* line = img.scanLine(y);
    for (int x = 0; x < img.width(); ++x) line[x] = static_cast<uchar>(std::lround(255.0 * (v.value(x, y, 0) - lo) / span));
  }
  return img;
}

double distanceToSegment(QPointF p, const QLineF& l) {
  const QPointF d = l.p2() - l.p1();
  const double len2 = d.x() * d.x() + d.y() * d.y();
  double t = len2 > 0 ? ((p.x() - l.x1()) * d.x() + (p.y() - l.y1()) * d.y()) / len2 : 0.0;
  t = std::clamp(t, 0.0, 1.0);
  const QPointF q = l.p1() + t * d;
  return std::hypot(p.x() - q.x(), p.y() - q.y());
}

}  // namespace

EnFaceModel::EnFaceModel(QObject* parent) : QObject(parent) {}

void EnFaceModel::clear() {
  image_ = QImage();
  lines_.clear();
  emit changed();
}

void EnFaceModel::setStudy(std::shared_ptr<const Volume> oct, std::shared_ptr<const Volume> fundus, std::vector<OctBScanInfo> lines) {
  lines_.clear();
  usesFundus_ = false;
  if (!oct || oct->empty()) {
    clear();
    return;
  }
  const auto bscans = static_cast<int>(oct->size().z);
  const bool linesUsable = fundus && !fundus->empty() && static_cast<int>(lines.size()) == bscans;
  if (linesUsable) {
    // The SLO image, with each B-scan's line from its header (mm on the fundus).
    usesFundus_ = true;
    image_ = toGrey(*fundus);
    pixelAspect_ = fundus->spacing()[1] / fundus->spacing()[0];
    const double sx = fundus->spacing()[0], sy = fundus->spacing()[1];
    for (const auto& l : lines) lines_.emplace_back(l.startXMm / sx, l.startYMm / sy, l.endXMm / sx, l.endYMm / sy);
  } else {
    // The projection: one row per B-scan, each row's line across it.
    const Volume projection = octEnFaceProjection(*oct);
    image_ = toGrey(projection);
    pixelAspect_ = projection.spacing()[1] / projection.spacing()[0];
    for (int z = 0; z < bscans; ++z) lines_.emplace_back(0.0, z + 0.5, static_cast<double>(image_.width()), z + 0.5);
  }
  emit changed();
}

QLineF EnFaceModel::bscanLine(int bscan) const {
  if (bscan < 0 || bscan >= bscanCount()) return {};
  return lines_[static_cast<std::size_t>(bscan)];
}

int EnFaceModel::bscanAt(QPointF p) const {
  if (lines_.empty()) return -1;
  int best = -1;
  double bestDistance = std::numeric_limits<double>::infinity();
  for (int i = 0; i < bscanCount(); ++i) {
    // Distances in displayed units: rows of the projection are pixelAspect_ tall.
    QLineF l = lines_[static_cast<std::size_t>(i)];
    const QPointF scaled(p.x(), p.y() * pixelAspect_);
    l.setP1(QPointF(l.x1(), l.y1() * pixelAspect_));
    l.setP2(QPointF(l.x2(), l.y2() * pixelAspect_));
    const double d = distanceToSegment(scaled, l);
    if (d < bestDistance) {
      bestDistance = d;
      best = i;
    }
  }
  return best;
}

}  // namespace al::ui
