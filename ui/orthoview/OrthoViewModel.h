#pragma once
// Three linked orthogonal views of a volume: the cursor is a voxel (x, y, z), its slice z is the
// main view's slice, and each view shows the plane through the cursor normal to one index axis
// with a crosshair at the cursor. Named by anatomy from the volume's direction cosines (axial,
// coronal, sagittal), or for OCT as B-scan, en face (depth) and slow axis. Shares window/level
// with the slice view and draws the heatmap on every plane.

#include <QImage>
#include <QObject>
#include <QPointF>
#include <QSizeF>
#include <QString>

#include "image/Volume.h"

namespace al::ui {

class SliceViewModel;
class OverlayModel;

class OrthoViewModel : public QObject {
  Q_OBJECT
 public:
  // Plane p shows the two index axes other than p, normal to index axis p:
  //   2: x across, y down (the slice view's plane, at z);
  //   1: x across, z up (at y);
  //   0: y across, z up (at x).
  OrthoViewModel(SliceViewModel* slices, OverlayModel* overlay, QObject* parent = nullptr);

  bool hasVolume() const;
  int cursor(int axis) const;  // 0 x, 1 y, 2 z (= the slice view's slice)
  int axisLength(int axis) const;
  void setCursor(int axis, int index);
  void scroll(int plane, int steps);  // moves the cursor along the plane's normal

  QString planeName(int plane) const;
  // The plane through the cursor: grey through window/level, and its heatmap (null without one).
  QImage renderPlane(int plane) const;
  QImage renderPlaneOverlay(int plane) const;
  // Height of one pixel relative to its width, in millimetres.
  double pixelAspect(int plane) const;
  // Plane pixel coordinates (column, row) of the cursor, and the voxel a plane pixel is.
  QPointF cursorInPlane(int plane) const;
  void setCursorFromPlane(int plane, QPointF planePixel);
  QSize planeSize(int plane) const;

 signals:
  void changed();

 private:
  int axisAcross(int plane) const { return plane == 0 ? 1 : 0; }
  int axisDown(int plane) const { return plane == 2 ? 1 : 2; }
  bool flipped(int plane) const { return plane != 2; }  // z runs upward in the other two planes
  template <typename F>
  void forEachPixel(int plane, F&& f) const;

  SliceViewModel* slices_;
  OverlayModel* overlay_;
  int x_ = 0, y_ = 0;
};

}  // namespace al::ui
