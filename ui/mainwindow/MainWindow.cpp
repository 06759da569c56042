#include "mainwindow/MainWindow.h"

#include <QAction>
#include <QApplication>
#include <QCoreApplication>
#include <QDockWidget>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFile>
#include <QFileInfo>
#include <QKeySequence>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QCheckBox>
#include <QHBoxLayout>
#include <QPushButton>
#include <QScrollArea>
#include <QStackedWidget>
#include <QStatusBar>
#include <QRegularExpression>
#include <QDir>
#include <QCloseEvent>
#include <QTimer>
#include <QtConcurrent/QtConcurrentRun>
#include <QUnhandledException>
#include <algorithm>
#include <cmath>
#include <spdlog/spdlog.h>

#include "errors/Error.h"
#include "inference/ScanAnalysis.h"
#include "report/DicomExport.h"
#include "report/ExportReportDialog.h"
#include "io/VolumeReader.h"
#include "io/mri/MriContrasts.h"
#include "io/oct/ImageStackReader.h"
#include "io/oct/OptFundus.h"
#include "mainwindow/SessionRecovery.h"
#include "session/Recovery.h"
#include "runtime/TorchRuntime.h"
#include "runtime/Version.h"
#include "octview/EnFaceModel.h"
#include "octview/EnFaceView.h"
#include "annotations/AnnotationModel.h"
#include "annotations/AnnotationsPanel.h"
#include "modelspanel/ModelsModel.h"
#include "orthoview/OrthoView.h"
#include "orthoview/OrthoViewModel.h"
#include "render3d/VolumeRenderView.h"
#include "modelspanel/ModelsPanel.h"
#include "overlay/OverlayModel.h"
#include "pacs/PacsPanel.h"
#include "roc/RocModel.h"
#include "roc/RocPanel.h"
#include "sliceview/SliceScrollBar.h"
#include "sliceview/SliceView.h"
#include "sliceview/SliceViewModel.h"
#include "studybrowser/RecentStudies.h"
#include "studybrowser/StudyBrowser.h"
#include "studybrowser/StudyBrowserModel.h"
#include "inference/ModelCatalog.h"
#include "training/Trainer.h"
#include "wizard/TrainingRunner.h"
#include "wizard/TrainingWizard.h"
#include "wizard/TrainingWizardModel.h"

namespace al::ui {

namespace {

LoadResult guarded(const QString& path, const std::function<Volume()>& read) {
  LoadResult result;
  result.path = path;
  try {
    result.volume = std::make_shared<const Volume>(read());
  } catch (const al::Error& e) {
    result.error = QString::fromStdString(e.message());
  } catch (const std::exception& e) {
    result.error = path + QStringLiteral(": ") + QString::fromStdString(e.what());
  }
  return result;
}

// OCT volumes get the en-face panel: by modality, by format, or by their shape (axial pixels
// finer than lateral ones, B-scans far apart), as NIfTI carries no modality.
bool looksLikeOct(const Volume& v) {
  const auto& m = v.metadata();
  if (m.modality == "OPT" || m.sourceFormat == "Heidelberg .vol" || m.sourceFormat == "image stack") return true;
  if (!m.modality.empty()) return false;
  const auto& s = v.spacing();
  return v.size().z > 1 && s[1] < s[0] && s[2] > 2 * s[0];
}

// A series opens as its largest consistent stack; why it was split goes with the volume.
Volume readLargestStack(const DicomSeriesEntry& series) {
  const DicomSeriesPlan plan = planDicomSeries(series);
  if (plan.stacks.empty()) throw Error("series " + series.seriesDescription, "has no images");
  const auto largest = std::max_element(plan.stacks.begin(), plan.stacks.end(),
                                        [](const auto& a, const auto& b) { return a.files.size() < b.files.size(); });
  Volume v = readDicomStack(*largest);
  for (const auto& n : plan.notes) v.metadata().warnings.push_back(n);
  if (plan.stacks.size() > 1) v.metadata().warnings.push_back("showing " + largest->label);
  return v;
}

}  // namespace

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent), sliceModel_(new SliceViewModel(this)), sliceView_(new SliceView(sliceModel_, this)),
      studyBrowser_(new StudyBrowser(this)), enFaceModel_(new EnFaceModel(this)), enFaceDock_(new QDockWidget(tr("En face"), this)),
      probeLabel_(new QLabel(this)), overlay_(new OverlayModel(this)), modelsModel_(new ModelsModel(this)),
      roc_(new RocModel(this)), cine_(new QTimer(this)), annotations_(new AnnotationModel(this)),
      recent_(std::make_unique<RecentStudies>()) {
  setWindowTitle(QStringLiteral("AnomalyLens"));
  sliceView_->setOverlay(overlay_);
  sliceView_->setAnnotations(annotations_);
  annotationsPanel_ = new AnnotationsPanel(annotations_, sliceModel_, this);
  scrollBar_ = new SliceScrollBar(sliceModel_, overlay_, roc_, this);
  auto* centre = new QWidget(this);
  auto* centreLayout = new QHBoxLayout(centre);
  centreLayout->setContentsMargins(0, 0, 0, 0);
  centreLayout->setSpacing(0);
  centreLayout->addWidget(sliceView_, 1);
  centreLayout->addWidget(scrollBar_);
  ortho_ = new OrthoViewModel(sliceModel_, overlay_, this);
  render3d_ = new VolumeRenderView(sliceModel_, overlay_, this);
  orthoView_ = new OrthoView(ortho_, render3d_, this);
  layouts_ = new QStackedWidget(this);
  layouts_->addWidget(centre);
  layouts_->addWidget(orthoView_);
  setCentralWidget(layouts_);
  modelsPanel_ = new ModelsPanel(modelsModel_, overlay_, this);
  rocPanel_ = new RocPanel(roc_, this);
  studiesDock_ = new QDockWidget(tr("Studies"), this);
  studiesDock_->setObjectName(QStringLiteral("studies"));
  studiesDock_->setWidget(studyBrowser_);
  addDockWidget(Qt::LeftDockWidgetArea, studiesDock_);
  resizeDocks({studiesDock_}, {280}, Qt::Horizontal);
  // The PACS panel shares the studies' place: a retrieved study opens in the tab beside it.
  pacsPanel_ = new PacsPanel(this);
  pacsDock_ = new QDockWidget(tr("PACS"), this);
  pacsDock_->setObjectName(QStringLiteral("pacs"));
  pacsDock_->setWidget(pacsPanel_);
  addDockWidget(Qt::LeftDockWidgetArea, pacsDock_);
  tabifyDockWidget(studiesDock_, pacsDock_);
  pacsDock_->hide();
  studiesDock_->raise();
  connect(pacsPanel_, &PacsPanel::retrieved, this, [this](const QString& folder) {
    recent_->add(folder);
    studiesDock_->show();
    studiesDock_->raise();
    studyBrowser_->indexPath(folder);
  });
  enFaceDock_->setObjectName(QStringLiteral("enface"));
  enFaceDock_->setWidget(new EnFaceView(enFaceModel_, sliceModel_, this));
  addDockWidget(Qt::RightDockWidgetArea, enFaceDock_);
  resizeDocks({enFaceDock_}, {300}, Qt::Horizontal);
  enFaceDock_->hide();
  auto* modelsDock = new QDockWidget(tr("Models"), this);
  modelsDock->setObjectName(QStringLiteral("models"));
  // Scrolls rather than squeezing its controls on a short screen.
  auto* modelsScroll = new QScrollArea(this);
  modelsScroll->setWidget(modelsPanel_);
  modelsScroll->setWidgetResizable(true);
  modelsScroll->setFrameShape(QFrame::NoFrame);
  modelsDock->setWidget(modelsScroll);
  addDockWidget(Qt::RightDockWidgetArea, modelsDock);
  auto* rocDock = new QDockWidget(tr("ROC"), this);
  rocDock->setObjectName(QStringLiteral("roc"));
  rocDock->setWidget(rocPanel_);
  addDockWidget(Qt::RightDockWidgetArea, rocDock);
  tabifyDockWidget(modelsDock, rocDock);
  auto* annotationsDock = new QDockWidget(tr("Annotations"), this);
  annotationsDock->setObjectName(QStringLiteral("annotations"));
  annotationsDock->setWidget(annotationsPanel_);
  addDockWidget(Qt::RightDockWidgetArea, annotationsDock);
  tabifyDockWidget(rocDock, annotationsDock);
  modelsDock->raise();
  resizeDocks({modelsDock}, {340}, Qt::Horizontal);

  // A model run's results go to the overlay and the ROC panel; their thresholds move together.
  connect(modelsModel_, &ModelsModel::finished, this, [this](int, std::shared_ptr<const inference::ScanAnalysis> a) {
    overlay_->setAnalysis(a);
    annotations_->setMap(overlay_->hasMap() ? &a->maps.at(overlay_->mapName().toStdString()) : nullptr);
    if (jumpToTopSlice_) {
      // A run asked for on the command line shows its largest finding.
      jumpToTopSlice_ = false;
      if (const int best = overlay_->largestFindingSlice(); best >= 0) sliceModel_->setSlice(best);
    }
    rocPanel_->setCardThreshold(a->threshold);
    roc_->setData(a->sliceScores, a->sliceLabels, overlay_->scoreThreshold());
    const QString flagged = a->threshold ? tr("; %n slice(s) flagged", nullptr, static_cast<int>(a->slicesAbove().size())) : QString();
    statusBar()->showMessage(tr("%1: scan score %2%3").arg(QString::fromStdString(a->modelName)).arg(a->scanScore, 0, 'g', 4).arg(flagged), 8000);
    if (!orphanLabels_.empty()) {
      roc_->setUserLabels(orphanLabels_);
      orphanLabels_.clear();
    }
    applySessionOverlay();
    emit analysisFinished(QString::fromStdString(a->modelName));
  });
  connect(sliceModel_, &SliceViewModel::windowLevelChanged, this, [this] { annotations_->setChannel(sliceModel_->channel()); });
  connect(overlay_, &OverlayModel::changed, this, [this] {
    const auto& a = overlay_->analysis();
    annotations_->setMap(a && overlay_->hasMap() ? &a->maps.at(overlay_->mapName().toStdString()) : nullptr);
  });
  // A session whose model cannot run again keeps its labels (saved again with the session)
  // and says why its heatmap is missing.
  auto sessionModelFailed = [this](const QString& why) {
    if (!pendingOverlay_) return;
    orphanLabels_ = pendingOverlay_->sliceLabels;
    pendingOverlay_.reset();
    emit sessionFailed(tr("%1: the view and annotations are back, but not the heatmap: %2").arg(sessionPath_, why));
  };
  connect(modelsModel_, &ModelsModel::failed, this, [this, sessionModelFailed](const QString& message) {
    statusBar()->showMessage(message, 8000);
    sessionModelFailed(message);
    emit analysisFailed(message);
  });
  connect(modelsModel_, &ModelsModel::cancelled, this, [this, sessionModelFailed] {
    statusBar()->showMessage(tr("Model run cancelled"), 4000);
    sessionModelFailed(tr("its model run was cancelled"));
  });
  connect(roc_, &RocModel::thresholdChanged, overlay_, &OverlayModel::setScoreThreshold);
  connect(overlay_, &OverlayModel::scoreThresholdChanged, roc_, &RocModel::setThreshold);
  connect(modelsPanel_, &ModelsPanel::compareToggled, this, [this](bool on) {
    sliceView_->setComparing(on);
    if (compareAction_) compareAction_->setChecked(on);
  });
  cine_->setInterval(100);
  connect(cine_, &QTimer::timeout, this, [this] {
    if (sliceModel_->sliceCount() > 1) sliceModel_->setSlice((sliceModel_->slice() + 1) % sliceModel_->sliceCount());
  });
  modelsModel_->reload();
  connect(studyBrowser_, &StudyBrowser::seriesActivated, this, &MainWindow::openSeries);
  connect(studyBrowser_, &StudyBrowser::indexFailed, this, &MainWindow::loadFailed);
  connect(studyBrowser_, &StudyBrowser::indexed, this, [this](int count, int) {
    statusBar()->showMessage(tr("%n series found", nullptr, count), 5000);
    const QString source = studyBrowser_->model()->source();
    const auto& all = studyBrowser_->model()->index().series;
    const auto sessionSeries = std::find_if(all.begin(), all.end(), [this](const DicomSeriesEntry& s) {
      return pendingSession_ && !pendingSession_->seriesLabel.empty() &&
             "#" + s.seriesNumber + " " + s.seriesDescription == pendingSession_->seriesLabel;
    });
    if (sessionSeries != all.end()) {
      openSeries(*sessionSeries);
    } else if (pendingSession_ && !pendingSession_->seriesLabel.empty()) {
      const QString message = tr("%1: the series %2 is no longer in %3")
                                  .arg(sessionPath_, QString::fromStdString(pendingSession_->seriesLabel), source);
      pendingSession_.reset();
      statusBar()->showMessage(message, 8000);
      emit sessionFailed(message);
    } else if (openSingleSeries_ && count == 1) {
      openSeries(studyBrowser_->model()->index().series.front());
    } else if (openSingleSeries_ && count == 0 && QFileInfo(source).isDir() && !imageStackFiles(source.toStdString()).empty()) {
      // No DICOM, but B-scan images: the folder is one volume.
      studiesDock_->hide();
      startLoad(QFileInfo(source).fileName(), [source] { return guarded(source, [&] { return readVolume(source.toStdString()); }); });
    } else if (openSingleSeries_ && count == 0 && QFileInfo(source).isDir()) {
      studiesDock_->hide();
      // No DICOM: a BraTS-style set of MRI contrasts (NIfTI), shown side by side.
      startLoad(QFileInfo(source).fileName(), [source] {
        return guarded(source, [&] {
          Volume v = loadContrastSet(source.toStdString());
          v.metadata().sourcePath = source.toStdString();
          return v;
        });
      });
    }
    openSingleSeries_ = false;
  });
  setAcceptDrops(true);
  statusBar()->addPermanentWidget(probeLabel_);
  statusBar()->showMessage(tr("Ready"));
  connect(sliceView_, &SliceView::probed, probeLabel_, &QLabel::setText);
  connect(&loadWatcher_, &QFutureWatcher<LoadResult>::finished, this, &MainWindow::onLoadFinished);
  connect(modelsPanel_, &ModelsPanel::trainRequested, this, &MainWindow::showTrainingWizard);
  buildMenus();
  resize(1280, 800);
  // A training stopped or cut short (a crash, a restart) is offered once the window is up.
  QTimer::singleShot(0, this, [this] { offerInterruptedTraining(true); });
  // The reading is autosaved while it holds the reader's work (annotations, image marks).
  recovery_ = new SessionRecovery(
      [this]() -> std::optional<Session> {
        if (!sliceModel_->hasVolume() || pendingSession_) return std::nullopt;
        return currentSession();
      },
      this);
}

MainWindow::~MainWindow() {
  modelsModel_->cancel();
  loadWatcher_.waitForFinished();
}

void MainWindow::buildMenus() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  QAction* open = file->addAction(tr("&Open..."), this, &MainWindow::showOpenDialog);
  open->setShortcut(QKeySequence::Open);
  QAction* openFolder = file->addAction(tr("Open &folder..."), this, &MainWindow::showOpenFolderDialog);
  openFolder->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_O));
  // Not Ctrl+Shift+Q: one slip off Shift and Ctrl+Q closes the viewer.
  QAction* queryPacs = file->addAction(tr("Query &PACS..."), this, &MainWindow::showPacsPanel);
  queryPacs->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_P));
  QMenu* recent = file->addMenu(tr("Open &recent"));
  connect(recent, &QMenu::aboutToShow, this, [this, recent] {
    recent->clear();
    const QStringList paths = recent_->list();
    for (const QString& p : paths) {
      const bool session = p.endsWith(QStringLiteral(".alsession"));
      recent->addAction(QFileInfo(p).fileName() + QStringLiteral("  (") + QFileInfo(p).absolutePath() + QLatin1Char(')'), this,
                        [this, p, session] { session ? openSession(p) : openFile(p); });
    }
    if (paths.isEmpty()) recent->addAction(tr("(none yet)"))->setEnabled(false);
    recent->addSeparator();
    recent->addAction(tr("Clear the list"), this, [this] { recent_->clear(); });
  });
  file->addAction(tr("Open &demo study (OCT)"), this, &MainWindow::openDemoStudy);
  file->addAction(tr("Open demo &MRI study (multiple sclerosis)"), this, [this] { openDemoMriStudy(true); });
  file->addAction(tr("Open demo MRI p&hantom"), this, [this] {
    const QString oct = demoStudyPath();
    const QString mri = QFileInfo(oct).absolutePath() + QStringLiteral("/mri/mri_0000");
    if (oct.isEmpty() || !QFileInfo(mri).isDir()) {
      emit loadFailed(tr("The demo MRI phantom was not found."));
      return;
    }
    openFile(mri);
  });
  file->addSeparator();
  QAction* openSession = file->addAction(tr("Open &session..."), this, &MainWindow::showOpenSessionDialog);
  openSession->setShortcut(QKeySequence(Qt::CTRL | Qt::ALT | Qt::Key_O));
  QAction* saveSession = file->addAction(tr("&Save session"), this, [this] {
    if (sessionPath_.isEmpty())
      showSaveSessionDialog();
    else
      saveSessionTo(sessionPath_);
  });
  saveSession->setShortcut(QKeySequence::Save);
  file->addAction(tr("Save session &as..."), this, &MainWindow::showSaveSessionDialog);
  file->addSeparator();
  QAction* exportReport = file->addAction(tr("&Export report..."), this, &MainWindow::showExportReportDialog);
  exportReport->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_E));
  file->addSeparator();
  QAction* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
  quit->setShortcut(QKeySequence::Quit);

  QMenu* view = menuBar()->addMenu(tr("&View"));
  QAction* reset = view->addAction(tr("&Reset view"), this, [this] {
    sliceModel_->resetView();
    sliceModel_->resetWindowLevel();
  });
  reset->setShortcut(Qt::Key_R);
  presetsMenu_ = view->addMenu(tr("Window &presets"));
  presetsMenu_->setEnabled(false);
  QAction* single = view->addAction(tr("&Single view"), this, [this] { setLayoutName(QStringLiteral("single")); });
  single->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_1));
  QAction* orthogonal = view->addAction(tr("&Orthogonal views and 3D"), this, [this] { setLayoutName(QStringLiteral("orthogonal")); });
  orthogonal->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_2));
  QMenu* panels = view->addMenu(tr("Pa&nels"));
  for (const char* name : {"studies", "pacs", "enface", "models", "roc", "annotations"})
    if (auto* dock = findChild<QDockWidget*>(QLatin1String(name))) panels->addAction(dock->toggleViewAction());
  QAction* cine = view->addAction(tr("&Play slices (cine)"), this, &MainWindow::toggleCine);
  cine->setShortcut(Qt::Key_Space);
  // Space presses buttons and ticks boxes in the panels: it plays the slices only from the images.
  cine->setShortcutContext(Qt::WidgetWithChildrenShortcut);
  layouts_->addAction(cine);
  view->addSeparator();
  heatmapAction_ = view->addAction(tr("Show &heatmap"));
  heatmapAction_->setCheckable(true);
  heatmapAction_->setChecked(overlay_->isVisible());
  heatmapAction_->setShortcut(Qt::Key_H);
  connect(heatmapAction_, &QAction::toggled, overlay_, &OverlayModel::setVisible);
  connect(overlay_, &OverlayModel::changed, this, [this] { heatmapAction_->setChecked(overlay_->isVisible()); });
  compareAction_ = view->addAction(tr("&Compare input | reconstruction | map"));
  compareAction_->setCheckable(true);
  compareAction_->setShortcut(Qt::Key_C);
  connect(compareAction_, &QAction::toggled, this, [this](bool on) {
    sliceView_->setComparing(on);
    modelsPanel_->compareBox()->setChecked(on);
  });
  QAction* nextFlagged = view->addAction(tr("Next &flagged slice"), this, [this] {
    const auto flagged = overlay_->flaggedSlices();
    auto it = std::upper_bound(flagged.begin(), flagged.end(), sliceModel_->slice());
    if (!flagged.empty()) sliceModel_->setSlice(it == flagged.end() ? flagged.front() : *it);
  });
  nextFlagged->setShortcut(Qt::Key_F);

  QMenu* model = menuBar()->addMenu(tr("&Model"));
  QAction* run = model->addAction(tr("&Run selected model"), modelsPanel_, &ModelsPanel::runSelected);
  run->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_R));
  QAction* cancel = model->addAction(tr("&Cancel run"), modelsModel_, &ModelsModel::cancel);
  cancel->setShortcut(Qt::Key_Escape);
  model->addSeparator();
  QAction* abnormal = model->addAction(tr("Mark slice &abnormal"), this, [this] { markSlice(1); });
  abnormal->setShortcut(Qt::Key_A);
  QAction* normal = model->addAction(tr("Mark slice &normal"), this, [this] { markSlice(0); });
  normal->setShortcut(Qt::Key_N);
  QAction* unmark = model->addAction(tr("C&lear slice mark"), this, [this] { markSlice(-1); });
  unmark->setShortcut(Qt::Key_U);
  model->addAction(tr("Re&load models"), this, [this] { modelsModel_->reload(); });

  QMenu* training = menuBar()->addMenu(tr("&Training"));
  QAction* newModel = training->addAction(tr("&New model..."), this, &MainWindow::showTrainingWizard);
  newModel->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_T));
  training->addAction(tr("&Resume interrupted training..."), this, &MainWindow::offerInterruptedTraining);

  QMenu* annotate = menuBar()->addMenu(tr("&Annotate"));
  QAction* flag = annotate->addAction(tr("&Flag this image"), this, [this] {
    if (sliceModel_->hasVolume()) annotations_->toggleFlag(sliceModel_->slice());
  });
  flag->setShortcut(Qt::Key_B);
  QAction* region = annotate->addAction(tr("&Region (area, mean)"), this, [this] { annotations_->setTool(AnnotationModel::Tool::Region); });
  region->setShortcut(Qt::Key_E);
  QAction* distance = annotate->addAction(tr("&Distance"), this, [this] { annotations_->setTool(AnnotationModel::Tool::Distance); });
  distance->setShortcut(Qt::Key_D);
  QAction* remove = annotate->addAction(tr("De&lete selected annotation"), annotationsPanel_, &AnnotationsPanel::removeSelected);
  remove->setShortcut(QKeySequence::Delete);

  QMenu* help = menuBar()->addMenu(tr("&Help"));
  QAction* keys = help->addAction(tr("&Keyboard shortcuts"), this, &MainWindow::showShortcuts);
  keys->setShortcut(QKeySequence::HelpContents);
  help->addAction(tr("&About AnomalyLens"), this, &MainWindow::showAbout);
}

QWidget* MainWindow::enFacePanel() const { return enFaceDock_; }

TrainingWizard* MainWindow::trainingWizard() const { return wizard_; }

void MainWindow::showTrainingWizard() {
  TrainingWizard* w = wizard_;
  if (!w) {
    w = new TrainingWizard(this);
    w->setAttribute(Qt::WA_DeleteOnClose);
    w->setWindowFlag(Qt::Window);
    w->setOpenScanProvider([this] { return currentPath_; });
    w->setSeriesProvider([this] { return studyBrowser_->selectedSeries(); });
    connect(w, &TrainingWizard::modelSaved, this, [this](const QString& card) {
      modelsModel_->reload();
      const int index = modelsModel_->indexOf(card);
      if (index >= 0) modelsPanel_->select(index);
      statusBar()->showMessage(tr("Model saved: %1").arg(card), 8000);
    });
    wizard_ = w;
    emit trainingWizardOpened(w);
  }
  w->show();
  w->raise();
  w->activateWindow();
}

void MainWindow::offerInterruptedTraining(bool quiet) {
  std::vector<training::CheckpointSummary> runs = training::findInterruptedRuns(inference::trainingWorkDir());
  // The run the wizard has open is not interrupted.
  if (TrainingWizard* w = wizard_) {
    const std::string out = w->model()->spec().out;
    const std::string open = out.empty() ? std::string() : training::checkpointPathFor(out);
    runs.erase(std::remove_if(runs.begin(), runs.end(), [&](const auto& r) { return r.checkpoint == open; }), runs.end());
  }
  emit interruptedTrainingFound(static_cast<int>(runs.size()));
  if (runs.empty()) {
    if (!quiet)
      statusBar()->showMessage(tr("No interrupted training in %1").arg(QString::fromStdString(inference::trainingWorkDir())), 5000);
    return;
  }
  const auto& run = runs.front();  // the newest; others stay for later
  const QString name = QString::fromStdString(run.spec.name.empty() ? run.spec.out : run.spec.name);
  auto* box = new QMessageBox(QMessageBox::Question, tr("Resume training?"),
                              tr("The training of %1 (%2) stopped at iteration %3 of %4 (stage %5), %6. Resume it from its "
                                 "checkpoint?")
                                  .arg(name, QString::fromStdString(models::displayName(models::modelKindFromString(run.spec.model))))
                                  .arg(run.done)
                                  .arg(run.total)
                                  .arg(QString::fromStdString(run.stage), QString::fromStdString(run.savedAt)),
                              QMessageBox::NoButton, this);
  box->setObjectName(QStringLiteral("resumeTrainingBox"));
  QPushButton* resume = box->addButton(tr("Resume"), QMessageBox::AcceptRole);
  box->addButton(tr("Later"), QMessageBox::RejectRole);
  QPushButton* discard = box->addButton(tr("Discard"), QMessageBox::DestructiveRole);
  box->setAttribute(Qt::WA_DeleteOnClose);
  const QString ckpt = QString::fromStdString(run.checkpoint);
  connect(box, &QMessageBox::buttonClicked, this, [this, resume, discard, ckpt](QAbstractButton* b) {
    if (b == resume) resumeTraining(ckpt);
    if (b == discard) {
      training::discardCheckpoint(ckpt.toStdString());
      statusBar()->showMessage(tr("Checkpoint discarded: %1").arg(ckpt), 5000);
    }
  });
  box->open();  // not exec(): the viewer stays usable while the question waits
}

void MainWindow::resumeTraining(const QString& checkpoint) {
  if (TrainingWizard* w = wizard_) {
    statusBar()->showMessage(tr("Close the training wizard first: it trains one model at a time"), 6000);
    w->raise();
    return;
  }
  const auto run = training::readCheckpointSummary(checkpoint.toStdString());
  if (!run) {
    statusBar()->showMessage(tr("No readable checkpoint summary at %1").arg(checkpoint), 6000);
    return;
  }
  showTrainingWizard();
  try {
    if (TrainingWizard* w = wizard_) w->resumeRun(*run);
  } catch (const std::exception& e) {
    statusBar()->showMessage(tr("Cannot resume %1: %2").arg(checkpoint, QString::fromUtf8(e.what())), 10000);
    if (TrainingWizard* w = wizard_) w->close();
  }
}

void MainWindow::closeEvent(QCloseEvent* event) {
  // A training running or a trained model not yet saved: the wizard asks first.
  if (TrainingWizard* w = wizard_; w && (w->runner()->isRunning() || w->model()->hasUnsavedModel())) {
    event->ignore();
    w->show();
    w->raise();
    w->close();
    // Once it has stopped (a checkpoint) or discarded the model, the viewer closes too; if the
    // user chose to keep training, nothing closes.
    if (!w->isVisible() || w->isStopping()) connect(w, &QObject::destroyed, this, &QWidget::close, Qt::QueuedConnection);
    return;
  }
  QMainWindow::closeEvent(event);
}

bool MainWindow::isLoading() const { return loadWatcher_.isRunning(); }

void MainWindow::showOpenDialog() {
  auto* dialog = new QFileDialog(this, tr("Open a scan"), lastFolder_,
                                 tr("Scans (*.dcm *.vol *.nii *.nii.gz *.mha *.mhd *.nrrd *.nhdr DICOMDIR *.png *.jpg *.jpeg *.tif *.tiff *.bmp);;All files (*)"));
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  dialog->setFileMode(QFileDialog::ExistingFile);
  connect(dialog, &QFileDialog::fileSelected, this, &MainWindow::openFile);
  dialog->open();
}

QString MainWindow::demoStudyPath() {
  QStringList folders;
  const QString env = qEnvironmentVariable("ANOMALYLENS_DEMO_DIR");
  if (!env.isEmpty()) folders << env;
  const QString exeDir = QCoreApplication::applicationDirPath();
  folders << exeDir + QStringLiteral("/../share/anomalylens/demo") << exeDir + QStringLiteral("/../demo");
  for (const QString& folder : folders) {
    const QFileInfo candidate(folder + QStringLiteral("/oct_0000.nii.gz"));
    if (candidate.isFile()) return candidate.canonicalFilePath();
  }
  return {};
}

void MainWindow::openDemoStudy() {
  const QString path = demoStudyPath();
  if (path.isEmpty()) {
    const QString message = tr("The demo study was not found (looked in ANOMALYLENS_DEMO_DIR, "
                               "share/anomalylens/demo and the build tree's demo folder).");
    statusBar()->showMessage(message, 5000);
    emit loadFailed(message);
    return;
  }
  openFile(path);
}

void MainWindow::openDemoMriStudy(bool runItsModel) {
  const QString oct = demoStudyPath();
  const QString mri = QFileInfo(oct).absolutePath() + QStringLiteral("/open-ms-patient19");
  if (oct.isEmpty() || !QFileInfo(mri).isDir()) {
    const QString message = tr("The demo MRI study was not found (open-ms-patient19 beside the demo OCT volume).");
    statusBar()->showMessage(message, 5000);
    emit loadFailed(message);
    return;
  }
  // The model trained on real brains of the same set, which never saw this patient; the
  // phantom-trained ADM would score it too, but against phantom tissue.
  if (runItsModel && modelsModel_->indexOf(QStringLiteral("adm-brain-open-ms")) >= 0)
    runModel(QStringLiteral("adm-brain-open-ms"), true);
  openFile(mri);
}

void MainWindow::showOpenFolderDialog() {
  auto* dialog = new QFileDialog(this, tr("Open a folder of DICOM files"), lastFolder_);
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  dialog->setFileMode(QFileDialog::Directory);
  dialog->setOption(QFileDialog::ShowDirsOnly);
  connect(dialog, &QFileDialog::fileSelected, this, &MainWindow::openFile);
  dialog->open();
}

void MainWindow::openFile(const QString& path) {
  if (path.isEmpty()) return;
  const QFileInfo info(path);
  if (info.isFile() && (report::isParametricMap(path.toStdString()) || report::isSegmentation(path.toStdString()))) {
    importParametricMap(path);  // a map or segmentation exported earlier: it goes over the scan, not instead of it
    return;
  }
  const bool dicomdir = info.isFile() && (info.fileName().compare(QStringLiteral("DICOMDIR"), Qt::CaseInsensitive) == 0 ||
                                          isDicomDir(path.toStdString()));
  if (info.isDir() || dicomdir) {
    lastFolder_ = info.absoluteFilePath();
    recent_->add(path);
    openSingleSeries_ = true;
    studiesDock_->show();
    studyBrowser_->indexPath(path);
    return;
  }
  lastFolder_ = info.absolutePath();
  // A single file needs no study browser: give its room to the image.
  if (studyBrowser_->model()->index().series.empty()) studiesDock_->hide();
  startLoad(info.fileName(), [path] {
    const std::string p = path.toStdString();
    try {
      if (HeidelbergVolReader().canRead(FileHead::read(p))) {
        // Keep the fundus and the B-scan positions for the en-face panel.
        LoadResult r;
        r.path = path;
        OctStudy study = readHeidelbergVol(p);
        r.volume = std::make_shared<const Volume>(std::move(study.bscans));
        if (!study.fundus.empty()) r.fundus = std::make_shared<const Volume>(std::move(study.fundus));
        r.bscanLines = std::move(study.bscanInfo);
        return r;
      }
    } catch (const al::Error& e) {
      LoadResult r;
      r.path = path;
      r.error = QString::fromStdString(e.message());
      return r;
    }
    return guarded(path, [&] { return readVolume(p); });
  });
}

void MainWindow::openSeries(const DicomSeriesEntry& series) {
  // A Parametric Map (1.2.840.10008.5.1.4.1.1.30) or Segmentation (...66.4) series goes over the
  // scan on screen.
  if (!series.files.empty() && (series.files.front().sopClassUid == "1.2.840.10008.5.1.4.1.1.30" ||
                                series.files.front().sopClassUid == "1.2.840.10008.5.1.4.1.1.66.4")) {
    importParametricMap(QString::fromStdString(series.files.front().path));
    return;
  }
  const QString label = QStringLiteral("#%1 %2").arg(QString::fromStdString(series.seriesNumber), QString::fromStdString(series.seriesDescription));
  const QString where = series.files.empty() ? label : QString::fromStdString(series.files.front().path);
  // OCT: the fundus photograph its frames reference, from the same study, for the en-face panel.
  std::vector<DicomSeriesEntry> study;
  if (series.modality == "OPT") {
    for (const auto& s : studyBrowser_->model()->index().series) {
      if (s.studyInstanceUid == series.studyInstanceUid) study.push_back(s);
    }
  }
  startLoad(label, [series, where, study, label] {
    LoadResult r = guarded(where, [&] { return readLargestStack(series); });
    r.label = label;
    if (r.volume && !study.empty()) {
      if (auto fundus = findOptFundus(series, study)) {
        r.fundus = std::make_shared<const Volume>(std::move(fundus->fundus));
        r.bscanLines = std::move(fundus->bscanLines);
      }
    }
    return r;
  });
}

void MainWindow::startLoad(const QString& label, std::function<LoadResult()> job) {
  if (isLoading()) {
    statusBar()->showMessage(tr("Still loading the previous scan"), 3000);
    return;
  }
  statusBar()->showMessage(tr("Loading %1 ...").arg(label));
  loadWatcher_.setFuture(QtConcurrent::run([job = std::move(job)] {
    LoadResult r = job();
    // A manifest beside the scan may name its masks: read it here, off the GUI thread.
    if (r.volume) {
      const inference::CaseMasks masks = inference::masksFor(r.path.toStdString());
      r.lesionMask = QString::fromStdString(masks.lesionMask);
      r.brainMask = QString::fromStdString(masks.brainMask);
      r.imageLabels = masks.imageLabels;
    }
    return r;
  }));
}

void MainWindow::onLoadFinished() {
  const LoadResult result = loadWatcher_.result();
  if (!result.volume) {
    statusBar()->showMessage(tr("Could not open %1").arg(QFileInfo(result.path).fileName()), 5000);
    auto* box = new QMessageBox(QMessageBox::Warning, tr("Cannot open file"), result.error, QMessageBox::Ok, this);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();  // window-modal, without a nested event loop
    pendingModel_.reset();
    if (pendingSession_) {
      pendingSession_.reset();
      emit sessionFailed(tr("%1: its scan could not be opened: %2").arg(sessionPath_, result.error));
    }
    emit loadFailed(result.error);
    return;
  }
  overlay_->setAnalysis(nullptr);
  roc_->clear();
  cine_->stop();
  sliceModel_->setVolume(result.volume);
  annotations_->setScan(result.volume);
  orphanLabels_ = result.imageLabels;  // the ROC panel shows them once a model has run
  currentLabel_ = result.label;
  applyWindowPresets(*result.volume);
  currentPath_ = result.path;
  if (result.label.isEmpty()) recent_->add(result.path);  // a series is reached through its folder
  const QString key = result.path + QStringLiteral("|") + result.label;
  modelsModel_->setScan(result.volume, key, result.lesionMask, result.brainMask);
  if (looksLikeOct(*result.volume)) {
    enFaceModel_->setStudy(result.volume, result.fundus, result.bscanLines);
    enFaceDock_->show();
  } else {
    enFaceModel_->clear();
    enFaceDock_->hide();
  }
  const auto& v = *result.volume;
  const QString name = result.label.isEmpty() ? QFileInfo(result.path).fileName() : result.label;
  setWindowTitle(QStringLiteral("%1 - AnomalyLens").arg(name));
  QString message = tr("%1: %2 x %3 x %4, %5")
                        .arg(name)
                        .arg(v.size().x).arg(v.size().y).arg(v.size().z)
                        .arg(QString::fromLatin1(pixelTypeName(v.pixelType())));
  for (const auto& w : v.metadata().warnings) message += QStringLiteral(" | ") + QString::fromStdString(w);
  statusBar()->showMessage(message);
  emit volumeLoaded(result.path);
  pendingOverlay_.reset();  // a session still waiting for its model belongs to the scan just left
  if (pendingSession_) {
    const Session s = *pendingSession_;
    pendingSession_.reset();
    applySessionView(s);
    if (!s.overlay.model.empty()) {
      pendingOverlay_ = s;
      runModel(QString::fromStdString(s.overlay.model));
    } else {
      orphanLabels_ = s.sliceLabels;
      emit sessionRestored(sessionPath_);
    }
  }
  if (pendingModel_) {
    const QString wanted = *pendingModel_;
    pendingModel_.reset();
    runModel(wanted, jumpToTopSlice_);
  }
}

void MainWindow::runModel(const QString& nameOrPath, bool showTopSlice) {
  jumpToTopSlice_ = showTopSlice;
  if (!sliceModel_->hasVolume() || isLoading()) {
    pendingModel_ = nameOrPath;
    return;
  }
  int index = nameOrPath.isEmpty() ? modelsModel_->suggested() : modelsModel_->indexOf(nameOrPath);
  QString cardProblem;
  // A card's path (NAME.json, or NAME beside it) that the list does not hold yet joins it.
  if (index < 0 && !nameOrPath.isEmpty() &&
      (QFileInfo(nameOrPath).isFile() || QFileInfo(nameOrPath + QStringLiteral(".json")).isFile()))
    index = modelsModel_->addCard(nameOrPath, &cardProblem);
  if (index < 0) {
    const QString message = nameOrPath.isEmpty()         ? tr("No model can take this scan.")
                            : !cardProblem.isEmpty() ? tr("Cannot use the model %1: %2").arg(nameOrPath, cardProblem)
                                                     : tr("No model called %1 (Model > Reload models after adding one).").arg(nameOrPath);
    statusBar()->showMessage(message, 8000);
    if (pendingOverlay_) {
      orphanLabels_ = pendingOverlay_->sliceLabels;
      pendingOverlay_.reset();
      emit sessionFailed(tr("%1: the view and annotations are back, but not the heatmap: %2").arg(sessionPath_, message));
    }
    emit analysisFailed(message);
    return;
  }
  modelsPanel_->select(index);
  modelsModel_->run(index);
}

void MainWindow::markSlice(int label) {
  if (!sliceModel_->hasVolume()) return;
  if (roc_->sliceCount() == 0) {
    statusBar()->showMessage(tr("Run a model first: marks label its slice scores for the ROC panel"), 5000);
    return;
  }
  roc_->setUserLabel(sliceModel_->slice(), label);
  statusBar()->showMessage(label == 1 ? tr("Slice %1 marked abnormal").arg(sliceModel_->slice() + 1)
                           : label == 0 ? tr("Slice %1 marked normal").arg(sliceModel_->slice() + 1)
                                        : tr("Mark removed from slice %1").arg(sliceModel_->slice() + 1),
                           3000);
}

void MainWindow::toggleCine() {
  if (cine_->isActive())
    cine_->stop();
  else if (sliceModel_->sliceCount() > 1)
    cine_->start();
}

void MainWindow::applyWindowPresets(const Volume& volume) {
  presetsMenu_->clear();
  struct Preset {
    const char* name;
    double window, level;
  };
  std::vector<Preset> presets;
  const std::string& m = volume.metadata().modality;
  if (m == "CT") presets = {{"Brain", 80, 40}, {"Subdural", 200, 75}, {"Lung", 1500, -600}, {"Abdomen", 400, 40},
                            {"Bone", 2000, 300}};
  presetsMenu_->addAction(tr("Automatic (robust range)"), this, [this] { sliceModel_->resetWindowLevel(); })
      ->setShortcut(Qt::Key_0);
  int key = Qt::Key_1;
  for (const auto& p : presets) {
    QAction* a = presetsMenu_->addAction(tr(p.name), this, [this, p] { sliceModel_->setWindowLevel(p.window, p.level); });
    a->setShortcut(static_cast<Qt::Key>(key++));
  }
  presetsMenu_->setEnabled(true);
}

QString MainWindow::layoutName() const {
  return layouts_->currentWidget() == orthoView_ ? QStringLiteral("orthogonal") : QStringLiteral("single");
}

void MainWindow::setLayoutName(const QString& name) {
  layouts_->setCurrentIndex(name == QLatin1String("orthogonal") ? 1 : 0);
}

Session MainWindow::currentSession() const {
  Session s;
  // A DICOM series is found again through its folder (or DICOMDIR) and its label; a file or a
  // contrast folder is the scan itself.
  const bool series = !currentLabel_.isEmpty() && !studyBrowser_->model()->source().isEmpty();
  s.scan = QFileInfo(series ? studyBrowser_->model()->source() : currentPath_).absoluteFilePath().toStdString();
  s.seriesLabel = series ? currentLabel_.toStdString() : std::string();
  s.view.slice = sliceModel_->slice();
  s.view.zoom = sliceModel_->zoom();
  s.view.panX = sliceModel_->pan().x();
  s.view.panY = sliceModel_->pan().y();
  s.view.channel = sliceModel_->channel();
  if (sliceModel_->hasVolume())
    for (int ch = 0; ch < sliceModel_->volume()->channels(); ++ch) s.view.windowLevel[ch] = sliceModel_->windowLevel(ch);
  s.view.compare = sliceView_->isComparing();
  s.view.layout = layoutName().toStdString();
  if (const auto& a = overlay_->analysis()) {
    s.overlay.model = a->modelName;
    s.overlay.map = overlay_->mapName().toStdString();
    if (overlay_->scoreThreshold() && a->threshold != overlay_->scoreThreshold()) s.overlay.scoreThreshold = overlay_->scoreThreshold();
  }
  s.overlay.colormap = render::toString(overlay_->colormap());
  s.overlay.normalisation = OverlayModel::toString(overlay_->normalisation()).toStdString();
  s.overlay.opacity = overlay_->opacity();
  s.overlay.threshold = overlay_->threshold();
  s.overlay.visible = overlay_->isVisible();
  s.sliceLabels = roc_->sliceCount() > 0 ? roc_->userLabels() : orphanLabels_;
  s.annotations = annotations_->annotations();
  return s;
}

bool MainWindow::saveSessionTo(const QString& path) {
  if (!sliceModel_->hasVolume()) {
    const QString message = tr("Open a scan first: a session records a reading of one.");
    statusBar()->showMessage(message, 5000);
    emit sessionFailed(message);
    return false;
  }
  try {
    saveSession(currentSession(), path.toStdString());
  } catch (const Error& e) {
    const QString message = QString::fromStdString(e.message());
    statusBar()->showMessage(message, 8000);
    emit sessionFailed(message);
    return false;
  }
  sessionPath_ = path;
  recent_->add(path);
  statusBar()->showMessage(tr("Session saved to %1").arg(path), 5000);
  return true;
}

void MainWindow::offerRecovery() {
  const std::vector<OrphanedReading> orphans = findOrphanedReadings();
  if (orphans.empty()) return;
  const OrphanedReading& o = orphans.front();
  const QString scan = QString::fromStdString(o.session.scan);
  const QString when = QString::fromStdString(o.session.saved);
  spdlog::info("recovery: a reading that did not close normally (process {}, saved {})", o.pid, o.session.saved);
  auto* box = new QMessageBox(QMessageBox::Question, tr("Restore the last reading?"),
                              tr("AnomalyLens did not close normally while this scan was being read:\n%1\n\n"
                                 "Its reading was saved at %2 (UTC): %n annotation(s) and image marks. Restore it?",
                                 nullptr, static_cast<int>(o.session.annotations.size()))
                                  .arg(scan, when),
                              QMessageBox::NoButton, this);
  box->setObjectName(QStringLiteral("recoveryOffer"));
  QPushButton* restore = box->addButton(tr("Restore"), QMessageBox::AcceptRole);
  box->addButton(tr("Discard"), QMessageBox::DestructiveRole);
  box->setDefaultButton(restore);
  box->setAttribute(Qt::WA_DeleteOnClose);
  const QString orphanPath = QString::fromStdString(o.path);
  const Session session = o.session;
  connect(box, &QMessageBox::buttonClicked, this, [this, restore, orphanPath, session](QAbstractButton* b) {
    if (b != restore) {
      QFile::remove(orphanPath);
      spdlog::info("recovery: discarded by the user");
      return;
    }
    if (!QFileInfo::exists(QString::fromStdString(session.scan))) {
      statusBar()->showMessage(tr("Cannot restore: the scan %1 is no longer there").arg(QString::fromStdString(session.scan)), 10000);
      return;  // the file stays: the scan may be on a disk that is not mounted
    }
    recovery_->adopt(orphanPath);  // still protected until the next autosave
    sessionPath_.clear();
    pendingSession_ = session;
    openFile(QString::fromStdString(session.scan));
  });
  box->open();
  emit recoveryOffered(scan);
}

void MainWindow::openSession(const QString& path) {
  if (isLoading() || studyBrowser_->isIndexing()) {
    const QString message = tr("Still opening a scan; open the session once it is shown.");
    statusBar()->showMessage(message, 5000);
    emit sessionFailed(message);
    return;
  }
  Session s;
  try {
    s = loadSession(path.toStdString());
  } catch (const Error& e) {
    const QString message = QString::fromStdString(e.message());
    auto* box = new QMessageBox(QMessageBox::Warning, tr("Cannot open session"), message, QMessageBox::Ok, this);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
    emit sessionFailed(message);
    return;
  }
  if (!QFileInfo::exists(QString::fromStdString(s.scan))) {
    const QString message = tr("%1: its scan %2 is no longer there").arg(path, QString::fromStdString(s.scan));
    statusBar()->showMessage(message, 8000);
    emit sessionFailed(message);
    return;
  }
  spdlog::debug("session {}: opening its scan", path.toStdString());
  sessionPath_ = path;
  recent_->add(path);
  pendingSession_ = s;
  openFile(QString::fromStdString(s.scan));
}

void MainWindow::applySessionView(const Session& s) {
  for (const auto& [ch, wl] : s.view.windowLevel) sliceModel_->setWindowLevel(ch, wl.first, wl.second);
  sliceModel_->setChannel(s.view.channel);
  sliceModel_->setSlice(s.view.slice);
  sliceModel_->setZoomPan(s.view.zoom, QPointF(s.view.panX, s.view.panY));
  annotations_->setAnnotations(s.annotations);
  compareAction_->setChecked(s.view.compare);
  setLayoutName(QString::fromStdString(s.view.layout));
  overlay_->setColormap(render::colormapFromString(s.overlay.colormap));
  overlay_->setNormalisation(OverlayModel::normalisationFromString(QString::fromStdString(s.overlay.normalisation)));
  overlay_->setOpacity(s.overlay.opacity);
  overlay_->setThreshold(s.overlay.threshold);
  overlay_->setVisible(s.overlay.visible);
}

void MainWindow::applySessionOverlay() {
  if (!pendingOverlay_) return;
  const Session s = *pendingOverlay_;
  pendingOverlay_.reset();
  if (!s.overlay.map.empty()) overlay_->setMapName(QString::fromStdString(s.overlay.map));
  if (s.overlay.scoreThreshold) overlay_->setScoreThreshold(*s.overlay.scoreThreshold);
  roc_->setUserLabels(s.sliceLabels);
  sliceModel_->setSlice(s.view.slice);
  emit sessionRestored(sessionPath_);
}

void MainWindow::showSaveSessionDialog() {
  auto* dialog = new QFileDialog(this, tr("Save the session"), lastFolder_, tr("AnomalyLens sessions (*.alsession)"));
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  dialog->setAcceptMode(QFileDialog::AcceptSave);
  dialog->setDefaultSuffix(QStringLiteral("alsession"));
  connect(dialog, &QFileDialog::fileSelected, this, &MainWindow::saveSessionTo);
  dialog->open();
}

void MainWindow::showOpenSessionDialog() {
  auto* dialog = new QFileDialog(this, tr("Open a session"), lastFolder_, tr("AnomalyLens sessions (*.alsession);;All files (*)"));
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  dialog->setFileMode(QFileDialog::ExistingFile);
  connect(dialog, &QFileDialog::fileSelected, this, &MainWindow::openSession);
  dialog->open();
}

QString MainWindow::shortcutsText() {
  return tr("<table>"
            "<tr><td><b>Ctrl+O</b> / <b>Ctrl+Shift+O</b></td><td>open a scan / a folder or DICOMDIR</td></tr>"
            "<tr><td><b>Ctrl+Shift+P</b></td><td>query a PACS (the PACS panel)</td></tr>"
            "<tr><td><b>Wheel</b>, <b>Up</b>/<b>Down</b>, <b>PgUp</b>/<b>PgDn</b></td><td>previous / next slice (10 at a time)</td></tr>"
            "<tr><td><b>Home</b> / <b>End</b></td><td>first / last slice</td></tr>"
            "<tr><td><b>Space</b></td><td>play / stop the slices (cine)</td></tr>"
            "<tr><td><b>Ctrl+1</b> / <b>Ctrl+2</b></td><td>single view / three linked orthogonal views and 3D</td></tr>"
            "<tr><td><b>Left drag</b></td><td>window / level</td></tr>"
            "<tr><td><b>0</b>, <b>1</b>, <b>2</b>, <b>3</b>, <b>4</b>, <b>5</b></td><td>automatic window / the modality's presets (CT: brain, subdural, lung, abdomen, bone)</td></tr>"
            "<tr><td><b>Ctrl+wheel</b></td><td>zoom about the cursor</td></tr>"
            "<tr><td><b>Middle drag</b>, <b>Shift+left drag</b></td><td>pan</td></tr>"
            "<tr><td><b>R</b></td><td>reset zoom, pan and window</td></tr>"
            "<tr><td><b>Ctrl+R</b> / <b>Esc</b></td><td>run the selected model / cancel the run</td></tr>"
            "<tr><td><b>Ctrl+Shift+T</b></td><td>train a new model (the training wizard)</td></tr>"
            "<tr><td><b>H</b></td><td>show / hide the heatmap</td></tr>"
            "<tr><td><b>C</b></td><td>compare input | reconstruction | map</td></tr>"
            "<tr><td><b>F</b></td><td>next slice the model flags</td></tr>"
            "<tr><td><b>A</b> / <b>N</b> / <b>U</b></td><td>mark the slice abnormal / normal / clear the mark (ROC panel)</td></tr>"
            "<tr><td><b>B</b></td><td>flag / unflag the image</td></tr>"
            "<tr><td><b>E</b> / <b>D</b></td><td>draw a region (area, mean) / measure a distance</td></tr>"
            "<tr><td><b>Del</b></td><td>delete the selected annotation</td></tr>"
            "<tr><td><b>Ctrl+S</b> / <b>Ctrl+Alt+O</b></td><td>save the session / open a session</td></tr>"
            "<tr><td><b>Ctrl+E</b></td><td>export a report (PDF, DICOM; optionally sent to a PACS)</td></tr>"
            "<tr><td><b>F1</b></td><td>this list</td></tr>"
            "<tr><td><b>Ctrl+Q</b></td><td>quit</td></tr>"
            "</table>");
}

void MainWindow::importParametricMap(const QString& path) {
  const auto scan = sliceModel_->volume();
  if (!scan) {
    const QString message = tr("%1: a Parametric Map is shown over the scan it was derived from; open that scan first.").arg(path);
    statusBar()->showMessage(message, 10000);
    emit analysisFailed(message);
    return;
  }
  auto* watcher = new QFutureWatcher<std::shared_ptr<const inference::ScanAnalysis>>(this);
  connect(watcher, &QFutureWatcher<std::shared_ptr<const inference::ScanAnalysis>>::finished, this, [this, watcher, path, scan] {
    watcher->deleteLater();
    std::shared_ptr<const inference::ScanAnalysis> a;
    QString error;
    try {
      a = watcher->result();
    } catch (const QUnhandledException& e) {
      error = tr("%1: cannot be read").arg(path);
      try {
        if (e.exception()) std::rethrow_exception(e.exception());
      } catch (const std::exception& inner) {
        error = QString::fromUtf8(inner.what());
      }
    } catch (const std::exception& e) {
      error = QString::fromUtf8(e.what());
    }
    if (sliceModel_->volume() != scan) return;  // another scan was opened meanwhile
    if (!a) {
      statusBar()->showMessage(error, 10000);
      emit analysisFailed(error);
      return;
    }
    overlay_->setAnalysis(a);
    annotations_->setMap(overlay_->hasMap() ? &a->maps.at(overlay_->mapName().toStdString()) : nullptr);
    rocPanel_->setCardThreshold(std::nullopt);
    for (const auto& w : a->warnings) statusBar()->showMessage(QString::fromStdString(w), 10000);
    if (a->warnings.empty()) statusBar()->showMessage(tr("Map imported: %1").arg(QString::fromStdString(a->modelName)), 8000);
    emit analysisFinished(QString::fromStdString(a->modelName));
  });
  watcher->setFuture(QtConcurrent::run([path, scan]() -> std::shared_ptr<const inference::ScanAnalysis> {
    const std::string file = path.toStdString();
    report::ImportedMap imported;
    const bool segmentation = report::isSegmentation(file);
    try {
      imported = segmentation ? report::readSegmentation(file) : report::readParametricMap(file);
    } catch (const Error& e) {
      throw std::runtime_error(e.message());
    }
    const Size3 s = scan->size();
    if (!(imported.map.size() == s))
      throw std::runtime_error(file + ": the map is " + std::to_string(imported.map.size().x) + " x " + std::to_string(imported.map.size().y) + " x " +
                               std::to_string(imported.map.size().z) + ", the scan on screen " + std::to_string(s.x) + " x " + std::to_string(s.y) +
                               " x " + std::to_string(s.z) + ": open the scan it was derived from");
    auto a = std::make_shared<inference::ScanAnalysis>();
    const std::string name = imported.map.metadata().seriesDescription.empty() ? std::string("imported map") : imported.map.metadata().seriesDescription;
    a->modelName = name;
    a->modelKind = "imported";
    a->mapNames = {"imported"};
    Volume map = std::move(imported.map);
    // Frames stored from the other end of the stack (another program's map): put them in the
    // scan's order, judged by where the first frame lies.
    if (s.z > 1) {
      const Vec3 first = scan->indexToPhysical({0, 0, 0}), last = scan->indexToPhysical({0, 0, static_cast<double>(s.z - 1)});
      const auto distance = [](const Vec3& p, const Vec3& q) { return std::hypot(p[0] - q[0], p[1] - q[1], p[2] - q[2]); };
      if (distance(map.origin(), last) + 1e-3 < distance(map.origin(), first)) {
        const std::int64_t plane = s.x * s.y;
        float* v = map.data<float>();
        for (std::int64_t z = 0; z < s.z / 2; ++z) std::swap_ranges(v + z * plane, v + (z + 1) * plane, v + (s.z - 1 - z) * plane);
        a->warnings.push_back(file + ": frames stored in the opposite order to the scan's slices; shown in the scan's order");
      }
    }
    map.setSpacing(scan->spacing());
    map.setOrigin(scan->origin());
    map.setDirection(scan->direction());
    a->ranges["imported"] = segmentation ? inference::ScanAnalysis::Range{0.0, 1.0, true}
                                         : inference::calibratedMapRange(models::ModelCard{}, false, map);
    a->maps["imported"] = std::move(map);
    a->sliceScores.assign(static_cast<std::size_t>(s.z), std::nan(""));
    const std::string& series = scan->metadata().seriesInstanceUid;
    const std::string& frame = scan->metadata().frameOfReferenceUid;
    if (!imported.referencedSeriesUid.empty() && !series.empty() && imported.referencedSeriesUid != series)
      a->warnings.push_back(file + ": derived from another series (" + imported.referencedSeriesUid + "), shown because its grid matches");
    else if (!imported.frameOfReferenceUid.empty() && !frame.empty() && imported.frameOfReferenceUid != frame)
      a->warnings.push_back(file + ": in another frame of reference than the scan, shown because its grid matches");
    else if (series.empty())
      a->warnings.push_back(file + ": the scan on screen is not DICOM, so the map cannot be checked against it; shown because its grid matches");
    return a;
  }));
}

ReportInputs MainWindow::reportInputs() const {
  ReportInputs in;
  in.scan = sliceModel_->volume();
  in.analysis = overlay_->analysis();
  if (in.analysis) {
    const int index = modelsModel_->indexOf(QString::fromStdString(in.analysis->modelName));
    if (index >= 0) in.card = std::make_shared<const models::ModelCard>(modelsModel_->entries()[static_cast<std::size_t>(index)].card);
    if (!in.card) in.analysis.reset();  // results whose model is gone: reported without them
  }
  in.annotations = annotations_->annotations();
  in.sliceLabels = roc_->userLabels();
  in.scanLabel = currentLabel_.isEmpty() ? QFileInfo(currentPath_).fileName() : currentLabel_;
  return in;
}

void MainWindow::showExportReportDialog() {
  if (!sliceModel_->volume()) {
    statusBar()->showMessage(tr("Open a scan first: the report is about the scan on screen."), 6000);
    return;
  }
  auto* dialog = new ExportReportDialog(reportInputs(), this);
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  connect(dialog, &ExportReportDialog::exportFinished, this, [this](const QStringList& files) {
    statusBar()->showMessage(tr("Report exported: %n file(s) in %1", nullptr, static_cast<int>(files.size()))
                                 .arg(files.isEmpty() ? QString() : QFileInfo(files.first()).absolutePath()),
                             10000);
  });
  emit exportDialogOpened(dialog);
  dialog->show();
}

void MainWindow::showPacsPanel() {
  pacsDock_->show();
  pacsDock_->raise();
  pacsPanel_->setFocus();
}

void MainWindow::showShortcuts() {
  auto* box = new QMessageBox(QMessageBox::Information, tr("Keyboard shortcuts"), shortcutsText(), QMessageBox::Ok, this);
  box->setAttribute(Qt::WA_DeleteOnClose);
  box->open();
}

QString MainWindow::aboutText() {
  const auto& torch = torchRuntime();
  return tr("<h3>AnomalyLens %1</h3>"
            "<p>Finds what is abnormal in medical scans with anomaly-detection networks.</p>"
            "<p><b>Investigational use only, not for diagnosis.</b></p>"
            "<p>%2</p><p>Qt %3</p>")
      .arg(QString::fromLatin1(kVersion), QString::fromStdString(torch.summary()).toHtmlEscaped(),
           QString::fromLatin1(qVersion()));
}

void MainWindow::showAbout() {
  auto* box = new QMessageBox(QMessageBox::Information, tr("About AnomalyLens"), aboutText(), QMessageBox::Ok, this);
  box->setAttribute(Qt::WA_DeleteOnClose);
  box->setIconPixmap(windowIcon().pixmap(64, 64));
  box->open();
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
  if (event->mimeData()->hasUrls()) event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
  const auto urls = event->mimeData()->urls();
  if (!urls.isEmpty() && urls.first().isLocalFile()) {
    openFile(urls.first().toLocalFile());
    event->acceptProposedAction();
  }
}

}  // namespace al::ui
