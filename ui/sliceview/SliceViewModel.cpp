#include "sliceview/SliceViewModel.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace al::ui {

SliceViewModel::SliceViewModel(QObject* parent) : QObject(parent) {}

void SliceViewModel::setVolume(std::shared_ptr<const Volume> volume) {
  volume_ = std::move(volume);
  channel_ = 0;
  slice_ = volume_ ? static_cast<int>(volume_->size().z / 2) : 0;
  zoom_ = 1.0;
  pan_ = {};
  channelWindows_.assign(volume_ ? static_cast<std::size_t>(volume_->channels()) : 0, ChannelWindow{});
  for (int c = volume_ ? volume_->channels() - 1 : 0; c >= 0 && volume_; --c) {
    channel_ = c;
    resetWindowLevel();
  }
  if (!volume_) resetWindowLevel();
  emit volumeChanged();
  emit sliceChanged(slice_);
  emit viewChanged();
}

int SliceViewModel::sliceCount() const { return volume_ ? static_cast<int>(volume_->size().z) : 0; }

void SliceViewModel::setSlice(int slice) {
  if (!volume_) return;
  slice = std::clamp(slice, 0, sliceCount() - 1);
  if (slice == slice_) return;
  slice_ = slice;
  emit sliceChanged(slice_);
}

void SliceViewModel::scrollSlices(int steps) { setSlice(slice_ + steps); }

void SliceViewModel::setChannel(int channel) {
  if (!volume_ || channel < 0 || channel >= volume_->channels() || channel == channel_) return;
  channel_ = channel;
  const ChannelWindow& w = channelWindows_[static_cast<std::size_t>(channel)];
  defaultWindow_ = w.defaultWindow;
  window_ = w.window;
  level_ = w.level;
  emit windowLevelChanged(window_, level_);
}

bool SliceViewModel::isRgb() const {
  return volume_ && volume_->channels() == 3 && volume_->pixelType() == PixelType::UInt8;
}

int SliceViewModel::contrastCount() const {
  if (!volume_ || isRgb()) return volume_ ? 1 : 0;
  return volume_->channels();
}

QString SliceViewModel::channelName(int channel) const {
  if (!volume_ || channel < 0 || channel >= static_cast<int>(volume_->channelNames().size()))
    return QStringLiteral("channel %1").arg(channel + 1);
  return QString::fromStdString(volume_->channelNames()[static_cast<std::size_t>(channel)]);
}

void SliceViewModel::setWindowLevel(double window, double level) {
  window = std::max(window, 1e-6);
  if (channel_ < static_cast<int>(channelWindows_.size())) {
    channelWindows_[static_cast<std::size_t>(channel_)].window = window;
    channelWindows_[static_cast<std::size_t>(channel_)].level = level;
  }
  if (window == window_ && level == level_) return;
  window_ = window;
  level_ = level;
  emit windowLevelChanged(window_, level_);
}

void SliceViewModel::dragWindowLevel(QPointF delta) {
  // One full drag across ~500 px spans the default window, whatever the value range.
  const double step = defaultWindow_ / 500.0;
  setWindowLevel(window_ + delta.x() * step, level_ + delta.y() * step);
}

void SliceViewModel::resetWindowLevel() {
  if (!volume_ || volume_->empty()) {
    setWindowLevel(1.0, 0.5);
    return;
  }
  // Robust range from a strided sample: outliers (a hot pixel, padding values) must not
  // flatten the contrast.
  const std::int64_t n = volume_->voxelsPerChannel();
  const std::int64_t stride = std::max<std::int64_t>(1, n / 200000);
  std::vector<float> sample;
  sample.reserve(static_cast<std::size_t>(n / stride + 1));
  const std::int64_t first = n * channel_;
  visitVoxels(*volume_, [&](const auto* p, std::int64_t) {
    for (std::int64_t i = 0; i < n; i += stride) {
      const float v = static_cast<float>(p[first + i]);
      if (std::isfinite(v)) sample.push_back(v);
    }
  });
  double lo = 0, hi = 1;
  if (!sample.empty()) {
    auto at = [&](double q) {
      auto k = static_cast<std::size_t>(q * static_cast<double>(sample.size() - 1));
      std::nth_element(sample.begin(), sample.begin() + static_cast<std::ptrdiff_t>(k), sample.end());
      return static_cast<double>(sample[k]);
    };
    lo = at(0.005);
    hi = at(0.995);
    if (hi <= lo) {
      const auto range = volume_->valueRange(channel_);
      lo = range.min;
      hi = range.max > range.min ? range.max : range.min + 1.0;
    }
  }
  defaultWindow_ = hi - lo;
  defaultLevel_ = (hi + lo) / 2.0;
  if (channel_ < static_cast<int>(channelWindows_.size())) channelWindows_[static_cast<std::size_t>(channel_)].defaultWindow = defaultWindow_;
  setWindowLevel(defaultWindow_, defaultLevel_);
}

double SliceViewModel::pixelAspect() const {
  if (!volume_) return 1.0;
  if (volume_->metadata().modality == "OPT") return 1.0;
  const double a = volume_->spacing()[1] / volume_->spacing()[0];
  return (a > 2.5 || a < 0.4) ? 1.0 : a;
}

QRectF SliceViewModel::imageRect(QSizeF viewport) const {
  if (!volume_ || viewport.isEmpty()) return {};
  const double w = static_cast<double>(volume_->size().x);
  const double h = static_cast<double>(volume_->size().y) * pixelAspect();
  const double fit = std::min(viewport.width() / w, viewport.height() / h);
  const double scale = fit * zoom_;
  const QSizeF size(w * scale, h * scale);
  const QPointF center(viewport.width() / 2.0 + pan_.x(), viewport.height() / 2.0 + pan_.y());
  return QRectF(center - QPointF(size.width() / 2.0, size.height() / 2.0), size);
}

void SliceViewModel::zoomBy(double factor, QPointF anchor, QSizeF viewport) {
  if (!volume_ || factor <= 0) return;
  const double newZoom = std::clamp(zoom_ * factor, 0.1, 40.0);
  const double f = newZoom / zoom_;
  // Keep the image point under the anchor where it is: scale the anchor-to-centre offset.
  const QPointF center(viewport.width() / 2.0 + pan_.x(), viewport.height() / 2.0 + pan_.y());
  const QPointF newCenter = anchor + (center - anchor) * f;
  pan_ = newCenter - QPointF(viewport.width() / 2.0, viewport.height() / 2.0);
  zoom_ = newZoom;
  emit viewChanged();
}

void SliceViewModel::panBy(QPointF delta) {
  if (!volume_) return;
  pan_ += delta;
  emit viewChanged();
}

void SliceViewModel::setZoomPan(double zoom, QPointF pan) {
  if (!volume_) return;
  zoom_ = std::clamp(zoom, 0.1, 40.0);
  pan_ = pan;
  emit viewChanged();
}

void SliceViewModel::resetView() {
  zoom_ = 1.0;
  pan_ = {};
  emit viewChanged();
}

std::optional<VoxelProbe> SliceViewModel::probe(QPointF widgetPos, QSizeF viewport) const {
  const QRectF r = imageRect(viewport);
  if (r.isEmpty() || !r.contains(widgetPos)) return std::nullopt;
  VoxelProbe p;
  p.x = static_cast<std::int64_t>((widgetPos.x() - r.left()) / r.width() * static_cast<double>(volume_->size().x));
  p.y = static_cast<std::int64_t>((widgetPos.y() - r.top()) / r.height() * static_cast<double>(volume_->size().y));
  p.z = slice_;
  p.x = std::clamp<std::int64_t>(p.x, 0, volume_->size().x - 1);
  p.y = std::clamp<std::int64_t>(p.y, 0, volume_->size().y - 1);
  p.value = volume_->value(p.x, p.y, p.z, channel_);
  return p;
}

QPointF SliceViewModel::toVoxel(QPointF widgetPos, QSizeF viewport) const {
  const QRectF r = imageRect(viewport);
  if (!volume_ || r.isEmpty()) return {};
  return {(widgetPos.x() - r.left()) / r.width() * static_cast<double>(volume_->size().x),
          (widgetPos.y() - r.top()) / r.height() * static_cast<double>(volume_->size().y)};
}

QPointF SliceViewModel::toWidget(QPointF voxel, QSizeF viewport) const {
  const QRectF r = imageRect(viewport);
  if (!volume_ || r.isEmpty()) return {};
  return {r.left() + voxel.x() / static_cast<double>(volume_->size().x) * r.width(),
          r.top() + voxel.y() / static_cast<double>(volume_->size().y) * r.height()};
}

std::pair<double, double> SliceViewModel::windowLevel(int channel) const {
  if (channel == channel_ || channel < 0 || channel >= static_cast<int>(channelWindows_.size())) return {window_, level_};
  const ChannelWindow& w = channelWindows_[static_cast<std::size_t>(channel)];
  return {w.window, w.level};
}

void SliceViewModel::setWindowLevel(int channel, double window, double level) {
  if (channel < 0 || channel >= static_cast<int>(channelWindows_.size())) return;
  if (channel == channel_) {
    setWindowLevel(window, level);
    return;
  }
  channelWindows_[static_cast<std::size_t>(channel)].window = std::max(window, 1e-6);
  channelWindows_[static_cast<std::size_t>(channel)].level = level;
  emit windowLevelChanged(window_, level_);  // the side-by-side contrasts repaint
}

QString SliceViewModel::describeProbe(const VoxelProbe& p) const {
  const Vec3 mm = volume_->indexToPhysical({static_cast<double>(p.x), static_cast<double>(p.y), static_cast<double>(p.z)});
  return QStringLiteral("voxel (%1, %2, %3)   %4 mm, %5 mm, %6 mm   value %7")
      .arg(p.x).arg(p.y).arg(p.z)
      .arg(mm[0], 0, 'f', 2).arg(mm[1], 0, 'f', 2).arg(mm[2], 0, 'f', 2)
      .arg(p.value, 0, 'g', 6);
}

QImage SliceViewModel::renderSlice() const { return renderSlice(channel_); }

QImage SliceViewModel::renderSlice(int channel) const {
  if (!volume_ || channel < 0 || channel >= volume_->channels()) return {};
  const auto w = static_cast<int>(volume_->size().x);
  const auto h = static_cast<int>(volume_->size().y);
  const ChannelWindow cw = channel < static_cast<int>(channelWindows_.size()) ? channelWindows_[static_cast<std::size_t>(channel)]
                                                                              : ChannelWindow{window_, level_, defaultWindow_};
  const double lo = cw.level - cw.window / 2.0;
  const double scale = 255.0 / cw.window;
  const bool rgb = isRgb();
  QImage image(w, h, rgb ? QImage::Format_RGB888 : QImage::Format_Grayscale8);
  visitVoxels(*volume_, [&](const auto* p, std::int64_t) {
    auto grey = [&](double v) {
      return static_cast<uchar>(std::clamp((v - lo) * scale, 0.0, 255.0) + 0.5);
    };
    for (int y = 0; y < h; ++y) {
      uchar* line = image.scanLine(y);
      if (rgb) {
        for (int x = 0; x < w; ++x) {
          for (int c = 0; c < 3; ++c) {
            line[x * 3 + c] = grey(static_cast<double>(p[volume_->linearIndex(x, y, slice_, c)]));
          }
        }
      } else {
        const auto* row = p + volume_->linearIndex(0, y, slice_, channel);
        for (int x = 0; x < w; ++x) line[x] = grey(static_cast<double>(row[x]));
      }
    }
  });
  return image;
}

}  // namespace al::ui
