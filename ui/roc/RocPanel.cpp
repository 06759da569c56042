#include "roc/RocPanel.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QVBoxLayout>
#include <qcustomplot.h>

#include "roc/RocModel.h"

namespace al::ui {

RocPanel::RocPanel(RocModel* model, QWidget* parent) : QWidget(parent), model_(model) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  roc_ = new QCustomPlot(this);
  roc_->setObjectName(QStringLiteral("roc"));
  roc_->setMinimumSize(200, 190);
  roc_->xAxis->setLabel(tr("1 - specificity"));
  roc_->yAxis->setLabel(tr("sensitivity"));
  roc_->xAxis->setRange(0, 1);
  roc_->yAxis->setRange(0, 1);
  roc_->addGraph();  // the curve
  roc_->graph(0)->setPen(QPen(QColor(40, 90, 200), 2));
  roc_->graph(0)->setLineStyle(QCPGraph::lsLine);
  roc_->addGraph();  // chance
  roc_->graph(1)->setPen(QPen(Qt::gray, 1, Qt::DashLine));
  roc_->graph(1)->setData({0, 1}, {0, 1});
  roc_->addGraph();  // operating point
  roc_->graph(2)->setLineStyle(QCPGraph::lsNone);
  roc_->graph(2)->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, QColor(220, 60, 40), 9));
  layout->addWidget(roc_, 1);

  hist_ = new QCustomPlot(this);
  hist_->setObjectName(QStringLiteral("histogram"));
  hist_->setMinimumSize(200, 170);
  hist_->xAxis->setLabel(tr("slice score (drag to set the threshold)"));
  hist_->yAxis->setLabel(tr("slices"));
  auto* healthy = new QCPBars(hist_->xAxis, hist_->yAxis);
  healthy->setName(tr("healthy"));
  healthy->setBrush(QColor(60, 170, 80, 150));
  healthy->setPen(Qt::NoPen);
  auto* abnormal = new QCPBars(hist_->xAxis, hist_->yAxis);
  abnormal->setName(tr("abnormal"));
  abnormal->setBrush(QColor(220, 50, 50, 150));
  abnormal->setPen(Qt::NoPen);
  auto* unlabelled = new QCPBars(hist_->xAxis, hist_->yAxis);
  unlabelled->setName(tr("unlabelled"));
  unlabelled->setBrush(QColor(150, 150, 150, 120));
  unlabelled->setPen(Qt::NoPen);
  auto* group = new QCPBarsGroup(hist_);
  healthy->setBarsGroup(group);
  abnormal->setBarsGroup(group);
  unlabelled->setBarsGroup(group);
  hist_->legend->setVisible(true);
  hist_->legend->setFont(QFont(font().family(), std::max(7, font().pointSize() - 2)));
  hist_->legend->setRowSpacing(0);
  hist_->legend->setIconSize(10, 8);
  hist_->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
  auto* line = new QCPItemStraightLine(hist_);
  line->setPen(QPen(QColor(220, 60, 40), 2));
  line->setObjectName(QStringLiteral("threshold"));
  layout->addWidget(hist_, 1);

  summary_ = new QLabel(this);
  summary_->setWordWrap(true);
  layout->addWidget(summary_);
  buttons_ = new QWidget(this);
  auto* buttons = new QHBoxLayout(buttons_);
  buttons->setContentsMargins(0, 0, 0, 0);
  auto* youden = new QPushButton(tr("Best (Youden)"), this);
  youden->setToolTip(tr("Set the threshold that maximises sensitivity + specificity on these slices"));
  auto* card = new QPushButton(tr("Model's threshold"), this);
  card->setToolTip(tr("Back to the threshold on the model's card"));
  buttons->addWidget(youden);
  buttons->addWidget(card);
  layout->addWidget(buttons_);
  connect(youden, &QPushButton::clicked, this, [this] {
    if (model_->hasCurve()) model_->setThreshold(model_->youden());
  });
  connect(card, &QPushButton::clicked, this, [this] {
    if (cardThreshold_) model_->setThreshold(*cardThreshold_);
  });

  connect(hist_, &QCustomPlot::mousePress, this, [this](QMouseEvent* e) {
    dragging_ = e->button() == Qt::LeftButton;
    dragTo(e);
  });
  connect(hist_, &QCustomPlot::mouseMove, this, [this](QMouseEvent* e) {
    if (dragging_) dragTo(e);
  });
  connect(hist_, &QCustomPlot::mouseRelease, this, [this] { dragging_ = false; });
  connect(model_, &RocModel::changed, this, &RocPanel::refresh);
  refresh();
}

double RocPanel::thresholdAtPixel(double x) const { return hist_->xAxis->pixelToCoord(x); }

void RocPanel::dragTo(QMouseEvent* event) {
  if (model_->sliceCount() == 0) return;
  const auto [lo, hi] = model_->scoreRange();
  model_->setThreshold(std::clamp(thresholdAtPixel(event->position().x()), lo, hi));
}

void RocPanel::refresh() {
  QVector<double> fpr, tpr;
  for (const auto& p : model_->curve()) {
    fpr << p.fpr;
    tpr << p.tpr;
  }
  roc_->graph(0)->setData(fpr, tpr, true);
  roc_->graph(0)->setName(tr("AUC %1").arg(model_->auc(), 0, 'f', 3));
  if (const auto op = model_->operatingPoint())
    roc_->graph(2)->setData({op->first}, {op->second});
  else
    roc_->graph(2)->data()->clear();
  roc_->legend->setVisible(model_->hasCurve());
  roc_->graph(1)->removeFromLegend();
  roc_->graph(2)->removeFromLegend();
  roc_->replot(QCustomPlot::rpQueuedReplot);

  const auto h = model_->histogram(20);
  QVector<double> centres;
  for (std::size_t i = 0; i + 1 < h.edges.size(); ++i) centres << (h.edges[i] + h.edges[i + 1]) / 2;
  const double width = h.edges.size() > 1 ? (h.edges[1] - h.edges[0]) : 1.0;
  int top = 1;
  const std::vector<int>* series[] = {&h.healthy, &h.abnormal, &h.unlabelled};
  for (int k = 0; k < 3; ++k) {
    auto* bars = qobject_cast<QCPBars*>(hist_->plottable(k));
    QVector<double> values;
    for (int v : *series[k]) {
      values << v;
      top = std::max(top, v);
    }
    bars->setWidth(width / 3.2);
    bars->setData(centres, values, true);
  }
  if (!h.edges.empty()) hist_->xAxis->setRange(h.edges.front() - width / 2, h.edges.back() + width / 2);
  hist_->yAxis->setRange(0, top * 1.1);
  auto* line = qobject_cast<QCPItemStraightLine*>(hist_->item(0));
  line->setVisible(model_->threshold().has_value());
  if (const auto t = model_->threshold()) {
    line->point1->setCoords(*t, 0);
    line->point2->setCoords(*t, 1);
  }
  hist_->replot(QCustomPlot::rpQueuedReplot);
  summary_->setText(model_->summary());
}

void RocPanel::setThresholdButtonsVisible(bool visible) { buttons_->setVisible(visible); }

}  // namespace al::ui
