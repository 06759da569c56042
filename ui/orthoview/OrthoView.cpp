#include "orthoview/OrthoView.h"

#include <QGridLayout>
#include <QMouseEvent>
#include <QPainter>
#include <QWheelEvent>

#include "orthoview/OrthoViewModel.h"

namespace al::ui {

OrthoView::OrthoView(OrthoViewModel* model, QWidget* render3d, QWidget* parent) : QWidget(parent) {
  auto* grid = new QGridLayout(this);
  grid->setContentsMargins(0, 0, 0, 0);
  grid->setSpacing(2);
  // Axial-type plane (the slice view's) top left, then the two others, the 3D view last.
  const int order[3] = {2, 1, 0};
  for (int i = 0; i < 3; ++i) {
    planes_[order[i]] = new PlaneView(model, order[i], this);
    grid->addWidget(planes_[order[i]], i / 2, i % 2);
  }
  if (render3d) grid->addWidget(render3d, 1, 1);
  setStyleSheet(QStringLiteral("background: #202020;"));
}

PlaneView::PlaneView(OrthoViewModel* model, int plane, QWidget* parent) : QWidget(parent), model_(model), plane_(plane) {
  setMinimumSize(120, 120);
  setCursor(Qt::CrossCursor);
  connect(model_, &OrthoViewModel::changed, this, qOverload<>(&QWidget::update));
}

QRectF PlaneView::imageRect() const {
  const QSize s = model_->planeSize(plane_);
  if (s.isEmpty()) return {};
  const double w = s.width(), h = s.height() * model_->pixelAspect(plane_);
  const double fit = std::min(width() / w, height() / h);
  const QSizeF size(w * fit, h * fit);
  return {QPointF((width() - size.width()) / 2, (height() - size.height()) / 2), size};
}

void PlaneView::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), Qt::black);
  if (!model_->hasVolume()) return;
  const QRectF r = imageRect();
  const QImage image = model_->renderPlane(plane_);
  p.setRenderHint(QPainter::SmoothPixmapTransform, r.width() < image.width());
  p.drawImage(r, image);
  const QImage heat = model_->renderPlaneOverlay(plane_);
  if (!heat.isNull()) p.drawImage(r, heat);
  // The crosshair through the cursor, with a gap at the cursor itself.
  const QSize s = model_->planeSize(plane_);
  const QPointF c = model_->cursorInPlane(plane_);
  const QPointF at(r.left() + c.x() / s.width() * r.width(), r.top() + c.y() / s.height() * r.height());
  p.setPen(QPen(QColor(80, 200, 255, 200), 1));
  p.drawLine(QPointF(r.left(), at.y()), QPointF(at.x() - 6, at.y()));
  p.drawLine(QPointF(at.x() + 6, at.y()), QPointF(r.right(), at.y()));
  p.drawLine(QPointF(at.x(), r.top()), QPointF(at.x(), at.y() - 6));
  p.drawLine(QPointF(at.x(), at.y() + 6), QPointF(at.x(), r.bottom()));
  p.setPen(QColor(230, 200, 60));
  p.drawText(rect().adjusted(6, 4, -6, -4), Qt::AlignTop | Qt::AlignLeft,
             QStringLiteral("%1  %2 / %3").arg(model_->planeName(plane_)).arg(model_->cursor(plane_) + 1).arg(model_->axisLength(plane_)));
}

void PlaneView::moveCursor(QPointF pos) {
  const QRectF r = imageRect();
  if (r.isEmpty()) return;
  const QSize s = model_->planeSize(plane_);
  model_->setCursorFromPlane(plane_, {(pos.x() - r.left()) / r.width() * s.width(), (pos.y() - r.top()) / r.height() * s.height()});
}

void PlaneView::mousePressEvent(QMouseEvent* event) {
  if (event->button() == Qt::LeftButton) moveCursor(event->position());
}

void PlaneView::mouseMoveEvent(QMouseEvent* event) {
  if (event->buttons() & Qt::LeftButton) moveCursor(event->position());
}

void PlaneView::wheelEvent(QWheelEvent* event) {
  wheelRemainder_ += event->angleDelta().y();
  const int steps = wheelRemainder_ / 120;
  wheelRemainder_ -= steps * 120;
  if (steps) model_->scroll(plane_, -steps);
  event->accept();
}

}  // namespace al::ui
