#include "render3d/VolumeRenderView.h"

#include <QFutureWatcher>
#include <QMouseEvent>
#include <QPainter>
#include <QTimer>
#include <QtConcurrent/QtConcurrentRun>
#include <algorithm>

#include "errors/Error.h"
#include "overlay/OverlayModel.h"
#include "render3d/VolumeComposer.h"
#include "sliceview/SliceViewModel.h"

namespace al::ui {

void VolumeRenderWorker::render(std::shared_ptr<const Volume> rgba, QSize size, double azimuth, double elevation) {
  try {
    if (!renderer_) renderer_ = std::make_unique<OffscreenVolumeRenderer>();
    emit rendered(renderer_->renderRgba(*rgba, {size, azimuth, elevation, 0}), QString());
  } catch (const Error& e) {
    emit rendered(QImage(), QString::fromStdString(e.message()));
  } catch (const std::exception& e) {
    emit rendered(QImage(), QString::fromLatin1(e.what()));
  }
}

VolumeRenderView::VolumeRenderView(SliceViewModel* slices, OverlayModel* overlay, QWidget* parent)
    : QWidget(parent), slices_(slices), overlay_(overlay), worker_(new VolumeRenderWorker), composeTimer_(new QTimer(this)) {
  qRegisterMetaType<std::shared_ptr<const al::Volume>>();
  setMinimumSize(120, 120);
  setToolTip(tr("3D: the scan and its heatmap. Drag to turn."));
  worker_->moveToThread(&thread_);
  connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
  connect(this, &VolumeRenderView::requestRender, worker_, &VolumeRenderWorker::render, Qt::QueuedConnection);
  connect(worker_, &VolumeRenderWorker::rendered, this, &VolumeRenderView::onRendered, Qt::QueuedConnection);
  thread_.start();
  composeTimer_->setSingleShot(true);
  composeTimer_->setInterval(150);  // a window/level drag recomposes once it pauses
  connect(composeTimer_, &QTimer::timeout, this, &VolumeRenderView::compose);
  connect(slices_, &SliceViewModel::volumeChanged, this, &VolumeRenderView::scheduleCompose);
  connect(slices_, &SliceViewModel::windowLevelChanged, this, &VolumeRenderView::scheduleCompose);
  connect(overlay_, &OverlayModel::changed, this, &VolumeRenderView::scheduleCompose);
  if (!OffscreenVolumeRenderer::displayAvailable()) message_ = tr("The 3D view needs an X display.");
}

VolumeRenderView::~VolumeRenderView() {
  thread_.quit();
  thread_.wait();
}

void VolumeRenderView::setAngles(double azimuth, double elevation) {
  azimuth_ = azimuth;
  elevation_ = std::clamp(elevation, -89.0, 89.0);
  scheduleRender();
}

void VolumeRenderView::showEvent(QShowEvent*) { scheduleCompose(); }

void VolumeRenderView::resizeEvent(QResizeEvent*) { scheduleRender(); }

void VolumeRenderView::scheduleCompose() {
  // Hidden, it does nothing: the fusion and rendering happen when it is shown.
  if (!isVisible() || !slices_->hasVolume() || !OffscreenVolumeRenderer::displayAvailable()) return;
  composeTimer_->start();
}

void VolumeRenderView::compose() {
  if (composing_) {
    composePending_ = true;
    return;
  }
  if (!slices_->hasVolume()) return;
  composing_ = true;
  ComposeOptions o;
  o.channel = slices_->channel();
  o.window = slices_->window();
  o.level = slices_->level();
  std::shared_ptr<const inference::ScanAnalysis> analysis;
  if (overlay_->hasMap() && overlay_->isVisible()) {
    analysis = overlay_->analysis();  // keeps the map alive while the worker reads it
    o.map = &analysis->maps.at(overlay_->mapName().toStdString());
    const auto r = overlay_->range(-1);
    o.mapLo = r.lo;
    o.mapHi = r.hi;
    o.hideBelow = overlay_->threshold();
    o.colormap = overlay_->colormap();
  }
  auto scan = slices_->volume();
  auto* watcher = new QFutureWatcher<std::shared_ptr<const Volume>>(this);
  connect(watcher, &QFutureWatcher<std::shared_ptr<const Volume>>::finished, this, [this, watcher] {
    rgba_ = watcher->result();
    watcher->deleteLater();
    composing_ = false;
    if (composePending_) {
      composePending_ = false;
      compose();
    }
    scheduleRender();
  });
  watcher->setFuture(QtConcurrent::run([scan, analysis, o] { return std::shared_ptr<const Volume>(std::make_shared<Volume>(composeRgba(*scan, o))); }));
}

void VolumeRenderView::scheduleRender() {
  if (!rgba_ || !isVisible()) return;
  if (rendering_) {
    renderPending_ = true;
    return;
  }
  rendering_ = true;
  // Smaller frames while turning keep up with the mouse; full size once it stops.
  const double scale = dragging_ ? 0.5 : 1.0;
  const QSize size(std::max(64, static_cast<int>(width() * devicePixelRatioF() * scale)),
                   std::max(64, static_cast<int>(height() * devicePixelRatioF() * scale)));
  emit requestRender(rgba_, size, azimuth_, elevation_);
}

void VolumeRenderView::onRendered(const QImage& image, const QString& error) {
  rendering_ = false;
  image_ = image;
  message_ = error;
  update();
  emit frameShown();
  if (renderPending_) {
    renderPending_ = false;
    scheduleRender();
  }
}

void VolumeRenderView::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), Qt::black);
  if (!image_.isNull()) {
    const QSizeF s = image_.size().scaled(size(), Qt::KeepAspectRatio);
    p.setRenderHint(QPainter::SmoothPixmapTransform);
    p.drawImage(QRectF(QPointF((width() - s.width()) / 2, (height() - s.height()) / 2), s), image_);
  }
  p.setPen(QColor(230, 200, 60));
  p.drawText(rect().adjusted(6, 4, -6, -4), Qt::AlignTop | Qt::AlignLeft, tr("3D"));
  if (!message_.isEmpty()) {
    p.setPen(QColor(180, 180, 180));
    p.drawText(rect().adjusted(8, 8, -8, -8), Qt::AlignCenter | Qt::TextWordWrap, message_);
  } else if (isBusy() && image_.isNull()) {
    p.setPen(QColor(180, 180, 180));
    p.drawText(rect(), Qt::AlignCenter, tr("Rendering..."));
  }
}

void VolumeRenderView::mousePressEvent(QMouseEvent* event) {
  dragging_ = event->button() == Qt::LeftButton;
  lastPos_ = event->position();
}

void VolumeRenderView::mouseMoveEvent(QMouseEvent* event) {
  if (!dragging_) return;
  const QPointF d = event->position() - lastPos_;
  lastPos_ = event->position();
  setAngles(azimuth_ - d.x() * 0.5, elevation_ + d.y() * 0.5);
}

void VolumeRenderView::mouseReleaseEvent(QMouseEvent*) {
  dragging_ = false;
  scheduleRender();
}

}  // namespace al::ui
