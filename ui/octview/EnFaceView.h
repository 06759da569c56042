#pragma once
// The en-face panel beside the B-scan view: the fundus or projection with the current B-scan's
// line; clicking (or dragging) on it jumps to the nearest B-scan.

#include <QWidget>

namespace al::ui {

class EnFaceModel;
class SliceViewModel;

class EnFaceView : public QWidget {
  Q_OBJECT
 public:
  EnFaceView(EnFaceModel* model, SliceViewModel* slices, QWidget* parent = nullptr);
  QRectF imageRect() const;  // where the image lands in the widget

 protected:
  void paintEvent(QPaintEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;

 private:
  void jumpTo(QPointF widgetPos);
  EnFaceModel* model_;
  SliceViewModel* slices_;
};

}  // namespace al::ui
