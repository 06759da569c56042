#pragma once
// The orthogonal layout: three linked plane views (click to move the cursor, wheel to move
// through a plane, the crosshair marks the cursor) and the 3D view in the fourth quarter.

#include <QWidget>

namespace al::ui {

class OrthoViewModel;
class VolumeRenderView;

class OrthoView : public QWidget {
  Q_OBJECT
 public:
  OrthoView(OrthoViewModel* model, QWidget* render3d, QWidget* parent = nullptr);
  QWidget* planeView(int plane) const { return planes_[plane]; }

 private:
  QWidget* planes_[3];
};

// One plane of the orthogonal layout.
class PlaneView : public QWidget {
  Q_OBJECT
 public:
  PlaneView(OrthoViewModel* model, int plane, QWidget* parent = nullptr);
  QRectF imageRect() const;

 protected:
  void paintEvent(QPaintEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void wheelEvent(QWheelEvent* event) override;

 private:
  void moveCursor(QPointF pos);
  OrthoViewModel* model_;
  int plane_;
  int wheelRemainder_ = 0;
};

}  // namespace al::ui
