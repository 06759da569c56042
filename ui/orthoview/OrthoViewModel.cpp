#include "orthoview/OrthoViewModel.h"

#include <algorithm>
#include <cmath>

#include "overlay/OverlayModel.h"
#include "sliceview/SliceViewModel.h"

namespace al::ui {

OrthoViewModel::OrthoViewModel(SliceViewModel* slices, OverlayModel* overlay, QObject* parent)
    : QObject(parent), slices_(slices), overlay_(overlay) {
  connect(slices_, &SliceViewModel::volumeChanged, this, [this] {
    if (hasVolume()) {
      x_ = static_cast<int>(slices_->volume()->size().x / 2);
      y_ = static_cast<int>(slices_->volume()->size().y / 2);
    }
    emit changed();
  });
  connect(slices_, &SliceViewModel::sliceChanged, this, &OrthoViewModel::changed);
  connect(slices_, &SliceViewModel::windowLevelChanged, this, &OrthoViewModel::changed);
  connect(overlay_, &OverlayModel::changed, this, &OrthoViewModel::changed);
}

bool OrthoViewModel::hasVolume() const { return slices_->hasVolume(); }

int OrthoViewModel::cursor(int axis) const { return axis == 0 ? x_ : axis == 1 ? y_ : slices_->slice(); }

int OrthoViewModel::axisLength(int axis) const {
  if (!hasVolume()) return 0;
  const Size3 s = slices_->volume()->size();
  return static_cast<int>(axis == 0 ? s.x : axis == 1 ? s.y : s.z);
}

void OrthoViewModel::setCursor(int axis, int index) {
  if (!hasVolume()) return;
  const Size3 s = slices_->volume()->size();
  if (axis == 2) {
    slices_->setSlice(index);
    return;
  }
  const int n = static_cast<int>(axis == 0 ? s.x : s.y);
  index = std::clamp(index, 0, n - 1);
  int& c = axis == 0 ? x_ : y_;
  if (c == index) return;
  c = index;
  emit changed();
}

void OrthoViewModel::scroll(int plane, int steps) { setCursor(plane, cursor(plane) + steps); }

QString OrthoViewModel::planeName(int plane) const {
  if (!hasVolume()) return {};
  const Volume& v = *slices_->volume();
  const auto& m = v.metadata();
  const bool oct = m.modality == "OPT" || m.sourceFormat == "Heidelberg .vol" || m.sourceFormat == "image stack" ||
                   (m.modality.empty() && v.spacing()[1] < v.spacing()[0] && v.spacing()[2] > 2 * v.spacing()[0]);
  if (oct) return plane == 2 ? tr("B-scan") : plane == 1 ? tr("En face (depth)") : tr("Slow axis");
  // The plane's normal is index axis `plane`; its direction's largest component names it.
  const Mat3& d = v.direction();
  double best = -1;
  int patient = plane;
  for (int r = 0; r < 3; ++r)
    if (std::abs(d[static_cast<std::size_t>(r * 3 + plane)]) > best) {
      best = std::abs(d[static_cast<std::size_t>(r * 3 + plane)]);
      patient = r;
    }
  return patient == 0 ? tr("Sagittal") : patient == 1 ? tr("Coronal") : tr("Axial");
}

QSize OrthoViewModel::planeSize(int plane) const {
  if (!hasVolume()) return {};
  const Size3 s = slices_->volume()->size();
  const std::int64_t dims[3] = {s.x, s.y, s.z};
  return {static_cast<int>(dims[axisAcross(plane)]), static_cast<int>(dims[axisDown(plane)])};
}

double OrthoViewModel::pixelAspect(int plane) const {
  if (!hasVolume()) return 1.0;
  if (plane == 2) return slices_->pixelAspect();
  const Vec3& sp = slices_->volume()->spacing();
  const double a = sp[static_cast<std::size_t>(axisDown(plane))] / sp[static_cast<std::size_t>(axisAcross(plane))];
  return std::clamp(a, 0.05, 20.0);
}

template <typename F>
void OrthoViewModel::forEachPixel(int plane, F&& f) const {
  const QSize size = planeSize(plane);
  const int w = size.width(), h = size.height();
  for (int row = 0; row < h; ++row) {
    const int down = flipped(plane) ? h - 1 - row : row;
    for (int col = 0; col < w; ++col) {
      std::int64_t idx[3] = {x_, y_, slices_->slice()};
      idx[axisAcross(plane)] = col;
      idx[axisDown(plane)] = down;
      f(col, row, idx[0], idx[1], idx[2]);
    }
  }
}

QImage OrthoViewModel::renderPlane(int plane) const {
  if (!hasVolume()) return {};
  if (plane == 2) return slices_->renderSlice();
  const Volume& v = *slices_->volume();
  const auto [window, level] = slices_->windowLevel(slices_->channel());
  const double lo = level - window / 2, scale = 255.0 / window;
  const int ch = slices_->channel();
  QImage img(planeSize(plane), QImage::Format_Grayscale8);
  forEachPixel(plane, [&](int col, int row, std::int64_t x, std::int64_t y, std::int64_t z) {
    img.scanLine(row)[col] = static_cast<uchar>(std::clamp((v.value(x, y, z, ch) - lo) * scale, 0.0, 255.0) + 0.5);
  });
  return img;
}

QImage OrthoViewModel::renderPlaneOverlay(int plane) const {
  if (!hasVolume() || !overlay_->hasMap() || !overlay_->isVisible()) return {};
  const Volume& map = overlay_->analysis()->maps.at(overlay_->mapName().toStdString());
  if (!(map.size() == slices_->volume()->size())) return {};  // a map of another scan is never drawn
  if (plane == 2) return overlay_->renderOverlay(slices_->slice());
  // One colour scale across planes: calibrated, or the volume's (never per image here).
  const auto r = overlay_->range(-1);
  const auto colours = overlay_->overlayColours();
  const double scale = 255.0 / (r.hi - r.lo), cut = overlay_->threshold() * 255.0;
  QImage img(planeSize(plane), QImage::Format_ARGB32_Premultiplied);
  forEachPixel(plane, [&](int col, int row, std::int64_t x, std::int64_t y, std::int64_t z) {
    const double t = (map.value(x, y, z) - r.lo) * scale;
    reinterpret_cast<QRgb*>(img.scanLine(row))[col] = (t > 0 && t >= cut) ? colours[t >= 255.0 ? 255 : static_cast<int>(t)] : 0u;
  });
  return img;
}

QPointF OrthoViewModel::cursorInPlane(int plane) const {
  const QSize size = planeSize(plane);
  const double across = cursor(axisAcross(plane)) + 0.5;
  const double down = cursor(axisDown(plane)) + 0.5;
  return {across, flipped(plane) ? size.height() - down : down};
}

void OrthoViewModel::setCursorFromPlane(int plane, QPointF p) {
  const QSize size = planeSize(plane);
  if (size.isEmpty()) return;
  const int col = std::clamp(static_cast<int>(std::floor(p.x())), 0, size.width() - 1);
  int row = std::clamp(static_cast<int>(std::floor(p.y())), 0, size.height() - 1);
  if (flipped(plane)) row = size.height() - 1 - row;
  const int across = axisAcross(plane), down = axisDown(plane);
  // Set the in-plane axes other than z first: a z change re-renders everything at once.
  if (across != 2) setCursor(across, col);
  if (down != 2) setCursor(down, row);
  if (across == 2) setCursor(2, col);
  if (down == 2) setCursor(2, row);
}

}  // namespace al::ui
