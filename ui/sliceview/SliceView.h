#pragma once
// The 2D slice view: paints what its SliceViewModel computes and turns mouse and keyboard
// input into model calls. Wheel: slice; Ctrl+wheel: zoom; left drag: window/level;
// middle or Shift+left drag: pan; R: reset view.

#include <QImage>
#include <QWidget>

#include "sliceview/SliceViewModel.h"

namespace al::ui {

class SliceView : public QWidget {
  Q_OBJECT
 public:
  explicit SliceView(SliceViewModel* model, QWidget* parent = nullptr);
  SliceViewModel* model() const { return model_; }

 signals:
  void probed(const QString& description);  // the voxel under the mouse, for the status bar

 protected:
  void paintEvent(QPaintEvent* event) override;
  void wheelEvent(QWheelEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void mouseReleaseEvent(QMouseEvent* event) override;
  void keyPressEvent(QKeyEvent* event) override;

 private:
  enum class Drag { None, WindowLevel, Pan };
  void refreshImage();
  void reportProbe(QPointF pos);

  SliceViewModel* model_;
  QImage image_;  // cached slice; re-rendered only when slice, volume or window/level change
  Drag drag_ = Drag::None;
  QPointF lastPos_;
  int wheelRemainder_ = 0;
};

}  // namespace al::ui
