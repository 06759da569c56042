#include "modelspanel/ModelsPanel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollBar>
#include <QSignalBlocker>
#include <QSlider>
#include <QTextBrowser>
#include <QTreeWidget>
#include <QVBoxLayout>
#include <cmath>

#include "modelspanel/ModelsModel.h"
#include "overlay/OverlayModel.h"

namespace al::ui {

ModelsPanel::ModelsPanel(ModelsModel* models, OverlayModel* overlay, QWidget* parent)
    : QWidget(parent), models_(models), overlay_(overlay) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);

  list_ = new QTreeWidget(this);
  list_->setObjectName(QStringLiteral("modelList"));
  list_->setHeaderLabels({tr("Model"), tr("Method"), tr("Test AUC"), tr("Threshold")});
  list_->setRootIsDecorated(false);
  list_->setAlternatingRowColors(true);
  list_->header()->setSectionResizeMode(QHeaderView::ResizeToContents);
  list_->setMinimumHeight(110);
  layout->addWidget(list_);
  problems_ = new QLabel(this);
  problems_->setObjectName(QStringLiteral("problems"));
  problems_->setWordWrap(true);
  problems_->setStyleSheet(QStringLiteral("color: #b04010;"));
  problems_->hide();
  layout->addWidget(problems_);

  // The card's details scroll in a box of their own: notes can be long.
  details_ = new QTextBrowser(this);
  details_->setObjectName(QStringLiteral("details"));
  details_->setOpenLinks(false);
  details_->setMinimumHeight(70);
  details_->setMaximumHeight(130);
  layout->addWidget(details_);

  auto* buttons = new QHBoxLayout;
  run_ = new QPushButton(tr("Run on this scan"), this);
  run_->setToolTip(tr("Run the selected model on the open scan (Ctrl+R)"));
  cancel_ = new QPushButton(tr("Cancel"), this);
  cancel_->setToolTip(tr("Stop the running model (Esc)"));
  train_ = new QPushButton(tr("Train new..."), this);
  train_->setToolTip(tr("Train a model of your own healthy scans (Training > New model)"));
  buttons->addWidget(run_);
  buttons->addWidget(cancel_);
  buttons->addWidget(train_);
  layout->addLayout(buttons);
  progress_ = new QProgressBar(this);
  progress_->setRange(0, 1000);
  progress_->setTextVisible(true);
  layout->addWidget(progress_);
  progressText_ = new QLabel(this);
  layout->addWidget(progressText_);
  result_ = new QLabel(this);
  result_->setObjectName(QStringLiteral("result"));
  result_->setWordWrap(true);
  result_->setAlignment(Qt::AlignTop | Qt::AlignLeft);
  result_->setMinimumHeight(3 * result_->fontMetrics().lineSpacing());
  layout->addWidget(result_);

  auto* box = new QGroupBox(tr("Heatmap"), this);
  auto* form = new QFormLayout(box);
  show_ = new QCheckBox(tr("Show (H)"), box);
  show_->setChecked(overlay_->isVisible());
  form->addRow(show_);
  map_ = new QComboBox(box);
  form->addRow(tr("Map"), map_);
  colormap_ = new QComboBox(box);
  for (const char* name : {"inferno", "jet", "hot"}) colormap_->addItem(QString::fromLatin1(name));
  form->addRow(tr("Colours"), colormap_);
  normalisation_ = new QComboBox(box);
  normalisation_->addItem(tr("Calibrated (healthy range)"), QStringLiteral("calibrated"));
  normalisation_->addItem(tr("Per volume"), QStringLiteral("volume"));
  normalisation_->addItem(tr("Per image"), QStringLiteral("image"));
  normalisation_->setToolTip(tr("Calibrated: colour starts at the healthy 99th percentile of the model's map, so a colour "
                                "means the same in every patient. Per volume / per image: the scan's own range."));
  form->addRow(tr("Scale"), normalisation_);
  opacity_ = new QSlider(Qt::Horizontal, box);
  opacity_->setRange(0, 100);
  form->addRow(tr("Opacity"), opacity_);
  threshold_ = new QSlider(Qt::Horizontal, box);
  threshold_->setRange(0, 95);
  threshold_->setToolTip(tr("Hide map values below this share of the colour scale"));
  form->addRow(tr("Hide below"), threshold_);
  compare_ = new QCheckBox(tr("Input | reconstruction | map (C)"), box);
  form->addRow(compare_);
  layout->addWidget(box);
  layout->addStretch(1);

  connect(list_, &QTreeWidget::currentItemChanged, this, [this] {
    details_->setText(models_->details(selectedIndex()));
    refreshButtons();
  });
  connect(list_, &QTreeWidget::itemDoubleClicked, this, [this] { runSelected(); });
  connect(run_, &QPushButton::clicked, this, &ModelsPanel::runSelected);
  connect(train_, &QPushButton::clicked, this, &ModelsPanel::trainRequested);
  connect(cancel_, &QPushButton::clicked, models_, &ModelsModel::cancel);
  connect(models_, &ModelsModel::modelsChanged, this, &ModelsPanel::refreshList);
  connect(models_, &ModelsModel::runStarted, this, [this](int index) {
    progress_->setValue(0);
    progressText_->setText(tr("Starting %1 on %2").arg(QString::fromStdString(models_->entries()[static_cast<std::size_t>(index)].card.name),
                                                      ModelsModel::deviceDescription()));
    refreshButtons();
  });
  connect(models_, &ModelsModel::progressChanged, this, [this](double f, const QString& stage, const QString& eta) {
    progress_->setValue(static_cast<int>(std::lround(f * 1000)));
    progressText_->setText(eta.isEmpty() ? stage : stage + QStringLiteral(", ") + eta);
  });
  connect(models_, &ModelsModel::finished, this, [this](int, std::shared_ptr<const inference::ScanAnalysis> a) {
    progress_->setValue(1000);
    progressText_->setText(tr("Done in %1 s on %2").arg(a->seconds, 0, 'f', 1).arg(ModelsModel::deviceDescription()));
    refreshButtons();
  });
  connect(models_, &ModelsModel::failed, this, [this](const QString& message) {
    progressText_->setText(message);
    refreshButtons();
  });
  connect(models_, &ModelsModel::superseded, this, [this] {
    progress_->setValue(0);
    progressText_->clear();
    refreshButtons();
  });
  connect(models_, &ModelsModel::cancelled, this, [this] {
    progress_->setValue(0);
    progressText_->setText(tr("Cancelled"));
    refreshButtons();
  });

  connect(show_, &QCheckBox::toggled, overlay_, &OverlayModel::setVisible);
  connect(map_, &QComboBox::currentTextChanged, overlay_, &OverlayModel::setMapName);
  connect(colormap_, &QComboBox::currentTextChanged, this,
          [this](const QString& name) { overlay_->setColormap(render::colormapFromString(name.toStdString())); });
  connect(normalisation_, &QComboBox::currentIndexChanged, this, [this] {
    overlay_->setNormalisation(OverlayModel::normalisationFromString(normalisation_->currentData().toString()));
  });
  connect(opacity_, &QSlider::valueChanged, this, [this](int v) { overlay_->setOpacity(v / 100.0); });
  connect(threshold_, &QSlider::valueChanged, this, [this](int v) { overlay_->setThreshold(v / 100.0); });
  connect(compare_, &QCheckBox::toggled, this, &ModelsPanel::compareToggled);
  connect(overlay_, &OverlayModel::analysisChanged, this, &ModelsPanel::refreshOverlayControls);
  connect(overlay_, &OverlayModel::changed, this, &ModelsPanel::refreshOverlayControls);
  refreshList();
  refreshOverlayControls();
}

int ModelsPanel::selectedIndex() const {
  const QTreeWidgetItem* item = list_->currentItem();
  return item ? item->data(0, Qt::UserRole).toInt() : -1;
}

void ModelsPanel::select(int index) {
  for (int i = 0; i < list_->topLevelItemCount(); ++i)
    if (list_->topLevelItem(i)->data(0, Qt::UserRole).toInt() == index) list_->setCurrentItem(list_->topLevelItem(i));
}

void ModelsPanel::runSelected() { models_->run(selectedIndex()); }

QString ModelsPanel::resultText() const { return result_->text(); }

void ModelsPanel::refreshList() {
  const int selected = selectedIndex();
  list_->clear();
  for (int i = 0; i < models_->count(); ++i) {
    const auto& e = models_->entries()[static_cast<std::size_t>(i)];
    auto* item = new QTreeWidgetItem(list_);
    item->setData(0, Qt::UserRole, i);
    item->setText(0, QString::fromStdString(e.card.name));
    item->setText(1, QString::fromStdString(models::displayName(e.card.kind)));
    item->setToolTip(1, tr("%1 model for %2").arg(QString::fromStdString(models::displayName(e.card.kind)), QString::fromStdString(e.modality)));
    item->setText(2, e.testAuc ? QString::number(*e.testAuc, 'f', 2) : QStringLiteral("-"));
    item->setText(3, e.card.threshold ? QString::number(*e.card.threshold, 'g', 3) : QStringLiteral("-"));
    const QString why = models_->hasScan() ? models_->compatibility(i) : QString();
    item->setToolTip(0, why.isEmpty() ? QString::fromStdString(e.card.description) : tr("Cannot run on this scan: %1").arg(why));
    if (!why.isEmpty())
      for (int c = 0; c < 4; ++c) item->setForeground(c, palette().brush(QPalette::Disabled, QPalette::Text));
  }
  if (selected >= 0 && selected < models_->count()) {
    select(selected);
  } else if (models_->hasScan()) {
    select(models_->suggested());
  } else if (models_->count() > 0) {
    select(0);
  }
  // As tall as its rows: the room below goes to the details and the heatmap controls.
  const int rows = std::max(1, list_->topLevelItemCount());
  const int rowHeight = list_->topLevelItemCount() > 0 ? list_->sizeHintForRow(0) : list_->fontMetrics().height() + 4;
  list_->setMaximumHeight(list_->header()->sizeHint().height() + rows * rowHeight + 2 * list_->frameWidth() +
                          list_->horizontalScrollBar()->sizeHint().height() + 4);
  // Cards that could not be read are named, not silently left out.
  const QStringList problems = models_->problems();
  problems_->setVisible(!problems.isEmpty());
  problems_->setText(tr("%n model card(s) could not be read: %1", nullptr, static_cast<int>(problems.size())).arg(problems.join(QStringLiteral("; "))));
  if (models_->count() == 0) details_->setText(tr("No models found. Bundled models live in share/anomalylens/models."));
  refreshButtons();
}

void ModelsPanel::refreshButtons() {
  const bool running = models_->isRunning();
  const QString why = models_->compatibility(selectedIndex());
  run_->setEnabled(!running && why.isEmpty());
  run_->setToolTip(why.isEmpty() ? tr("Run the selected model on the open scan (Ctrl+R)") : why);
  cancel_->setEnabled(running);
  progress_->setVisible(running || progress_->value() > 0);
}

void ModelsPanel::refreshOverlayControls() {
  const QSignalBlocker b1(map_), b2(colormap_), b3(normalisation_), b4(opacity_), b5(threshold_), b6(show_);
  const QStringList names = overlay_->mapNames();
  QStringList have;
  for (int i = 0; i < map_->count(); ++i) have << map_->itemText(i);
  if (have != names) {
    map_->clear();
    map_->addItems(names);
  }
  map_->setCurrentText(overlay_->mapName());
  colormap_->setCurrentText(QString::fromStdString(render::toString(overlay_->colormap())));
  normalisation_->setCurrentIndex(normalisation_->findData(OverlayModel::toString(overlay_->normalisation())));
  opacity_->setValue(static_cast<int>(std::lround(overlay_->opacity() * 100)));
  threshold_->setValue(static_cast<int>(std::lround(overlay_->threshold() * 100)));
  show_->setChecked(overlay_->isVisible());
  const auto& a = overlay_->analysis();
  if (!a) {
    result_->setText(tr("No model run on this scan yet."));
    return;
  }
  const auto flagged = overlay_->flaggedSlices();
  int scored = 0;
  for (double s : a->sliceScores) scored += std::isnan(s) ? 0 : 1;
  QString text = tr("<b>%1</b>: scan score %2").arg(QString::fromStdString(a->modelName).toHtmlEscaped()).arg(a->scanScore, 0, 'g', 4);
  if (const auto t = overlay_->scoreThreshold()) {
    text += a->scanScore >= *t ? tr(", <span style='color:#d04020'>above</span> the threshold %1").arg(*t, 0, 'g', 4)
                               : tr(", within the healthy range (threshold %1)").arg(*t, 0, 'g', 4);
    text += tr("; %1 of %2 slices flagged").arg(flagged.size()).arg(scored);
  }
  for (const auto& w : a->warnings) text += QStringLiteral("<br><i>%1</i>").arg(QString::fromStdString(w).toHtmlEscaped());
  result_->setText(text);
}

}  // namespace al::ui
