#pragma once
// The slice view's presenter: which slice, window/level, zoom and pan, and the mapping between
// widget and voxel coordinates. No widget here, so tests drive it without a display; the
// SliceView widget only forwards mouse and wheel events and paints what this computes.

#include <QImage>
#include <QObject>
#include <QPointF>
#include <QRectF>
#include <QSizeF>
#include <QString>
#include <memory>
#include <optional>
#include <vector>

#include "image/Volume.h"

namespace al::ui {

struct VoxelProbe {
  std::int64_t x = 0, y = 0, z = 0;
  double value = 0.0;
};

class SliceViewModel : public QObject {
  Q_OBJECT
 public:
  explicit SliceViewModel(QObject* parent = nullptr);

  void setVolume(std::shared_ptr<const Volume> volume);
  const std::shared_ptr<const Volume>& volume() const { return volume_; }
  bool hasVolume() const { return volume_ != nullptr; }

  // Slices along the volume's third axis (the B-scan index for OCT, axial for most MRI/CT).
  int sliceCount() const;
  int slice() const { return slice_; }
  void setSlice(int slice);
  void scrollSlices(int steps);

  // The channel window/level applies to (an MRI contrast); each channel keeps its own.
  int channel() const { return channel_; }
  void setChannel(int channel);
  // Separate grey images, one per channel, shown side by side (multi-contrast MRI); not RGB.
  int contrastCount() const;
  QString channelName(int channel) const;

  double window() const { return window_; }
  double level() const { return level_; }
  void setWindowLevel(double window, double level);
  // Mouse drag in widget pixels: right raises the window (less contrast), down raises the level.
  void dragWindowLevel(QPointF delta);
  void resetWindowLevel();  // from the channel's robust value range (0.5th..99.5th percentile)

  double zoom() const { return zoom_; }
  QPointF pan() const { return pan_; }
  void zoomBy(double factor, QPointF anchor, QSizeF viewport);  // keeps the point under anchor fixed
  void panBy(QPointF delta);
  void setZoomPan(double zoom, QPointF pan);  // as saved in a session
  void resetView();

  // Widget height/width of one voxel relative to its width: physical (spacing y / spacing x),
  // except for OCT and ratios beyond 1:2.5 (OCT B-scans stored without a modality), which are shown with square pixels as OCT viewers do.
  double pixelAspect() const;

  // Where the slice image lands in a viewport of this size.
  QRectF imageRect(QSizeF viewport) const;
  std::optional<VoxelProbe> probe(QPointF widgetPos, QSizeF viewport) const;
  // Continuous voxel coordinates (x, y on the slice; pixel centres at .5) of a widget position,
  // and back: what annotations are drawn and stored in.
  QPointF toVoxel(QPointF widgetPos, QSizeF viewport) const;
  QPointF toWidget(QPointF voxel, QSizeF viewport) const;
  // Window/level of one channel (each keeps its own).
  std::pair<double, double> windowLevel(int channel) const;
  void setWindowLevel(int channel, double window, double level);
  QString describeProbe(const VoxelProbe& p) const;

  // The current slice through window/level, 8-bit grey (or RGB for 3-channel colour).
  QImage renderSlice() const;
  QImage renderSlice(int channel) const;  // that channel through its own window/level

 signals:
  void volumeChanged();
  void sliceChanged(int slice);
  void windowLevelChanged(double window, double level);
  void viewChanged();  // zoom or pan

 private:
  std::shared_ptr<const Volume> volume_;
  int slice_ = 0;
  int channel_ = 0;
  double window_ = 1.0;
  double level_ = 0.5;
  double defaultWindow_ = 1.0;
  double defaultLevel_ = 0.5;
  struct ChannelWindow {
    double window = 1.0, level = 0.5, defaultWindow = 1.0;
  };
  std::vector<ChannelWindow> channelWindows_;  // kept for channels not currently active
  bool isRgb() const;
  double zoom_ = 1.0;
  QPointF pan_;
};

}  // namespace al::ui
