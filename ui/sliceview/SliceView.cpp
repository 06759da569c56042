#include "sliceview/SliceView.h"

#include <QKeyEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QWheelEvent>
#include <cmath>

namespace al::ui {

SliceView::SliceView(SliceViewModel* model, QWidget* parent) : QWidget(parent), model_(model) {
  setMouseTracking(true);
  setFocusPolicy(Qt::StrongFocus);
  setMinimumSize(200, 200);
  setAutoFillBackground(false);
  connect(model_, &SliceViewModel::volumeChanged, this, &SliceView::refreshImage);
  connect(model_, &SliceViewModel::sliceChanged, this, &SliceView::refreshImage);
  connect(model_, &SliceViewModel::windowLevelChanged, this, &SliceView::refreshImage);
  connect(model_, &SliceViewModel::viewChanged, this, qOverload<>(&QWidget::update));
}

void SliceView::refreshImage() {
  image_ = model_->renderSlice();
  update();
}

void SliceView::paintEvent(QPaintEvent*) {
  QPainter painter(this);
  painter.fillRect(rect(), Qt::black);
  if (image_.isNull()) {
    painter.setPen(QColor(160, 160, 160));
    painter.drawText(rect(), Qt::AlignCenter, tr("Open a scan: File > Open, or drop a file here"));
    return;
  }
  // Smooth when minified, nearest-neighbour when magnified so that voxels stay visible.
  const QRectF target = model_->imageRect(size());
  painter.setRenderHint(QPainter::SmoothPixmapTransform, target.width() < image_.width());
  painter.drawImage(target, image_);
  painter.setPen(QColor(230, 200, 60));
  painter.drawText(rect().adjusted(8, 6, -8, -6), Qt::AlignTop | Qt::AlignLeft,
                   tr("Slice %1 / %2").arg(model_->slice() + 1).arg(model_->sliceCount()));
  painter.drawText(rect().adjusted(8, 6, -8, -6), Qt::AlignBottom | Qt::AlignLeft,
                   tr("W %1  L %2").arg(model_->window(), 0, 'g', 4).arg(model_->level(), 0, 'g', 4));
}

void SliceView::wheelEvent(QWheelEvent* event) {
  if (event->modifiers() & Qt::ControlModifier) {
    const double factor = std::pow(1.0015, event->angleDelta().y());
    model_->zoomBy(factor, event->position(), size());
  } else {
    // 120 units is one notch; touchpads send fractions of it.
    wheelRemainder_ += event->angleDelta().y();
    const int steps = wheelRemainder_ / 120;
    wheelRemainder_ -= steps * 120;
    model_->scrollSlices(-steps);
    reportProbe(event->position());
  }
  event->accept();
}

void SliceView::mousePressEvent(QMouseEvent* event) {
  lastPos_ = event->position();
  if (event->button() == Qt::MiddleButton ||
      (event->button() == Qt::LeftButton && (event->modifiers() & Qt::ShiftModifier))) {
    drag_ = Drag::Pan;
  } else if (event->button() == Qt::LeftButton) {
    drag_ = Drag::WindowLevel;
  }
}

void SliceView::mouseMoveEvent(QMouseEvent* event) {
  const QPointF delta = event->position() - lastPos_;
  lastPos_ = event->position();
  if (drag_ == Drag::WindowLevel) model_->dragWindowLevel(delta);
  if (drag_ == Drag::Pan) model_->panBy(delta);
  reportProbe(event->position());
}

void SliceView::mouseReleaseEvent(QMouseEvent*) { drag_ = Drag::None; }

void SliceView::keyPressEvent(QKeyEvent* event) {
  switch (event->key()) {
    case Qt::Key_Up:
    case Qt::Key_PageUp: model_->scrollSlices(event->key() == Qt::Key_PageUp ? -10 : -1); break;
    case Qt::Key_Down:
    case Qt::Key_PageDown: model_->scrollSlices(event->key() == Qt::Key_PageDown ? 10 : 1); break;
    case Qt::Key_Home: model_->setSlice(0); break;
    case Qt::Key_End: model_->setSlice(model_->sliceCount() - 1); break;
    case Qt::Key_R:
      model_->resetView();
      model_->resetWindowLevel();
      break;
    default: QWidget::keyPressEvent(event); return;
  }
}

void SliceView::reportProbe(QPointF pos) {
  if (const auto p = model_->probe(pos, size())) emit probed(model_->describeProbe(*p));
}

}  // namespace al::ui
