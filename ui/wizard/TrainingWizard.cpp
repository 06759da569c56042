#include "wizard/TrainingWizard.h"

#include <QAbstractButton>
#include <QApplication>
#include <QClipboard>
#include <QComboBox>
#include <QDateTime>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMessageBox>
#include <QPainter>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollArea>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QTableWidget>
#include <QTextBrowser>
#include <QTimer>
#include <QVBoxLayout>
#include <QWizardPage>
#include <cmath>
#include <qcustomplot.h>

#include "roc/RocPanel.h"
#include "wizard/TrainingRunner.h"
#include "wizard/TrainingWizardModel.h"

namespace al::ui {

using Role = training::DataRole;

namespace {

QLabel* wrapped(const QString& text, QWidget* parent) {
  auto* l = new QLabel(text, parent);
  l->setWordWrap(true);
  l->setTextInteractionFlags(Qt::TextSelectableByMouse);
  return l;
}

QPixmap pixmapOf(const QImage& img, int height) {
  return QPixmap::fromImage(img.scaledToHeight(height, Qt::SmoothTransformation));
}

// ---- Method ---------------------------------------------------------------------------------------

class MethodPage : public QWizardPage {
 public:
  explicit MethodPage(TrainingWizardModel* m) : model_(m) {
    setTitle(tr("Method"));
    setSubTitle(tr("Which kind of model to train on your healthy scans."));
    list_ = new QListWidget(this);
    list_->setObjectName(QStringLiteral("methods"));
    for (const auto& key : TrainingWizardModel::methodKeys()) {
      auto* item = new QListWidgetItem(TrainingWizardModel::methodTitle(key), list_);
      item->setData(Qt::UserRole, key);
    }
    list_->setMaximumWidth(180);
    details_ = new QTextBrowser(this);
    config_ = new QComboBox(this);
    config_->setObjectName(QStringLiteral("config"));
    for (const auto& c : TrainingWizardModel::configs()) config_->addItem(TrainingWizardModel::configText(c), c);
    auto* row = new QHBoxLayout;
    row->addWidget(list_);
    row->addWidget(details_, 1);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(row, 1);
    auto* form = new QFormLayout;
    form->addRow(tr("Configuration:"), config_);
    layout->addLayout(form);
    connect(list_, &QListWidget::currentRowChanged, this, [this](int current) {
      if (current < 0) return;
      model_->setMethod(list_->item(current)->data(Qt::UserRole).toString());
      details_->setHtml(TrainingWizardModel::methodHtml(model_->method()));
    });
    connect(config_, &QComboBox::currentIndexChanged, this,
            [this] { model_->setConfig(config_->currentData().toString()); });
  }
  void initializePage() override {
    const int row = TrainingWizardModel::methodKeys().indexOf(model_->method());
    list_->setCurrentRow(row);
    details_->setHtml(TrainingWizardModel::methodHtml(model_->method()));
    config_->setCurrentIndex(TrainingWizardModel::configs().indexOf(model_->config()));
  }

 private:
  TrainingWizardModel* model_;
  QListWidget* list_;
  QTextBrowser* details_;
  QComboBox* config_;
};

// ---- Data -----------------------------------------------------------------------------------------

class SourceBox : public QGroupBox {
 public:
  SourceBox(const QString& title, const QString& help, Role role, TrainingWizardModel* m, TrainingWizard* wizard, QWidget* parent)
      : QGroupBox(title, parent), role_(role), model_(m) {
    const QString tag = role == Role::Healthy ? QStringLiteral("healthy") : role == Role::Mixed ? QStringLiteral("mixed") : QStringLiteral("validation");
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(wrapped(help, this));
    list_ = new QListWidget(this);
    list_->setObjectName(tag + QStringLiteral("Sources"));
    list_->setMaximumHeight(64);
    layout->addWidget(list_);
    auto* row = new QHBoxLayout;
    path_ = new QLineEdit(this);
    path_->setObjectName(tag + QStringLiteral("Path"));
    path_->setPlaceholderText(tr("A folder, scan or manifest (type or paste, then Add)"));
    auto* add = new QPushButton(tr("Add"), this);
    add->setObjectName(tag + QStringLiteral("Add"));
    auto* folder = new QPushButton(tr("Folder..."), this);
    auto* file = new QPushButton(tr("File or manifest..."), this);
    auto* open = new QPushButton(tr("Open scan"), this);
    open->setToolTip(tr("Add the scan open in the viewer"));
    auto* series = new QPushButton(tr("Selected series"), this);
    series->setObjectName(tag + QStringLiteral("Series"));
    series->setToolTip(tr("Add the series selected in the study browser (Ctrl-click selects several)"));
    auto* remove = new QPushButton(tr("Remove"), this);
    for (QWidget* w : {static_cast<QWidget*>(path_), static_cast<QWidget*>(add), static_cast<QWidget*>(folder),
                       static_cast<QWidget*>(file), static_cast<QWidget*>(open), static_cast<QWidget*>(series),
                       static_cast<QWidget*>(remove)})
      row->addWidget(w, w == path_ ? 1 : 0);
    layout->addLayout(row);
    status_ = wrapped(QString(), this);
    status_->setObjectName(tag + QStringLiteral("Status"));
    layout->addWidget(status_);
    thumbs_ = new QListWidget(this);
    thumbs_->setViewMode(QListView::IconMode);
    thumbs_->setIconSize(QSize(72, 72));
    thumbs_->setFlow(QListView::LeftToRight);
    thumbs_->setWrapping(false);
    thumbs_->setMaximumHeight(104);
    layout->addWidget(thumbs_);
    connect(add, &QPushButton::clicked, this, [this] {
      model_->addSource(role_, path_->text().trimmed());
      path_->clear();
    });
    connect(path_, &QLineEdit::returnPressed, add, &QPushButton::click);
    connect(folder, &QPushButton::clicked, this, [this] {
      const QString d = QFileDialog::getExistingDirectory(this, tr("Folder of scans"));
      if (!d.isEmpty()) model_->addSource(role_, d);
    });
    connect(file, &QPushButton::clicked, this, [this] {
      const QString f = QFileDialog::getOpenFileName(this, tr("Scan or manifest"), QString(),
                                                     tr("Scans and manifests (*.json *.csv *.nii *.nii.gz *.mha *.mhd *.dcm *.vol *.png *.jpg *.jpeg *.tif *.tiff);;All files (*)"));
      if (!f.isEmpty()) model_->addSource(role_, f);
    });
    connect(open, &QPushButton::clicked, this, [this, wizard] { model_->addSource(role_, wizard->openScan()); });
    connect(series, &QPushButton::clicked, this, [this, wizard] {
      const QString problem = model_->addSeries(role_, wizard->selectedSeries());
      if (!problem.isEmpty()) status_->setText(problem);
    });
    connect(remove, &QPushButton::clicked, this, [this] { model_->removeSource(role_, list_->currentRow()); });
  }
  void refresh() {
    list_->clear();
    list_->addItems(model_->sources(role_));
    const auto r = model_->report(role_);
    QString text = model_->reportText(role_);
    if (r && !r->problems.empty()) {
      QStringList lines;
      for (const auto& p : r->problems) lines << QString::fromStdString(p).toHtmlEscaped();
      text = QStringLiteral("<span style='color:#c0392b'>%1</span>").arg(lines.join(QStringLiteral("<br>")));
    } else {
      text = text.toHtmlEscaped().replace(QLatin1Char('\n'), QStringLiteral("<br>"));
    }
    status_->setText(text);
    thumbs_->clear();
    for (const auto& t : model_->thumbnails(role_)) new QListWidgetItem(QIcon(pixmapOf(t.image, 72)), t.id, thumbs_);
  }

 private:
  Role role_;
  TrainingWizardModel* model_;
  QListWidget* list_;
  QLineEdit* path_;
  QLabel* status_;
  QListWidget* thumbs_;
};

class DataPage : public QWizardPage {
 public:
  DataPage(TrainingWizardModel* m, TrainingWizard* wizard) : model_(m) {
    setTitle(tr("Data"));
    setSubTitle(tr("Every case is read and checked against the method before any training starts."));
    auto* layout = new QVBoxLayout(this);
    healthy_ = new SourceBox(tr("Healthy training data"),
                             tr("Scans without disease; a manifest's \"train\" split, or every case of a folder."),
                             Role::Healthy, m, wizard, this);
    mixed_ = new SourceBox(tr("Mixed set (A2B-GAN)"),
                           tr("Unlabelled scans, healthy and diseased: A2B-GAN learns to turn these into healthy-looking ones."),
                           Role::Mixed, m, wizard, this);
    val_ = new SourceBox(tr("Validation data"),
                         tr("Labelled (or with lesion masks) for an AUC and the Youden threshold; healthy only gives a "
                            "percentile threshold. A manifest's \"val\" split."),
                         Role::Validation, m, wizard, this);
    layout->addWidget(healthy_);
    layout->addWidget(mixed_);
    layout->addWidget(val_);
    auto* classRow = new QHBoxLayout;
    classRow->addWidget(new QLabel(tr("Healthy class of class-folder data:"), this));
    healthyClass_ = new QLineEdit(m->healthyClass(), this);
    healthyClass_->setObjectName(QStringLiteral("healthyClass"));
    healthyClass_->setToolTip(tr("For ROOT/{train,val,test}/CLASS/ layouts (OCT2017 and the like): the class folder that holds "
                                 "healthy scans (default NORMAL); the other classes are abnormal, kept out of training and "
                                 "labelled abnormal in validation"));
    classRow->addWidget(healthyClass_, 1);
    layout->addLayout(classRow);
    connect(healthyClass_, &QLineEdit::editingFinished, this, [this] { model_->setHealthyClass(healthyClass_->text()); });
    problem_ = wrapped(QString(), this);
    problem_->setObjectName(QStringLiteral("dataProblem"));
    layout->addWidget(problem_);
    debounce_ = new QTimer(this);
    debounce_->setSingleShot(true);
    debounce_->setInterval(250);
    connect(debounce_, &QTimer::timeout, model_, &TrainingWizardModel::checkData);
    connect(model_, &TrainingWizardModel::sourcesChanged, this, [this] {
      refresh();
      debounce_->start();
    });
    connect(model_, &TrainingWizardModel::dataChecked, this, [this] { refresh(); });
  }
  void initializePage() override {
    mixed_->setVisible(model_->needsMixedSet());
    refresh();
    if (!model_->isDataChecked()) debounce_->start();
  }
  bool isComplete() const override { return model_->dataProblem().isEmpty(); }

 private:
  void refresh() {
    healthy_->refresh();
    mixed_->refresh();
    val_->refresh();
    problem_->setText(model_->dataProblem());
    emit completeChanged();
  }
  TrainingWizardModel* model_;
  SourceBox *healthy_, *mixed_, *val_;
  QLineEdit* healthyClass_;
  QLabel* problem_;
  QTimer* debounce_;
};

// ---- Preview --------------------------------------------------------------------------------------

class PreviewPage : public QWizardPage {
 public:
  explicit PreviewPage(TrainingWizardModel* m) : model_(m) {
    setTitle(tr("Preprocessing preview"));
    setSubTitle(tr("The engine's own pipeline on a few of your healthy scans: check the flattening, the brain "
                   "mask and the intensities before hours of training."));
    auto* layout = new QVBoxLayout(this);
    steps_ = wrapped(QString(), this);
    layout->addWidget(steps_);
    auto* scroll = new QScrollArea(this);
    scroll->setWidgetResizable(true);
    auto* inner = new QWidget(scroll);
    grid_ = new QGridLayout(inner);
    scroll->setWidget(inner);
    layout->addWidget(scroll, 1);
    connect(model_, &TrainingWizardModel::previewReady, this, [this] { refresh(); });
  }
  void initializePage() override {
    steps_->setText(tr("Steps: %1.").arg(model_->pipelineText()));
    clear();
    grid_->addWidget(new QLabel(tr("Preparing..."), this), 0, 0);
    model_->preparePreview();
  }
  bool isComplete() const override {
    return !model_->isPreparingPreview() && model_->previewError().isEmpty() && !model_->preview().isEmpty();
  }

 private:
  void clear() {
    while (QLayoutItem* item = grid_->takeAt(0)) {
      delete item->widget();
      delete item;
    }
  }
  void refresh() {
    clear();
    if (!model_->previewError().isEmpty()) {
      auto* l = wrapped(tr("The pipeline failed: %1").arg(model_->previewError()), this);
      l->setStyleSheet(QStringLiteral("color:#c0392b"));
      grid_->addWidget(l, 0, 0, 1, 2);
    }
    int row = 0;
    grid_->addWidget(new QLabel(tr("<b>As read</b>"), this), row, 0);
    grid_->addWidget(new QLabel(tr("<b>What the model sees</b> (green: retina / brain)"), this), row++, 1);
    for (const auto& item : model_->preview()) {
      auto* a = new QLabel(this);
      a->setPixmap(pixmapOf(item.original, 200));
      auto* b = new QLabel(this);
      b->setPixmap(pixmapOf(item.prepared, 200));
      grid_->addWidget(a, row, 0);
      grid_->addWidget(b, row++, 1);
      grid_->addWidget(wrapped(item.caption, this), row++, 0, 1, 2);
    }
    emit completeChanged();
  }
  TrainingWizardModel* model_;
  QLabel* steps_;
  QGridLayout* grid_;
};

// ---- Settings -------------------------------------------------------------------------------------

class SettingsPage : public QWizardPage {
 public:
  explicit SettingsPage(TrainingWizardModel* m) : model_(m) {
    setTitle(tr("Settings"));
    setSubTitle(tr("The paper's schedule is filled in; hover over a value to see where it comes from."));
    setCommitPage(true);
    setButtonText(QWizard::CommitButton, tr("Train"));
    name_ = new QLineEdit(this);
    name_->setObjectName(QStringLiteral("name"));
    description_ = new QLineEdit(this);
    stages_ = new QTableWidget(0, 2, this);
    stages_->setObjectName(QStringLiteral("stages"));
    stages_->setHorizontalHeaderLabels({tr("Stage"), tr("Iterations")});
    stages_->horizontalHeader()->setStretchLastSection(true);
    stages_->verticalHeader()->hide();
    stages_->setMaximumHeight(110);
    params_ = new QTableWidget(0, 2, this);
    params_->setObjectName(QStringLiteral("hyperParameters"));
    params_->setHorizontalHeaderLabels({tr("Hyper-parameter"), tr("Value")});
    params_->horizontalHeader()->setStretchLastSection(true);
    params_->horizontalHeader()->setSectionResizeMode(0, QHeaderView::ResizeToContents);
    params_->verticalHeader()->hide();
    checkpoint_ = new QSpinBox(this);
    checkpoint_->setObjectName(QStringLiteral("checkpointEvery"));
    checkpoint_->setRange(1, 1000000);
    checkpoint_->setValue(200);
    checkpoint_->setToolTip(tr("A checkpoint every this many iterations: a crash loses at most this much"));
    validate_ = new QSpinBox(this);
    validate_->setObjectName(QStringLiteral("validateEvery"));
    validate_->setRange(0, 1000000);
    validate_->setValue(250);
    validate_->setToolTip(tr("Validation AUC every this many iterations of the scoring stage (0: only at the end); "
                             "the best model by validation AUC is kept"));
    seed_ = new QSpinBox(this);
    seed_->setObjectName(QStringLiteral("seed"));
    seed_->setRange(0, 1 << 30);
    seed_->setValue(1);
    seed_->setToolTip(tr("The same seed, data and device give the same losses"));
    device_ = new QComboBox(this);
    device_->addItems(TrainingWizardModel::devices());
    device_->setToolTip(TrainingWizardModel::deviceText());
    problem_ = wrapped(QString(), this);
    problem_->setStyleSheet(QStringLiteral("color:#c0392b"));
    auto* form = new QFormLayout;
    form->addRow(tr("Name:"), name_);
    form->addRow(tr("Description:"), description_);
    form->addRow(tr("Stages:"), stages_);
    form->addRow(tr("Checkpoint every:"), checkpoint_);
    form->addRow(tr("Validate every:"), validate_);
    form->addRow(tr("Seed:"), seed_);
    form->addRow(tr("Device:"), device_);
    form->addRow(QString(), wrapped(TrainingWizardModel::deviceText(), this));
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(params_, 1);
    layout->addWidget(problem_);
    connect(name_, &QLineEdit::textChanged, this, [this](const QString& t) {
      model_->setName(t);
      problem_->setText(model_->settingsProblem());
      emit completeChanged();
    });
  }
  void initializePage() override {
    stages_->setRowCount(0);
    for (const auto& st : model_->stages()) {
      const int r = stages_->rowCount();
      stages_->insertRow(r);
      auto* name = new QTableWidgetItem(st.name);
      name->setFlags(Qt::ItemIsEnabled);
      name->setToolTip(st.description);
      stages_->setItem(r, 0, name);
      if (st.fitPass) {
        auto* pass = new QTableWidgetItem(tr("one pass over the data"));
        pass->setFlags(Qt::ItemIsEnabled);
        pass->setToolTip(st.description);
        stages_->setItem(r, 1, pass);
        continue;
      }
      auto* spin = new QSpinBox(stages_);
      spin->setObjectName(QStringLiteral("iterations_") + st.name);
      spin->setRange(1, 10000000);
      spin->setValue(static_cast<int>(st.iterations));
      spin->setToolTip(tr("%1\nThe paper trains %2 iterations.").arg(st.description).arg(st.paperIterations));
      stages_->setCellWidget(r, 1, spin);
    }
    params_->setRowCount(0);
    for (const auto& h : model_->hyperParameters()) {
      const int r = params_->rowCount();
      params_->insertRow(r);
      auto* key = new QTableWidgetItem(h.key);
      key->setFlags(Qt::ItemIsEnabled);
      key->setToolTip(h.tooltip);
      auto* value = new QTableWidgetItem(h.value);
      value->setToolTip(h.tooltip);
      params_->setItem(r, 0, key);
      params_->setItem(r, 1, value);
    }
    if (name_->text().isEmpty())
      name_->setText(model_->method() + QLatin1Char('-') + (model_->takesMri() ? QStringLiteral("mri") : QStringLiteral("oct")) +
                     QLatin1Char('-') + QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmm")));
    problem_->setText(model_->settingsProblem());
  }
  bool isComplete() const override { return model_->settingsProblem().isEmpty(); }
  bool validatePage() override {
    for (int r = 0; r < stages_->rowCount(); ++r)
      if (auto* spin = qobject_cast<QSpinBox*>(stages_->cellWidget(r, 1)))
        model_->setIterations(stages_->item(r, 0)->text(), spin->value());
    for (int r = 0; r < params_->rowCount(); ++r) {
      const QString error = model_->setHyperParameter(params_->item(r, 0)->text(), params_->item(r, 1)->text().trimmed());
      if (!error.isEmpty()) {
        problem_->setText(error);
        return false;
      }
    }
    model_->setCheckpointEvery(checkpoint_->value());
    model_->setValidateEvery(validate_->value());
    model_->setSeed(static_cast<std::uint64_t>(seed_->value()));
    model_->setDevice(device_->currentText());
    model_->setDescription(description_->text());
    try {
      model_->prepareRun();
    } catch (const std::exception& e) {
      problem_->setText(QString::fromUtf8(e.what()));
      return false;
    }
    return true;
  }

 private:
  TrainingWizardModel* model_;
  QLineEdit *name_, *description_;
  QTableWidget *stages_, *params_;
  QSpinBox *checkpoint_, *validate_, *seed_;
  QComboBox* device_;
  QLabel* problem_;
};

// ---- Run ------------------------------------------------------------------------------------------

class RunPage : public QWizardPage {
 public:
  RunPage(TrainingWizardModel* m, TrainingRunner* r) : model_(m), runner_(r) {
    setTitle(tr("Training"));
    setSubTitle(tr("Runs in the background: the viewer stays usable. Closing the window stops with a checkpoint."));
    plot_ = new QCustomPlot(this);
    plot_->setObjectName(QStringLiteral("lossPlot"));
    plot_->setMinimumHeight(200);
    plot_->xAxis->setLabel(tr("iteration"));
    plot_->yAxis->setLabel(tr("loss"));
    plot_->legend->setVisible(true);
    plot_->legend->setFont(QFont(font().family(), 8));
    // The legend beside the curves, not over them.
    plot_->plotLayout()->addElement(0, 1, plot_->legend);
    plot_->plotLayout()->setColumnStretchFactor(1, 0.001);
    progress_ = new QProgressBar(this);
    progress_->setObjectName(QStringLiteral("progress"));
    progressText_ = wrapped(QString(), this);
    progressText_->setObjectName(QStringLiteral("progressText"));
    validation_ = wrapped(tr("Validation AUC: none yet"), this);
    validation_->setObjectName(QStringLiteral("validation"));
    samples_ = new QLabel(this);
    samples_->setObjectName(QStringLiteral("samples"));
    samples_->setMinimumHeight(90);
    pause_ = new QPushButton(tr("Pause"), this);
    pause_->setObjectName(QStringLiteral("pause"));
    stop_ = new QPushButton(tr("Stop (keep a checkpoint)"), this);
    stop_->setObjectName(QStringLiteral("stop"));
    auto* copy = new QPushButton(tr("Copy command line"), this);
    copy->setObjectName(QStringLiteral("copyCommand"));
    copy->setToolTip(tr("The same run from a terminal: anomalylens-cli train --spec (it continues from the "
                        "checkpoint; close this window first)"));
    log_ = new QPlainTextEdit(this);
    log_->setReadOnly(true);
    log_->setMaximumBlockCount(2000);
    log_->setMaximumHeight(90);
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(pause_);
    buttons->addWidget(stop_);
    buttons->addStretch(1);
    buttons->addWidget(copy);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(plot_, 1);
    layout->addWidget(progress_);
    layout->addWidget(progressText_);
    layout->addWidget(validation_);
    layout->addWidget(samples_);
    layout->addLayout(buttons);
    layout->addWidget(log_);
    replot_ = new QTimer(this);
    replot_->setSingleShot(true);
    replot_->setInterval(250);  // at most four redraws a second however fast the losses come
    connect(replot_, &QTimer::timeout, this, [this] {
      plot_->rescaleAxes();
      plot_->replot(QCustomPlot::rpQueuedReplot);
    });
    connect(pause_, &QPushButton::clicked, this, [this] {
      if (!runner_->isRunning()) {  // stopped: continue from the checkpoint
        start(true);
      } else if (runner_->isPaused()) {
        runner_->resume();
        pause_->setText(tr("Pause"));
      } else {
        runner_->pause();
        pause_->setText(tr("Resume"));
        progressText_->setText(tr("Paused. ") + TrainingRunner::describe(runner_->progress()));
      }
    });
    connect(stop_, &QPushButton::clicked, runner_, &TrainingRunner::cancel);
    connect(copy, &QPushButton::clicked, this, [this] { QApplication::clipboard()->setText(model_->commandLine()); });
    connect(runner_, &TrainingRunner::lossesAdded, this, &RunPage::addLosses);
    connect(runner_, &TrainingRunner::progressed, this, [this] {
      const auto& p = runner_->progress();
      if (p.total > 0) {
        progress_->setRange(0, static_cast<int>(std::min<long>(p.total, 1 << 30)));
        progress_->setValue(static_cast<int>(std::min<long>(p.done, 1 << 30)));
      }
      progressText_->setText((runner_->isPaused() ? tr("Paused. ") : QString()) + TrainingRunner::describe(p));
    });
    connect(runner_, &TrainingRunner::validated, this, [this] {
      QStringList parts;
      for (const auto& v : runner_->validations())
        parts << (v.auc >= 0 ? tr("%1 (it. %2)").arg(v.auc, 0, 'f', 3).arg(v.done)
                             : tr("n/a, healthy median score %1 (it. %2)").arg(v.healthyMedianScore, 0, 'g', 3).arg(v.done)) +
                     (v.best ? QStringLiteral("*") : QString());
      validation_->setText(tr("Validation AUC (* best so far, kept): ") + parts.mid(std::max<int>(0, parts.size() - 6)).join(QStringLiteral(", ")));
    });
    connect(runner_, &TrainingRunner::samplesReady, this, &RunPage::showSamples);
    connect(runner_, &TrainingRunner::logged, this, [this](const QString& line) { log_->appendPlainText(line); });
    connect(runner_, &TrainingRunner::finished, this, [this] {
      progressText_->setText(tr("Finished: %1").arg(QString::fromStdString(runner_->outcome().modelPath)));
      progress_->setValue(progress_->maximum());
      pause_->setEnabled(false);
      stop_->setEnabled(false);
      model_->setOutcome(runner_->outcome());
      emit completeChanged();
    });
    connect(runner_, &TrainingRunner::stopped, this, [this](const QString& ckpt) {
      progressText_->setText(ckpt.isEmpty() ? tr("Stopped before training began.")
                                            : tr("Stopped; checkpoint %1. Continue resumes from it.").arg(ckpt));
      pause_->setText(tr("Continue"));
      stop_->setEnabled(false);
    });
    connect(runner_, &TrainingRunner::failed, this, [this](const QString& message) {
      progressText_->setText(tr("Training failed: %1").arg(message));
      progressText_->setStyleSheet(QStringLiteral("color:#c0392b"));
      pause_->setEnabled(false);
      stop_->setEnabled(false);
    });
  }
  void initializePage() override { start(model_->resumed()); }
  bool isComplete() const override { return runner_->outcome().finished && !runner_->isRunning(); }
  void start(bool resume) {
    plot_->clearGraphs();
    graphs_.clear();
    pause_->setText(tr("Pause"));
    pause_->setEnabled(true);
    stop_->setEnabled(true);
    progressText_->setStyleSheet(QString());
    runner_->start(model_->spec(), resume, model_->lossLogPath());
    addLosses(0);  // a resumed run's earlier losses
  }

 private:
  void addLosses(int first) {
    const auto& all = runner_->losses();
    for (int i = first; i < all.size(); ++i)
      for (const auto& [name, value] : all[i].losses) {
        const QString key = all[i].stage + QLatin1Char(' ') + QString::fromStdString(name);
        QCPGraph*& g = graphs_[key];
        if (!g) {
          g = plot_->addGraph();
          g->setName(key);
          static const QList<QColor> colours = {QColor(31, 119, 180), QColor(255, 127, 14), QColor(44, 160, 44),
                                                QColor(214, 39, 40),  QColor(148, 103, 189), QColor(140, 86, 75),
                                                QColor(227, 119, 194), QColor(127, 127, 127)};
          g->setPen(QPen(colours[static_cast<int>(graphs_.size() - 1) % colours.size()]));
        }
        g->addData(static_cast<double>(all[i].done), value);
      }
    if (!replot_->isActive()) replot_->start();
  }
  void showSamples() {
    const SampleImages& s = runner_->samples();
    const int n = static_cast<int>(s.inputs.size());
    if (n == 0) return;
    const int h = 80;
    const int rows = 1 + (s.reconstructions.isEmpty() ? 0 : 1) + (s.maps.isEmpty() ? 0 : 1);
    const int w = std::max(1, s.inputs[0].width() * h / std::max(1, s.inputs[0].height()));
    QImage canvas((w + 4) * n + 110, (h + 4) * rows, QImage::Format_RGB32);
    canvas.fill(palette().color(QPalette::Window));
    QPainter painter(&canvas);
    auto rowOf = [&](const QList<QImage>& imgs, int r, const QString& label) {
      painter.setPen(palette().color(QPalette::WindowText));
      painter.drawText(QRect(0, r * (h + 4), 106, h), Qt::AlignVCenter | Qt::AlignRight, label);
      for (int i = 0; i < imgs.size(); ++i) painter.drawImage(QRect(110 + i * (w + 4), r * (h + 4), w, h), imgs[i]);
    };
    int r = 0;
    rowOf(s.inputs, r++, tr("validation"));
    if (!s.reconstructions.isEmpty()) rowOf(s.reconstructions, r++, tr("reconstruction"));
    if (!s.maps.isEmpty()) rowOf(s.maps, r++, s.mapName);
    painter.end();
    samples_->setPixmap(QPixmap::fromImage(canvas));
  }
  TrainingWizardModel* model_;
  TrainingRunner* runner_;
  QCustomPlot* plot_;
  std::map<QString, QCPGraph*> graphs_;
  QProgressBar* progress_;
  QLabel *progressText_, *validation_, *samples_;
  QPushButton *pause_, *stop_;
  QPlainTextEdit* log_;
  QTimer* replot_;
};

// ---- Finish ---------------------------------------------------------------------------------------

class FinishPage : public QWizardPage {
 public:
  FinishPage(TrainingWizardModel* m, TrainingWizard* wizard) : model_(m), wizard_(wizard) {
    setTitle(tr("Threshold and save"));
    setSubTitle(tr("The validation scores, and the threshold above which an image is flagged."));
    auto* roc = new RocPanel(model_->roc(), this);
    roc->setThresholdButtonsVisible(false);  // the threshold method below decides; a drag sets one by hand
    method_ = new QComboBox(this);
    method_->setObjectName(QStringLiteral("thresholdMethod"));
    method_->addItem(tr("Percentile of the healthy validation scores"), QStringLiteral("healthy-percentile"));
    method_->addItem(tr("Youden index (needs abnormal validation images)"), QStringLiteral("youden"));
    method_->addItem(tr("Set by dragging in the histogram"), QStringLiteral("manual"));
    name_ = new QLineEdit(this);
    name_->setObjectName(QStringLiteral("saveName"));
    name_->setToolTip(tr("The model's name in the models panel and its file name"));
    percentile_ = new QDoubleSpinBox(this);
    percentile_->setObjectName(QStringLiteral("percentile"));
    percentile_->setRange(50, 100);
    percentile_->setDecimals(1);
    percentile_->setValue(model_->healthyPercentile());
    percentile_->setToolTip(tr("Images scoring above this percentile of the healthy validation images are flagged"));
    summary_ = wrapped(QString(), this);
    summary_->setObjectName(QStringLiteral("finishSummary"));
    error_ = wrapped(QString(), this);
    error_->setStyleSheet(QStringLiteral("color:#c0392b"));
    auto* form = new QFormLayout;
    form->addRow(tr("Threshold:"), method_);
    form->addRow(tr("Healthy percentile (%):"), percentile_);
    form->addRow(tr("Save as:"), name_);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(roc, 1);
    layout->addLayout(form);
    layout->addWidget(summary_);
    layout->addWidget(error_);
    setButtonText(QWizard::FinishButton, tr("Save"));
    connect(method_, &QComboBox::currentIndexChanged, this, [this] {
      model_->setThresholdMethod(method_->currentData().toString());
    });
    connect(name_, &QLineEdit::textChanged, this, [this](const QString& t) {
      model_->setName(t);
      error_->setText(model_->settingsProblem());
      emit completeChanged();
    });
    connect(model_, &TrainingWizardModel::saved, this, [this](const QString& card) {
      saving_ = false;
      saved_ = true;
      emit wizard_->modelSaved(card);
      wizard_->accept();  // validates this page again: now it passes
    });
    connect(model_, &TrainingWizardModel::saveFailed, this, [this](const QString& message) {
      saving_ = false;
      error_->setText(tr("Not saved: %1").arg(message));
      emit completeChanged();
    });
    connect(percentile_, &QDoubleSpinBox::valueChanged, model_, &TrainingWizardModel::setHealthyPercentile);
    connect(model_, &TrainingWizardModel::thresholdChanged, this, [this] { refresh(); });
  }
  void initializePage() override {
    auto* item = qobject_cast<QStandardItemModel*>(method_->model());
    if (item) item->item(1)->setEnabled(model_->hasAbnormalValidation());
    name_->setText(model_->name());
    refresh();
  }
  bool isComplete() const override { return !saving_ && model_->settingsProblem().isEmpty(); }
  // Saving loads and writes the model in a worker; the wizard closes when it is done.
  bool validatePage() override {
    if (saved_) return true;
    if (saving_) return false;
    saving_ = true;
    error_->setText(tr("Saving..."));
    emit completeChanged();
    model_->saveInBackground();
    return false;
  }

 private:
  void refresh() {
    const int i = method_->findData(model_->thresholdMethod());
    const QSignalBlocker block(method_);
    if (i >= 0) method_->setCurrentIndex(i);
    percentile_->setEnabled(model_->thresholdMethod() == QLatin1String("healthy-percentile"));
    summary_->setText(model_->finishText());
  }
  TrainingWizardModel* model_;
  TrainingWizard* wizard_;
  QComboBox* method_;
  QLineEdit* name_;
  QDoubleSpinBox* percentile_;
  QLabel *summary_, *error_;
  bool saving_ = false, saved_ = false;
};

}  // namespace

TrainingWizard::TrainingWizard(QWidget* parent)
    : QWizard(parent), model_(new TrainingWizardModel(this)), runner_(new TrainingRunner(this)) {
  setWindowTitle(tr("Train a new model"));
  setObjectName(QStringLiteral("trainingWizard"));
  setWizardStyle(QWizard::ClassicStyle);
  setOption(QWizard::NoBackButtonOnLastPage, true);
  setOption(QWizard::NoCancelButtonOnLastPage, false);
  resize(900, 760);
  setPage(MethodPageId, new MethodPage(model_));
  setPage(DataPageId, new DataPage(model_, this));
  setPage(PreviewPageId, new PreviewPage(model_));
  setPage(SettingsPageId, new SettingsPage(model_));
  setPage(RunPageId, new RunPage(model_, runner_));
  setPage(FinishPageId, new FinishPage(model_, this));
  auto closeIfAsked = [this] {
    if (closeWhenStopped_) QWizard::reject();
  };
  connect(runner_, &TrainingRunner::stopped, this, closeIfAsked);
  connect(runner_, &TrainingRunner::failed, this, closeIfAsked);
}

TrainingWizard::~TrainingWizard() = default;

void TrainingWizard::resumeRun(const training::CheckpointSummary& run) {
  model_->setResumed(run);
  setStartId(RunPageId);
  restart();
}

bool TrainingWizard::confirm(const QString& title, const QString& question) {
  if (confirm_) return confirm_(question);
  return QMessageBox::question(this, title, question) == QMessageBox::Yes;
}

void TrainingWizard::reject() {
  if (model_->isSaving()) return;  // the worker is reading the trained model; the wizard closes when it is done
  if (model_->hasUnsavedModel()) {
    if (!confirm(tr("Discard the model?"), tr("The trained model is not saved. Close and discard it?"))) return;
    model_->discardRun();
    QWizard::reject();
    return;
  }
  if (runner_->isRunning()) {
    if (!confirm(tr("Stop training?"), tr("Training is running. Stop it? A checkpoint is written, and the viewer offers "
                                          "to resume it when it next starts.")))
      return;
    closeWhenStopped_ = true;
    runner_->cancel();  // wakes a paused run too; it writes its checkpoint, then stopped() closes
    return;
  }
  QWizard::reject();
}

}  // namespace al::ui
