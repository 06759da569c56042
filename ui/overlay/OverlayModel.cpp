#include "overlay/OverlayModel.h"

#include <algorithm>
#include <cmath>

namespace al::ui {

OverlayModel::OverlayModel(QObject* parent) : QObject(parent) { rebuildLut(); }

void OverlayModel::setAnalysis(std::shared_ptr<const inference::ScanAnalysis> analysis) {
  analysis_ = std::move(analysis);
  volumeRanges_.clear();
  sliceRanges_.clear();
  mapName_.clear();
  scoreThreshold_.reset();
  if (analysis_) {
    if (!analysis_->mapNames.empty()) mapName_ = QString::fromStdString(analysis_->mapNames.front());
    scoreThreshold_ = analysis_->threshold;
  }
  emit analysisChanged();
  emit changed();
  if (scoreThreshold_) emit scoreThresholdChanged(*scoreThreshold_);
}

bool OverlayModel::hasMap() const { return currentMap() != nullptr; }

QStringList OverlayModel::mapNames() const {
  QStringList names;
  if (analysis_)
    for (const auto& n : analysis_->mapNames) names << QString::fromStdString(n);
  return names;
}

void OverlayModel::setMapName(const QString& name) {
  if (name == mapName_ || !mapNames().contains(name)) return;
  mapName_ = name;
  emit changed();
}

bool OverlayModel::hasReconstruction() const { return analysis_ && analysis_->maps.count("reconstruction") > 0; }

void OverlayModel::setColormap(render::Colormap map) {
  if (map == colormap_) return;
  colormap_ = map;
  rebuildLut();
  emit changed();
}

void OverlayModel::setOpacity(double opacity) {
  opacity = std::clamp(opacity, 0.0, 1.0);
  if (opacity == opacity_) return;
  opacity_ = opacity;
  rebuildLut();
  emit changed();
}

void OverlayModel::setThreshold(double fraction) {
  fraction = std::clamp(fraction, 0.0, 0.99);
  if (fraction == threshold_) return;
  threshold_ = fraction;
  emit changed();
}

void OverlayModel::setNormalisation(Normalisation n) {
  if (n == normalisation_) return;
  normalisation_ = n;
  emit changed();
}

void OverlayModel::setVisible(bool visible) {
  if (visible == visible_) return;
  visible_ = visible;
  emit changed();
}

const Volume* OverlayModel::currentMap() const {
  if (!analysis_ || mapName_.isEmpty()) return nullptr;
  auto it = analysis_->maps.find(mapName_.toStdString());
  return it == analysis_->maps.end() ? nullptr : &it->second;
}

OverlayModel::Range OverlayModel::robustRange(const float* values, std::int64_t n) const {
  // Unscored pixels are exactly 0 (outside the retina band or the brain): leave them out.
  std::vector<float> v;
  const std::int64_t step = std::max<std::int64_t>(1, n / 100000);
  v.reserve(static_cast<std::size_t>(n / step + 1));
  for (std::int64_t i = 0; i < n; i += step)
    if (values[i] != 0.0f && std::isfinite(values[i])) v.push_back(values[i]);
  if (v.size() < 2) return {0.0, 1.0, false};
  auto at = [&](double q) {
    auto k = v.begin() + static_cast<std::ptrdiff_t>(q * static_cast<double>(v.size() - 1));
    std::nth_element(v.begin(), k, v.end());
    return static_cast<double>(*k);
  };
  const double lo = at(0.5), hi = at(0.999);
  return {lo, std::max(hi, lo + 1e-9), false};
}

OverlayModel::Range OverlayModel::range(int z) const {
  const Volume* map = currentMap();
  if (!map) return {};
  if (normalisation_ == Normalisation::Calibrated) {
    auto it = analysis_->ranges.find(mapName_.toStdString());
    if (it != analysis_->ranges.end() && it->second.calibrated) return {it->second.lo, it->second.hi, true};
  }
  if (normalisation_ == Normalisation::PerImage && z >= 0 && z < map->size().z) {
    const auto key = std::make_pair(mapName_, z);
    auto it = sliceRanges_.find(key);
    if (it == sliceRanges_.end()) {
      const std::int64_t plane = map->size().x * map->size().y;
      it = sliceRanges_.emplace(key, robustRange(map->data<float>() + z * plane, plane)).first;
    }
    return it->second;
  }
  auto it = volumeRanges_.find(mapName_);
  if (it == volumeRanges_.end()) it = volumeRanges_.emplace(mapName_, robustRange(map->data<float>(), map->voxelsPerChannel())).first;
  return it->second;
}

QString OverlayModel::rangeLabel(int z) const {
  const Range r = range(z);
  switch (normalisation_) {
    case Normalisation::Calibrated:
      return r.calibrated ? tr("calibrated to the model's healthy range") : tr("per volume (the model has no calibration for this map)");
    case Normalisation::PerVolume: return tr("per volume");
    case Normalisation::PerImage: return tr("per image");
  }
  return {};
}

void OverlayModel::rebuildLut() {
  lut_.resize(256);
  for (int i = 0; i < 256; ++i) {
    const double t = i / 255.0;
    // Faint values are more transparent, so the anatomy stays readable under them, but visible.
    const auto c = render::overlayColour(colormap_, t);
    const double a = render::overlayAlpha(opacity_, std::max(t, 1e-9));
    const int alpha = static_cast<int>(std::lround(255 * a));
    lut_[i] = qRgba(c[0] * alpha / 255, c[1] * alpha / 255, c[2] * alpha / 255, alpha);
  }
}

QVector<QRgb> OverlayModel::colours() const {
  QVector<QRgb> out(256);
  for (int i = 0; i < 256; ++i) {
    const auto c = render::overlayColour(colormap_, i / 255.0);
    out[i] = qRgb(c[0], c[1], c[2]);
  }
  return out;
}

QImage OverlayModel::renderOverlay(int z) const {
  const Volume* map = currentMap();
  if (!map || !visible_ || z < 0 || z >= map->size().z) return {};
  const int w = static_cast<int>(map->size().x), h = static_cast<int>(map->size().y);
  const Range r = range(z);
  const float lo = static_cast<float>(r.lo);
  const float scale = static_cast<float>(255.0 / (r.hi - r.lo));
  const float cut = static_cast<float>(threshold_ * 255.0);
  QImage out(w, h, QImage::Format_ARGB32_Premultiplied);
  const float* src = map->data<float>() + static_cast<std::int64_t>(z) * w * h;
  const QRgb* lut = lut_.constData();
  for (int y = 0; y < h; ++y) {
    auto* dst = reinterpret_cast<QRgb*>(out.scanLine(y));
    const float* row = src + static_cast<std::int64_t>(y) * w;
    for (int x = 0; x < w; ++x) {
      const float t = (row[x] - lo) * scale;
      // NaN compares false: drawn as nothing.
      dst[x] = (t > 0.0f && t >= cut) ? lut[t >= 255.0f ? 255 : static_cast<int>(t)] : 0u;
    }
  }
  return out;
}

QImage OverlayModel::renderReconstruction(int z) const {
  if (!hasReconstruction()) return {};
  const Volume& rec = analysis_->maps.at("reconstruction");
  if (z < 0 || z >= rec.size().z) return {};
  const int w = static_cast<int>(rec.size().x), h = static_cast<int>(rec.size().y);
  const float* src = rec.data<float>() + static_cast<std::int64_t>(z) * w * h;
  // Model intensities: [-1, 1] for the GANs, z-scores for ADM: grey from the slice's robust
  // range. Exact zeros lie outside what the model saw (the retina band, the brain): black.
  std::vector<float> v;
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(w) * h; i += 3)
    if (src[i] != 0.0f) v.push_back(src[i]);
  float lo = -1, hi = 1;
  if (v.size() > 10) {
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 200), v.end());
    lo = v[v.size() / 200];
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() - 1 - v.size() / 200), v.end());
    hi = v[v.size() - 1 - v.size() / 200];
  }
  const float scale = hi > lo ? 255.0f / (hi - lo) : 1.0f;
  QImage out(w, h, QImage::Format_Grayscale8);
  for (int y = 0; y < h; ++y) {
    uchar* dst = out.scanLine(y);
    for (int x = 0; x < w; ++x) {
      const float s = src[y * w + x];
      dst[x] = s == 0.0f ? 0 : static_cast<uchar>(std::clamp((s - lo) * scale, 0.0f, 255.0f));
    }
  }
  return out;
}

std::optional<double> OverlayModel::sliceScore(int z) const {
  if (!analysis_ || z < 0 || z >= static_cast<int>(analysis_->sliceScores.size())) return std::nullopt;
  const double s = analysis_->sliceScores[static_cast<std::size_t>(z)];
  if (std::isnan(s)) return std::nullopt;
  return s;
}

void OverlayModel::setScoreThreshold(double threshold) {
  if (scoreThreshold_ && *scoreThreshold_ == threshold) return;
  scoreThreshold_ = threshold;
  emit scoreThresholdChanged(threshold);
  emit changed();
}

bool OverlayModel::sliceFlagged(int z) const {
  const auto s = sliceScore(z);
  return s && scoreThreshold_ && *s >= *scoreThreshold_;
}

std::vector<int> OverlayModel::flaggedSlices() const {
  std::vector<int> out;
  if (!analysis_) return out;
  for (int z = 0; z < static_cast<int>(analysis_->sliceScores.size()); ++z)
    if (sliceFlagged(z)) out.push_back(z);
  return out;
}

QString OverlayModel::verdict(int z) const {
  if (!analysis_) return {};
  const auto s = sliceScore(z);
  if (!s) return tr("%1: slice not scored").arg(QString::fromStdString(analysis_->modelName));
  QString text = tr("%1 score %2").arg(QString::fromStdString(analysis_->modelName)).arg(*s, 0, 'g', 4);
  if (scoreThreshold_) {
    text += sliceFlagged(z) ? tr(" \u2265 %1: above the healthy range").arg(*scoreThreshold_, 0, 'g', 4)
                            : tr(" < %1: within the healthy range").arg(*scoreThreshold_, 0, 'g', 4);
  }
  return text;
}

int OverlayModel::largestFindingSlice() const {
  const Volume* map = currentMap();
  if (!map) return -1;
  const Range r = range(-1);  // per image would colour every slice alike: calibrated or per volume
  const std::int64_t plane = map->size().x * map->size().y;
  std::vector<int> candidates = flaggedSlices();
  if (candidates.empty())
    for (int z = 0; z < static_cast<int>(map->size().z); ++z)
      if (sliceScore(z)) candidates.push_back(z);
  int best = -1;
  std::int64_t bestArea = -1;
  for (int z : candidates) {
    const float* m = map->data<float>() + z * plane;
    std::int64_t area = 0;
    for (std::int64_t i = 0; i < plane; ++i) area += m[i] > r.lo ? 1 : 0;
    if (area > bestArea) {
      bestArea = area;
      best = z;
    }
  }
  return best;
}

QString OverlayModel::toString(Normalisation n) {
  switch (n) {
    case Normalisation::Calibrated: return QStringLiteral("calibrated");
    case Normalisation::PerVolume: return QStringLiteral("volume");
    case Normalisation::PerImage: return QStringLiteral("image");
  }
  return QStringLiteral("calibrated");
}

OverlayModel::Normalisation OverlayModel::normalisationFromString(const QString& name) {
  if (name == QLatin1String("volume")) return Normalisation::PerVolume;
  if (name == QLatin1String("image")) return Normalisation::PerImage;
  return Normalisation::Calibrated;
}

}  // namespace al::ui
