#include "sliceview/SliceScrollBar.h"

#include <QMouseEvent>
#include <QPainter>
#include <algorithm>
#include <cmath>

#include "overlay/OverlayModel.h"
#include "roc/RocModel.h"
#include "sliceview/SliceViewModel.h"

namespace al::ui {

namespace {
constexpr double kMargin = 6.0;
}

SliceScrollBar::SliceScrollBar(SliceViewModel* slices, OverlayModel* overlay, RocModel* labels, QWidget* parent)
    : QWidget(parent), slices_(slices), overlay_(overlay), labels_(labels) {
  setFixedWidth(22);
  setToolTip(tr("Slices: orange marks those the model flags; dots are labels (red abnormal, green healthy). Click to jump."));
  auto repaint = [this] { update(); };
  connect(slices_, &SliceViewModel::volumeChanged, this, repaint);
  connect(slices_, &SliceViewModel::sliceChanged, this, repaint);
  connect(overlay_, &OverlayModel::changed, this, repaint);
  connect(labels_, &RocModel::changed, this, repaint);
}

double SliceScrollBar::yOf(int slice) const {
  const int n = std::max(1, slices_->sliceCount());
  return kMargin + (height() - 2 * kMargin) * (slice + 0.5) / n;
}

int SliceScrollBar::sliceAt(double y) const {
  const int n = slices_->sliceCount();
  if (n <= 0) return 0;
  const double f = (y - kMargin) / std::max(1.0, height() - 2 * kMargin);
  return std::clamp(static_cast<int>(std::floor(f * n)), 0, n - 1);
}

void SliceScrollBar::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), palette().window());
  const QRectF track(width() / 2.0 - 3, kMargin, 6, height() - 2 * kMargin);
  p.fillRect(track, palette().mid());
  const int n = slices_->sliceCount();
  if (n <= 0) return;
  const double step = track.height() / n;
  for (int z : overlay_->flaggedSlices()) {
    if (z >= n) continue;
    p.fillRect(QRectF(1, yOf(z) - std::max(1.0, step / 2), width() / 2.0 - 2, std::max(2.0, step)), QColor(255, 140, 0));
  }
  p.setRenderHint(QPainter::Antialiasing);
  for (int z = 0; z < std::min(n, labels_->sliceCount()); ++z) {
    const int l = labels_->label(z);
    if (l < 0) continue;
    p.setBrush(l == 1 ? QColor(220, 50, 50) : QColor(60, 170, 80));
    p.setPen(Qt::NoPen);
    p.drawEllipse(QPointF(width() * 0.75, yOf(z)), 2.5, 2.5);
  }
  const double y = yOf(slices_->slice());
  p.setPen(QPen(palette().highlight().color(), 2));
  p.setBrush(Qt::NoBrush);
  p.drawRect(QRectF(1, y - std::max(2.0, step / 2), width() - 2, std::max(4.0, step)));
}

void SliceScrollBar::mousePressEvent(QMouseEvent* event) { slices_->setSlice(sliceAt(event->position().y())); }

void SliceScrollBar::mouseMoveEvent(QMouseEvent* event) {
  if (event->buttons() & Qt::LeftButton) slices_->setSlice(sliceAt(event->position().y()));
}

}  // namespace al::ui
