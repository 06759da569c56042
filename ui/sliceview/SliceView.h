#pragma once
// The 2D slice view: paints what its SliceViewModel computes and turns mouse and keyboard
// input into model calls. Wheel: slice; Ctrl+wheel: zoom; left drag: window/level;
// middle or Shift+left drag: pan; R: reset view. With an OverlayModel it paints the heatmap
// over the slice, a colour bar with its scale and the slice's score against the threshold; in
// comparison mode the view splits into input | reconstruction | map, linked (one zoom, pan and
// slice for all three).

#include <QImage>
#include <QWidget>
#include <vector>

#include "sliceview/SliceViewModel.h"

namespace al::ui {

class AnnotationModel;
class OverlayModel;

class SliceView : public QWidget {
  Q_OBJECT
 public:
  explicit SliceView(SliceViewModel* model, QWidget* parent = nullptr);
  SliceViewModel* model() const { return model_; }

  void setOverlay(OverlayModel* overlay);
  // Annotations are drawn over the slice; with a tool chosen, a left drag draws one.
  void setAnnotations(AnnotationModel* annotations);
  OverlayModel* overlay() const { return overlay_; }
  bool isComparing() const { return compare_; }
  void setComparing(bool on);
  int panelCount() const;  // 1, or 2-3 when comparing
  // The whole view as the user sees it, at the widget's size (for tests and the benchmark:
  // paints into an image without a screen).
  QImage renderToImage();

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
  enum class Drag { None, WindowLevel, Pan, Annotate };
  void paintAnnotations(QPainter& painter, QSizeF panel);
  void refreshImage();
  void refreshOverlay();
  void reportProbe(QPointF pos);
  QSizeF panelSize() const;
  int panelColumns() const;
  QPointF panelOffset(int panel) const;
  QPointF toPanel(QPointF widgetPos) const;  // the position inside the panel it falls in
  void paintView(QPainter& painter);
  void paintColourBar(QPainter& painter, const QRectF& area);

  SliceViewModel* model_;
  bool showsContrasts() const;  // one panel per MRI contrast
  int panelAt(QPointF widgetPos) const;
  QImage image_;  // cached slice; re-rendered only when slice, volume or window/level change
  std::vector<QImage> contrastImages_;  // the same, per contrast, when they are side by side
  QImage overlayImage_;  // cached heatmap of the slice
  QImage reconstructionImage_;
  OverlayModel* overlay_ = nullptr;
  AnnotationModel* annotations_ = nullptr;
  bool compare_ = false;
  Drag drag_ = Drag::None;
  QPointF lastPos_;
  int wheelRemainder_ = 0;
};

}  // namespace al::ui
