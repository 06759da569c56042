#pragma once
// The 3D view: the scan and its heatmap volume-rendered by VTK (core modules, off screen) into
// an image this Qt 6 widget paints. Fusing the volumes runs in the thread pool, rendering in a
// thread of its own that owns the VTK window (requests are coalesced: while one frame renders,
// only the newest request waits), so the GUI thread never waits for VTK. Drag to turn it.

#include <QImage>
#include <QThread>
#include <QWidget>
#include <memory>

#include "image/Volume.h"
#include "render3d/OffscreenVolumeRenderer.h"

namespace al::ui {

class SliceViewModel;
class OverlayModel;

// Lives in the render thread.
class VolumeRenderWorker : public QObject {
  Q_OBJECT
 public slots:
  void render(std::shared_ptr<const al::Volume> rgba, QSize size, double azimuth, double elevation);
 signals:
  void rendered(QImage image, QString error);

 private:
  std::unique_ptr<OffscreenVolumeRenderer> renderer_;
};

class VolumeRenderView : public QWidget {
  Q_OBJECT
 public:
  VolumeRenderView(SliceViewModel* slices, OverlayModel* overlay, QWidget* parent = nullptr);
  ~VolumeRenderView() override;
  QImage image() const { return image_; }
  bool isBusy() const { return rendering_ || composing_; }
  double azimuth() const { return azimuth_; }
  void setAngles(double azimuth, double elevation);

 signals:
  void frameShown();  // a new rendering is on screen
  void requestRender(std::shared_ptr<const al::Volume> rgba, QSize size, double azimuth, double elevation);

 protected:
  void paintEvent(QPaintEvent* event) override;
  void showEvent(QShowEvent* event) override;
  void resizeEvent(QResizeEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void mouseReleaseEvent(QMouseEvent* event) override;

 private:
  void scheduleCompose();
  void compose();
  void scheduleRender();
  void onRendered(const QImage& image, const QString& error);

  SliceViewModel* slices_;
  OverlayModel* overlay_;
  QThread thread_;
  VolumeRenderWorker* worker_;
  std::shared_ptr<const Volume> rgba_;
  QImage image_;
  QString message_;
  double azimuth_ = 30.0, elevation_ = 20.0;
  bool rendering_ = false, renderPending_ = false, composing_ = false, composePending_ = false, dragging_ = false;
  QPointF lastPos_;
  class QTimer* composeTimer_;
};

}  // namespace al::ui

Q_DECLARE_METATYPE(std::shared_ptr<const al::Volume>)
