#include "sliceview/SliceView.h"

#include "annotations/AnnotationModel.h"
#include "overlay/OverlayModel.h"

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

void SliceView::setOverlay(OverlayModel* overlay) {
  if (overlay_) disconnect(overlay_, nullptr, this, nullptr);
  overlay_ = overlay;
  if (overlay_) connect(overlay_, &OverlayModel::changed, this, &SliceView::refreshOverlay);
  refreshOverlay();
}

void SliceView::setAnnotations(AnnotationModel* annotations) {
  if (annotations_) disconnect(annotations_, nullptr, this, nullptr);
  annotations_ = annotations;
  if (annotations_) {
    connect(annotations_, &AnnotationModel::changed, this, qOverload<>(&QWidget::update));
    connect(annotations_, &AnnotationModel::toolChanged, this, [this](AnnotationModel::Tool tool) {
      setCursor(tool == AnnotationModel::Tool::None ? Qt::ArrowCursor : Qt::CrossCursor);
    });
  }
  update();
}

void SliceView::paintAnnotations(QPainter& painter, QSizeF panel) {
  if (!annotations_ || !annotations_->scan()) return;
  const int slice = model_->slice();
  painter.setRenderHint(QPainter::Antialiasing, true);
  auto draw = [&](const Annotation& a, const QString& label, bool draft) {
    if (a.kind == AnnotationKind::Flag || a.points.size() < 2) return;
    const QPointF p0 = model_->toWidget(QPointF(a.points[0][0], a.points[0][1]), panel);
    const QPointF p1 = model_->toWidget(QPointF(a.points[1][0], a.points[1][1]), panel);
    const QColor colour = a.kind == AnnotationKind::Distance ? QColor(255, 230, 60) : QColor(80, 220, 255);
    painter.setPen(QPen(colour, 1.5, draft ? Qt::DashLine : Qt::SolidLine));
    painter.setBrush(Qt::NoBrush);
    QPointF labelAt;
    if (a.kind == AnnotationKind::Distance) {
      painter.drawLine(p0, p1);
      painter.drawEllipse(p0, 3, 3);
      painter.drawEllipse(p1, 3, 3);
      labelAt = (p0 + p1) / 2 + QPointF(6, -6);
    } else {
      const QRectF box = QRectF(p0, p1).normalized();
      painter.drawEllipse(box);
      labelAt = box.bottomRight() + QPointF(4, 0);
    }
    if (!label.isEmpty()) {
      painter.setPen(Qt::black);
      painter.drawText(labelAt + QPointF(1, 1), label);
      painter.setPen(colour);
      painter.drawText(labelAt, label);
    }
  };
  for (int i : annotations_->onSlice(slice)) {
    const QString text = annotations_->describe(i);
    draw(annotations_->annotations()[static_cast<std::size_t>(i)], text.section(QLatin1Char(','), 0, 1), false);
  }
  if (const auto& d = annotations_->draft(); d && d->slice == slice) draw(*d, QString(), true);
  painter.setRenderHint(QPainter::Antialiasing, false);
}

void SliceView::setComparing(bool on) {
  if (on == compare_) return;
  compare_ = on;
  update();
}

bool SliceView::showsContrasts() const {
  return model_->contrastCount() > 1 && !(compare_ && overlay_ && overlay_->hasMap());
}

int SliceView::panelCount() const {
  if (compare_ && overlay_ && overlay_->hasMap()) return overlay_->hasReconstruction() ? 3 : 2;
  return std::max(1, std::min(model_->contrastCount(), 6));
}

int SliceView::panelColumns() const {
  // Contrasts fill a grid (2x2 for four) unless the view is much wider than tall.
  const int n = panelCount();
  if (!showsContrasts() || n <= 2) return n;
  const int square = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(n))));
  return width() > 2 * height() ? n : square;
}

QPointF SliceView::panelOffset(int panel) const {
  const int cols = panelColumns();
  const QSizeF s = panelSize();
  return {(panel % cols) * s.width(), (panel / cols) * s.height()};
}

int SliceView::panelAt(QPointF widgetPos) const {
  const QSizeF s = panelSize();
  const int col = std::clamp(static_cast<int>(widgetPos.x() / s.width()), 0, panelColumns() - 1);
  const int row = std::max(0, static_cast<int>(widgetPos.y() / s.height()));
  return std::clamp(row * panelColumns() + col, 0, panelCount() - 1);
}

QSizeF SliceView::panelSize() const {
  const int cols = panelColumns();
  const int rows = (panelCount() + cols - 1) / cols;
  return QSizeF(width() / static_cast<double>(cols), height() / static_cast<double>(rows));
}

QPointF SliceView::toPanel(QPointF widgetPos) const { return widgetPos - panelOffset(panelAt(widgetPos)); }

void SliceView::refreshImage() {
  image_ = model_->renderSlice();
  contrastImages_.clear();
  if (model_->contrastCount() > 1)
    for (int ch = 0; ch < model_->contrastCount(); ++ch) contrastImages_.push_back(model_->renderSlice(ch));
  refreshOverlay();
}

void SliceView::refreshOverlay() {
  overlayImage_ = QImage();
  reconstructionImage_ = QImage();
  if (overlay_ && model_->hasVolume()) {
    overlayImage_ = overlay_->renderOverlay(model_->slice());
    // The map must lie on the slice's grid; a map of another scan is never drawn.
    if (!overlayImage_.isNull() && overlayImage_.size() != image_.size()) overlayImage_ = QImage();
    if (compare_) reconstructionImage_ = overlay_->renderReconstruction(model_->slice());
  }
  update();
}

QImage SliceView::renderToImage() {
  QImage out(size(), QImage::Format_RGB32);
  QPainter painter(&out);
  paintView(painter);
  return out;
}

void SliceView::paintEvent(QPaintEvent*) {
  QPainter painter(this);
  paintView(painter);
}

void SliceView::paintView(QPainter& painter) {
  painter.fillRect(rect(), Qt::black);
  if (image_.isNull()) {
    painter.setPen(QColor(160, 160, 160));
    painter.drawText(rect(), Qt::AlignCenter, tr("Open a scan: File > Open, or drop a file here"));
    return;
  }
  if (compare_ && reconstructionImage_.isNull() && overlay_ && overlay_->hasReconstruction())
    reconstructionImage_ = overlay_->renderReconstruction(model_->slice());
  const int panels = panelCount();
  const QSizeF panel = panelSize();
  const QRectF target = model_->imageRect(panel);
  // Smooth when minified, nearest-neighbour when magnified so that voxels stay visible.
  painter.setRenderHint(QPainter::SmoothPixmapTransform, target.width() < image_.width());
  const bool heatmap = overlay_ && overlay_->isVisible() && !overlayImage_.isNull();
  for (int i = 0; i < panels; ++i) {
    const QPointF offset = panelOffset(i);
    painter.save();
    painter.setClipRect(QRectF(offset, panel));
    painter.translate(offset);
    const bool contrasts = showsContrasts();
    const bool mapPanel = !contrasts && panels > 1 && i == panels - 1;
    const bool reconstructionPanel = !contrasts && panels == 3 && i == 1;
    if (contrasts) {
      if (i < static_cast<int>(contrastImages_.size())) painter.drawImage(target, contrastImages_[static_cast<std::size_t>(i)]);
    } else if (reconstructionPanel && !reconstructionImage_.isNull() && reconstructionImage_.size() == image_.size()) {
      painter.drawImage(target, reconstructionImage_);
    } else if (!mapPanel) {
      painter.drawImage(target, image_);
    }
    // The single view (and each contrast) shows the heatmap over the image; the comparison shows
    // it alone (on black) in its last panel, so the input panel stays clean.
    if (heatmap && (contrasts || panels == 1 || mapPanel)) painter.drawImage(target, overlayImage_);
    paintAnnotations(painter, panel);
    painter.setPen(QColor(230, 200, 60));
    if (panels > 1) {
      const QString title = contrasts ? model_->channelName(i) + (i == model_->channel() ? QStringLiteral(" *") : QString())
                            : i == 0  ? tr("Input")
                            : reconstructionPanel ? tr("Reconstruction")
                                                  : overlay_->mapName();
      painter.drawText(QRectF(QPointF(0, 0), panel).adjusted(8, 6, -8, -6), Qt::AlignTop | Qt::AlignRight, title);
    }
    painter.restore();
  }
  const QRectF all = QRectF(rect()).adjusted(8, 6, -8, -6);
  painter.setPen(QColor(230, 200, 60));
  QString top = tr("Slice %1 / %2").arg(model_->slice() + 1).arg(model_->sliceCount());
  painter.drawText(all, Qt::AlignTop | Qt::AlignLeft, top);
  if (overlay_ && overlay_->analysis()) {
    const QString verdict = overlay_->verdict(model_->slice());
    painter.setPen(overlay_->sliceFlagged(model_->slice()) ? QColor(255, 110, 90) : QColor(120, 220, 140));
    painter.drawText(all.adjusted(0, painter.fontMetrics().height() + 2, 0, 0), Qt::AlignTop | Qt::AlignLeft, verdict);
    if (!overlay_->isVisible()) {
      painter.setPen(QColor(160, 160, 160));
      painter.drawText(all.adjusted(0, 2 * (painter.fontMetrics().height() + 2), 0, 0), Qt::AlignTop | Qt::AlignLeft,
                       tr("heatmap hidden (H shows it)"));
    }
  }
  if (annotations_ && annotations_->isFlagged(model_->slice())) {
    painter.setPen(QColor(255, 150, 40));
    painter.drawText(all.adjusted(0, 0, -90, 0), Qt::AlignBottom | Qt::AlignRight, tr("\u2691 flagged image"));
  }
  painter.setPen(QColor(230, 200, 60));
  painter.drawText(all, Qt::AlignBottom | Qt::AlignLeft,
                   tr("W %1  L %2").arg(model_->window(), 0, 'g', 4).arg(model_->level(), 0, 'g', 4));
  if (heatmap) paintColourBar(painter, QRectF(width() - 70, height() * 0.2, 60, height() * 0.6));
}

void SliceView::paintColourBar(QPainter& painter, const QRectF& area) {
  const auto colours = overlay_->colours();
  QImage bar(1, 256, QImage::Format_RGB32);
  for (int i = 0; i < 256; ++i) bar.setPixel(0, 255 - i, colours[i]);
  const QRectF strip(area.left(), area.top(), 14, area.height());
  painter.setRenderHint(QPainter::SmoothPixmapTransform, true);
  painter.drawImage(strip, bar);
  painter.setPen(QColor(200, 200, 200));
  painter.drawRect(strip);
  const auto r = overlay_->range(model_->slice());
  const QRectF labels(strip.right() + 4, area.top() - 8, area.width() - 18, area.height() + 16);
  painter.drawText(labels, Qt::AlignTop | Qt::AlignLeft, QString::number(r.hi, 'g', 3));
  painter.drawText(labels, Qt::AlignBottom | Qt::AlignLeft, QString::number(r.lo, 'g', 3));
  if (overlay_->threshold() > 0) {
    const double y = strip.bottom() - overlay_->threshold() * strip.height();
    painter.setPen(QPen(Qt::white, 2));
    painter.drawLine(QPointF(strip.left() - 3, y), QPointF(strip.right() + 3, y));
  }
  painter.setPen(QColor(200, 200, 200));
  painter.drawText(QRectF(area.left() - 40, strip.bottom() + 10, area.width() + 40, 40), Qt::AlignTop | Qt::AlignRight | Qt::TextWordWrap,
                   overlay_->rangeLabel(model_->slice()));
}

void SliceView::wheelEvent(QWheelEvent* event) {
  if (event->modifiers() & Qt::ControlModifier) {
    const double factor = std::pow(1.0015, event->angleDelta().y());
    model_->zoomBy(factor, toPanel(event->position()), panelSize());
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
  if (annotations_ && annotations_->tool() != AnnotationModel::Tool::None && event->button() == Qt::LeftButton &&
      model_->hasVolume()) {
    drag_ = Drag::Annotate;
    annotations_->begin(model_->slice(), model_->toVoxel(toPanel(event->position()), panelSize()));
    return;
  }
  // Side by side contrasts: window/level goes to the contrast clicked.
  if (showsContrasts()) model_->setChannel(panelAt(event->position()));
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
  if (drag_ == Drag::Annotate) annotations_->drag(model_->toVoxel(toPanel(event->position()), panelSize()));
  reportProbe(event->position());
}

void SliceView::mouseReleaseEvent(QMouseEvent*) {
  if (drag_ == Drag::Annotate) annotations_->finish();
  drag_ = Drag::None;
}

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
  auto p = model_->probe(toPanel(pos), panelSize());
  if (!p) return;
  if (showsContrasts()) {
    const int ch = panelAt(pos);
    p->value = model_->volume()->value(p->x, p->y, p->z, ch);
  }
  QString text = model_->describeProbe(*p);
  if (overlay_ && overlay_->hasMap()) {
    const Volume& map = overlay_->analysis()->maps.at(overlay_->mapName().toStdString());
    if (map.size() == model_->volume()->size())
      text += QStringLiteral("  %1 %2").arg(overlay_->mapName()).arg(map.value(p->x, p->y, p->z), 0, 'g', 4);
  }
  emit probed(text);
}

}  // namespace al::ui
