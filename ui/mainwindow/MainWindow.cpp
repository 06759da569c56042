#include "mainwindow/MainWindow.h"

#include <QAction>
#include <QApplication>
#include <QCoreApplication>
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

#include "errors/Error.h"
#include "io/VolumeReader.h"
#include "runtime/TorchRuntime.h"
#include "runtime/Version.h"
#include "sliceview/SliceView.h"
#include "sliceview/SliceViewModel.h"

namespace al::ui {

namespace {

LoadResult loadInBackground(const QString& path) {
  LoadResult result;
  result.path = path;
  try {
    result.volume = std::make_shared<const Volume>(readVolume(path.toStdString()));
  } catch (const al::Error& e) {
    result.error = QString::fromStdString(e.message());
  } catch (const std::exception& e) {
    result.error = path + QStringLiteral(": ") + QString::fromStdString(e.what());
  }
  return result;
}

}  // namespace

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent), sliceModel_(new SliceViewModel(this)), sliceView_(new SliceView(sliceModel_, this)),
      probeLabel_(new QLabel(this)) {
  setWindowTitle(QStringLiteral("AnomalyLens"));
  setCentralWidget(sliceView_);
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

bool MainWindow::isLoading() const { return loadWatcher_.isRunning(); }

void MainWindow::showOpenDialog() {
  auto* dialog = new QFileDialog(this, tr("Open a scan"), lastFolder_,
                                 tr("Scans (*.dcm *.nii *.nii.gz *.mha *.mhd *.nrrd *.nhdr);;All files (*)"));
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

void MainWindow::openFile(const QString& path) {
  if (path.isEmpty()) return;
  if (isLoading()) {
    statusBar()->showMessage(tr("Still loading the previous file"), 3000);
    return;
  }
  lastFolder_ = QFileInfo(path).absolutePath();
  statusBar()->showMessage(tr("Loading %1 ...").arg(QFileInfo(path).fileName()));
  loadWatcher_.setFuture(QtConcurrent::run(loadInBackground, path));
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
  const auto& v = *result.volume;
  setWindowTitle(QStringLiteral("%1 - AnomalyLens").arg(QFileInfo(result.path).fileName()));
  statusBar()->showMessage(tr("%1: %2 x %3 x %4, %5")
                               .arg(QFileInfo(result.path).fileName())
                               .arg(v.size().x).arg(v.size().y).arg(v.size().z)
                               .arg(QString::fromLatin1(pixelTypeName(v.pixelType()))));
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
