#pragma once
// A slim vertical bar beside the slice view: where the current slice is among all of them, and
// marks where the model flagged slices (score at or above the threshold, orange) and where
// slices are labelled (the user's or the mask's: a small dot, red abnormal, green healthy).
// Click or drag to jump.

#include <QWidget>
#include <functional>

namespace al::ui {

class SliceViewModel;
class OverlayModel;
class RocModel;

class SliceScrollBar : public QWidget {
  Q_OBJECT
 public:
  SliceScrollBar(SliceViewModel* slices, OverlayModel* overlay, RocModel* labels, QWidget* parent = nullptr);
  QSize sizeHint() const override { return {22, 200}; }
  int sliceAt(double y) const;  // the slice a click at this height selects

 protected:
  void paintEvent(QPaintEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;

 private:
  double yOf(int slice) const;
  SliceViewModel* slices_;
  OverlayModel* overlay_;
  RocModel* labels_;
};

}  // namespace al::ui
