// anomalylens: the viewer. Wiring only; everything else lives in ui/ and core/.

#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QFileInfo>
#include <QElapsedTimer>
#include <QTimer>
#include <memory>
#include <spdlog/spdlog.h>

#include "mainwindow/MainWindow.h"
#include "render3d/VolumeRenderView.h"
#include "runtime/Logging.h"
#include "runtime/TorchRuntime.h"
#include "runtime/Version.h"

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setApplicationName(QStringLiteral("AnomalyLens"));
  QApplication::setApplicationVersion(QString::fromLatin1(al::kVersion));
  QApplication::setOrganizationName(QStringLiteral("AnomalyLens"));

  QCommandLineParser parser;
  parser.setApplicationDescription(QStringLiteral("AnomalyLens: anomaly detection viewer for medical scans"));
  parser.addHelpOption();
  parser.addVersionOption();
  parser.addPositionalArgument(QStringLiteral("file"), QStringLiteral("A scan to open (DICOM, NIfTI, MetaImage, NRRD)."));
  QCommandLineOption screenshot(QStringLiteral("screenshot"),
                                QStringLiteral("Save a PNG of the window once the file is shown, then quit."),
                                QStringLiteral("png"));
  QCommandLineOption demo(QStringLiteral("demo"), QStringLiteral("Open the bundled demo study."));
  QCommandLineOption demoMri(QStringLiteral("demo-mri"),
                             QStringLiteral("Open the bundled MRI demo (a multiple-sclerosis patient) with the model trained on real brains."));
  QCommandLineOption model(QStringLiteral("model"),
                           QStringLiteral("Run this model (a card's name or path) on the scan once it is open and show its heatmap. "
                                          "With --demo the best bundled model for the demo runs unless --no-model is given."),
                           QStringLiteral("name"));
  QCommandLineOption layout(QStringLiteral("layout"),
                            QStringLiteral("Start in this layout: single, or orthogonal (three linked planes and 3D)."),
                            QStringLiteral("name"), QStringLiteral("single"));
  QCommandLineOption noModel(QStringLiteral("no-model"), QStringLiteral("Open the scan without running a model."));
  QCommandLineOption verbose(QStringLiteral("verbose"), QStringLiteral("Log debug messages to the console."));
  // (not "--session": Qt takes that for X11 session management before the parser sees it)
  QCommandLineOption session(QStringLiteral("open-session"),
                             QStringLiteral("Open a saved reading session (.alsession): its scan, annotations and marks."),
                             QStringLiteral("file"));
  parser.addOption(screenshot);
  parser.addOption(verbose);
  parser.addOption(session);
  parser.addOption(demo);
  parser.addOption(demoMri);
  parser.addOption(model);
  parser.addOption(noModel);
  parser.addOption(layout);
  parser.process(app);

  const std::string logFile = al::initLogging({"anomalylens", parser.isSet(verbose), true});
  spdlog::info("AnomalyLens {} starting; log file {}", al::kVersion, logFile.empty() ? "(none)" : logFile);
  spdlog::info("{}", al::torchRuntime().summary());

  al::ui::MainWindow window;
  window.setLayoutName(parser.value(layout));
  window.show();

  const bool runModel = parser.isSet(model) || ((parser.isSet(demo) || parser.isSet(demoMri)) && !parser.isSet(noModel));
  if (parser.isSet(screenshot)) {
    const QString png = QFileInfo(parser.value(screenshot)).absoluteFilePath();
    auto grabAndQuit = [&window, png] {
      // A little later, so that the last paint has happened and the 3D view (when shown) has
      // fused and rendered the latest state; it gives up waiting for 3D after 20 s.
      auto started = std::make_shared<QElapsedTimer>();
      started->start();
      auto* poll = new QTimer(&window);
      poll->setInterval(100);
      QObject::connect(poll, &QTimer::timeout, &window, [&window, png, poll, started] {
        if (started->elapsed() < 300) return;
        auto* view3d = window.volumeRenderView();
        if (view3d->isVisible() && view3d->isBusy() && started->elapsed() < 20000) return;
        poll->stop();
        const bool ok = window.grab().save(png);
        if (!ok) spdlog::error("cannot write the screenshot {}", png.toStdString());
        QApplication::exit(ok ? 0 : 1);
      });
      poll->start();
    };
    // With a model the picture is taken once its heatmap is on screen.
    if (runModel) {
      QObject::connect(&window, &al::ui::MainWindow::analysisFinished, &window, grabAndQuit);
      QObject::connect(&window, &al::ui::MainWindow::analysisFailed, &window, [](const QString& message) {
        spdlog::error("{}", message.toStdString());
        QApplication::exit(1);
      });
    } else {
      QObject::connect(&window, &al::ui::MainWindow::volumeLoaded, &window, grabAndQuit);
    }
    QObject::connect(&window, &al::ui::MainWindow::loadFailed, &window, [](const QString& message) {
      spdlog::error("{}", message.toStdString());
      QApplication::exit(1);
    });
    if (parser.positionalArguments().isEmpty() && !parser.isSet(demo) && !parser.isSet(demoMri)) grabAndQuit();
  }
  if (parser.positionalArguments().isEmpty() && parser.isSet(demoMri) && !parser.isSet(model)) {
    window.openDemoMriStudy(runModel);
    return QApplication::exec();
  }
  // A reading a crash or a kill cut short is offered back (not while taking a screenshot).
  if (!parser.isSet(screenshot)) QTimer::singleShot(0, &window, &al::ui::MainWindow::offerRecovery);
  if (parser.isSet(session)) {
    QObject::connect(&window, &al::ui::MainWindow::sessionFailed, &window,
                     [](const QString& message) { spdlog::error("{}", message.toStdString()); });
    window.openSession(parser.value(session));
    return QApplication::exec();
  }
  if (runModel) window.runModel(parser.value(model), true);
  if (!parser.positionalArguments().isEmpty()) {
    window.openFile(parser.positionalArguments().first());
  } else if (parser.isSet(demoMri)) {
    window.openDemoMriStudy(false);
  } else if (parser.isSet(demo)) {
    window.openDemoStudy();
  }
  return QApplication::exec();
}
