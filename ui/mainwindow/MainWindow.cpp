#include "mainwindow/MainWindow.h"

#include <QAction>
#include <QApplication>
#include <QCoreApplication>
#include <QDockWidget>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QKeySequence>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QStatusBar>
#include <QtConcurrent/QtConcurrentRun>
#include <algorithm>

#include "errors/Error.h"
#include "io/VolumeReader.h"
#include "io/oct/ImageStackReader.h"
#include "io/oct/OptFundus.h"
#include "runtime/TorchRuntime.h"
#include "runtime/Version.h"
#include "octview/EnFaceModel.h"
#include "octview/EnFaceView.h"
#include "sliceview/SliceView.h"
#include "sliceview/SliceViewModel.h"
#include "studybrowser/StudyBrowser.h"
#include "studybrowser/StudyBrowserModel.h"

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
      probeLabel_(new QLabel(this)) {
  setWindowTitle(QStringLiteral("AnomalyLens"));
  setCentralWidget(sliceView_);
  auto* studies = new QDockWidget(tr("Studies"), this);
  studies->setObjectName(QStringLiteral("studies"));
  studies->setWidget(studyBrowser_);
  addDockWidget(Qt::LeftDockWidgetArea, studies);
  resizeDocks({studies}, {300}, Qt::Horizontal);
  enFaceDock_->setObjectName(QStringLiteral("enface"));
  enFaceDock_->setWidget(new EnFaceView(enFaceModel_, sliceModel_, this));
  addDockWidget(Qt::RightDockWidgetArea, enFaceDock_);
  resizeDocks({enFaceDock_}, {300}, Qt::Horizontal);
  enFaceDock_->hide();
  connect(studyBrowser_, &StudyBrowser::seriesActivated, this, &MainWindow::openSeries);
  connect(studyBrowser_, &StudyBrowser::indexFailed, this, &MainWindow::loadFailed);
  connect(studyBrowser_, &StudyBrowser::indexed, this, [this](int count, int) {
    statusBar()->showMessage(tr("%n series found", nullptr, count), 5000);
    const QString source = studyBrowser_->model()->source();
    if (openSingleSeries_ && count == 1) {
      openSeries(studyBrowser_->model()->index().series.front());
    } else if (openSingleSeries_ && count == 0 && QFileInfo(source).isDir() && !imageStackFiles(source.toStdString()).empty()) {
      // No DICOM, but B-scan images: the folder is one volume.
      startLoad(QFileInfo(source).fileName(), [source] { return guarded(source, [&] { return readVolume(source.toStdString()); }); });
    }
    openSingleSeries_ = false;
  });
  setAcceptDrops(true);
  statusBar()->addPermanentWidget(probeLabel_);
  statusBar()->showMessage(tr("Ready"));
  connect(sliceView_, &SliceView::probed, probeLabel_, &QLabel::setText);
  connect(&loadWatcher_, &QFutureWatcher<LoadResult>::finished, this, &MainWindow::onLoadFinished);
  buildMenus();
  resize(1100, 800);
}

MainWindow::~MainWindow() { loadWatcher_.waitForFinished(); }

void MainWindow::buildMenus() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  QAction* open = file->addAction(tr("&Open..."), this, &MainWindow::showOpenDialog);
  open->setShortcut(QKeySequence::Open);
  QAction* openFolder = file->addAction(tr("Open &folder..."), this, &MainWindow::showOpenFolderDialog);
  openFolder->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_O));
  file->addAction(tr("Open &demo study"), this, &MainWindow::openDemoStudy);
  file->addSeparator();
  QAction* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
  quit->setShortcut(QKeySequence::Quit);

  QMenu* view = menuBar()->addMenu(tr("&View"));
  QAction* reset = view->addAction(tr("&Reset view"), this, [this] {
    sliceModel_->resetView();
    sliceModel_->resetWindowLevel();
  });
  reset->setShortcut(Qt::Key_R);

  QMenu* help = menuBar()->addMenu(tr("&Help"));
  help->addAction(tr("&About AnomalyLens"), this, &MainWindow::showAbout);
}

QWidget* MainWindow::enFacePanel() const { return enFaceDock_; }

bool MainWindow::isLoading() const { return loadWatcher_.isRunning(); }

void MainWindow::showOpenDialog() {
  auto* dialog = new QFileDialog(this, tr("Open a scan"), lastFolder_,
                                 tr("Scans (*.dcm *.vol *.nii *.nii.gz *.mha *.mhd *.nrrd *.nhdr DICOMDIR);;All files (*)"));
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
  const bool dicomdir = info.isFile() && (info.fileName().compare(QStringLiteral("DICOMDIR"), Qt::CaseInsensitive) == 0 ||
                                          isDicomDir(path.toStdString()));
  if (info.isDir() || dicomdir) {
    lastFolder_ = info.absoluteFilePath();
    openSingleSeries_ = true;
    studyBrowser_->indexPath(path);
    return;
  }
  lastFolder_ = info.absolutePath();
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
  loadWatcher_.setFuture(QtConcurrent::run(std::move(job)));
}

void MainWindow::onLoadFinished() {
  const LoadResult result = loadWatcher_.result();
  if (!result.volume) {
    statusBar()->showMessage(tr("Could not open %1").arg(QFileInfo(result.path).fileName()), 5000);
    auto* box = new QMessageBox(QMessageBox::Warning, tr("Cannot open file"), result.error, QMessageBox::Ok, this);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();  // window-modal, without a nested event loop
    emit loadFailed(result.error);
    return;
  }
  sliceModel_->setVolume(result.volume);
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
