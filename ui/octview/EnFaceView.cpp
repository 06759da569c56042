#include "octview/EnFaceView.h"

#include <QMouseEvent>
#include <QPainter>

#include "octview/EnFaceModel.h"
#include "sliceview/SliceViewModel.h"

namespace al::ui {

EnFaceView::EnFaceView(EnFaceModel* model, SliceViewModel* slices, QWidget* parent)
    : QWidget(parent), model_(model), slices_(slices) {
  setMinimumSize(160, 160);
  setCursor(Qt::CrossCursor);
  connect(model_, &EnFaceModel::changed, this, qOverload<>(&QWidget::update));
  connect(slices_, &SliceViewModel::sliceChanged, this, qOverload<>(&QWidget::update));
}

QRectF EnFaceView::imageRect() const {
  if (!model_->hasImage()) return {};
  const double w = model_->image().width(), h = model_->image().height() * model_->pixelAspect();
  const double scale = std::min(width() / w, height() / h);
  const QSizeF size(w * scale, h * scale);
  return QRectF(QPointF((width() - size.width()) / 2, (height() - size.height()) / 2), size);
}

void EnFaceView::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), Qt::black);
  if (!model_->hasImage()) return;
  const QRectF r = imageRect();
  p.setRenderHint(QPainter::SmoothPixmapTransform);
  p.drawImage(r, model_->image());
  const double sx = r.width() / model_->image().width(), sy = r.height() / model_->image().height();
  auto toWidget = [&](QPointF q) { return QPointF(r.left() + q.x() * sx, r.top() + q.y() * sy); };
  // Every B-scan faintly, the current one bright.
  p.setPen(QPen(QColor(80, 160, 255, 60), 1));
  for (int i = 0; i < model_->bscanCount(); ++i) {
    const QLineF l = model_->bscanLine(i);
    p.drawLine(toWidget(l.p1()), toWidget(l.p2()));
  }
  const QLineF current = model_->bscanLine(slices_->slice());
  if (!current.isNull()) {
    p.setPen(QPen(QColor(60, 255, 120), 2));
    p.drawLine(toWidget(current.p1()), toWidget(current.p2()));
  }
  p.setPen(QColor(230, 200, 60));
  p.drawText(rect().adjusted(6, 4, -6, -4), Qt::AlignTop | Qt::AlignLeft,
             model_->usesFundus() ? tr("Fundus") : tr("En-face projection"));
}

void EnFaceView::jumpTo(QPointF widgetPos) {
  const QRectF r = imageRect();
  if (r.isEmpty()) return;
  const QPointF image((widgetPos.x() - r.left()) * model_->image().width() / r.width(),
                      (widgetPos.y() - r.top()) * model_->image().height() / r.height());
  const int bscan = model_->bscanAt(image);
  if (bscan >= 0) slices_->setSlice(bscan);
}

void EnFaceView::mousePressEvent(QMouseEvent* event) {
  if (event->button() == Qt::LeftButton) jumpTo(event->position());
}

void EnFaceView::mouseMoveEvent(QMouseEvent* event) {
  if (event->buttons() & Qt::LeftButton) jumpTo(event->position());
}

}  // namespace al::ui
