// End to end under Xvfb: a researcher opens the training wizard from the viewer's models panel
// and goes through every page with the mouse and keyboard on tiny phantom data: f-AnoGAN's tiny
// configuration for a few iterations, paused and resumed, with the event loop measured all the
// while; the command line reproduces the wizard's losses from its specification; the model is
// saved, appears in the models panel and runs on the open scan. A second test closes the wizard
// mid-run (a checkpoint), then a new viewer offers the run at start-up and finishes it.
//
// ANOMALYLENS_WIZARD_SCREENSHOT_DIR: write each page's screenshot there (docs/screenshots).

#include <QAbstractButton>
#include <QComboBox>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMessageBox>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTest>
#include <QTimer>
#include <filesystem>

#include "../e2e/RunCommand.h"
#include "TestPaths.h"
#include "TestPhantoms.h"
#include "inference/ModelCatalog.h"
#include "mainwindow/MainWindow.h"
#include "modelspanel/ModelsModel.h"
#include "modelspanel/ModelsPanel.h"
#include "phantom/PhantomStudy.h"
#include "training/Trainer.h"
#include "wizard/TrainingRunner.h"
#include "wizard/TrainingWizard.h"
#include "wizard/TrainingWizardModel.h"

using namespace al;
namespace fs = std::filesystem;

namespace {

// The longest gap between ticks of a 5 ms timer: how long the GUI thread was away.
class StallMeter : public QObject {
 public:
  StallMeter() {
    timer_.setInterval(5);
    connect(&timer_, &QTimer::timeout, this, [this] {
      const qint64 gap = clock_.restart();
      if (gap > longest_) longest_ = gap;
    });
  }
  void start() {
    longest_ = 0;
    clock_.start();
    timer_.start();
  }
  qint64 longest() const { return longest_; }

 private:
  QTimer timer_;
  QElapsedTimer clock_;
  qint64 longest_ = 0;
};

void shot(QWidget* w, const QString& name) {
  QApplication::processEvents();
  const QImage img = w->grab().toImage();
  QVERIFY(!img.isNull());
  const QString dir = qEnvironmentVariable("ANOMALYLENS_WIZARD_SCREENSHOT_DIR");
  if (!dir.isEmpty()) QVERIFY(img.save(QDir(dir).filePath(name)));
}

void click(QAbstractButton* b) {
  QVERIFY(b);
  QVERIFY2(b->isEnabled(), qPrintable(b->text()));
  QTest::mouseClick(b, Qt::LeftButton);
}

void addPath(ui::TrainingWizard* wiz, const QString& role, const QString& path) {
  auto* edit = wiz->findChild<QLineEdit*>(role + QStringLiteral("Path"));
  QVERIFY(edit);
  edit->setFocus();
  QTest::keyClicks(edit, path);
  click(wiz->findChild<QPushButton*>(role + QStringLiteral("Add")));
}

// Method (f-AnoGAN, tiny) -> Data -> Preview -> Settings (tiny schedule) -> Train.
void goToRun(ui::TrainingWizard* wiz, const std::string& data, const QString& name, bool screenshots, int encoderIterations = 4) {
  auto* methods = wiz->findChild<QListWidget*>(QStringLiteral("methods"));
  QVERIFY(methods);
  const int row = ui::TrainingWizardModel::methodKeys().indexOf(QStringLiteral("fanogan"));
  QTest::mouseClick(methods->viewport(), Qt::LeftButton, {}, methods->visualItemRect(methods->item(row)).center());
  QCOMPARE(wiz->model()->method(), QStringLiteral("fanogan"));
  auto* config = wiz->findChild<QComboBox*>(QStringLiteral("config"));
  config->setCurrentIndex(config->findData(QStringLiteral("tiny")));
  QCOMPARE(wiz->model()->config(), QStringLiteral("tiny"));
  if (screenshots) shot(wiz, QStringLiteral("wizard-1-method.png"));
  click(wiz->button(QWizard::NextButton));
  QCOMPARE(wiz->currentId(), int(ui::TrainingWizard::DataPageId));

  QVERIFY(!wiz->button(QWizard::NextButton)->isEnabled());  // nothing chosen yet
  addPath(wiz, QStringLiteral("healthy"), QString::fromStdString(data));
  addPath(wiz, QStringLiteral("validation"), QString::fromStdString(data));
  QTRY_VERIFY_WITH_TIMEOUT(wiz->button(QWizard::NextButton)->isEnabled(), 120000);
  QTRY_VERIFY_WITH_TIMEOUT(!wiz->findChild<QLabel*>(QStringLiteral("healthyStatus"))->text().isEmpty(), 5000);
  if (screenshots) shot(wiz, QStringLiteral("wizard-2-data.png"));
  click(wiz->button(QWizard::NextButton));

  QCOMPARE(wiz->currentId(), int(ui::TrainingWizard::PreviewPageId));
  QTRY_VERIFY_WITH_TIMEOUT(wiz->button(QWizard::NextButton)->isEnabled(), 120000);
  QCOMPARE(wiz->model()->preview().size(), 3);
  if (screenshots) shot(wiz, QStringLiteral("wizard-3-preview.png"));
  click(wiz->button(QWizard::NextButton));

  QCOMPARE(wiz->currentId(), int(ui::TrainingWizard::SettingsPageId));
  auto setSpin = [&](const char* objectName, int value) {
    auto* spin = wiz->findChild<QSpinBox*>(QLatin1String(objectName));
    QVERIFY2(spin, objectName);
    spin->setValue(value);
  };
  setSpin("iterations_wgan", 6);
  setSpin("iterations_encoder", encoderIterations);
  setSpin("checkpointEvery", 2);
  setSpin("validateEvery", 2);
  setSpin("seed", 7);
  auto* nameEdit = wiz->findChild<QLineEdit*>(QStringLiteral("name"));
  nameEdit->selectAll();
  QTest::keyClicks(nameEdit, name);
  QCOMPARE(QString::fromStdString(wiz->model()->spec().name), name);
  if (screenshots) shot(wiz, QStringLiteral("wizard-4-settings.png"));
  click(wiz->button(QWizard::CommitButton));
  QCOMPARE(wiz->currentId(), int(ui::TrainingWizard::RunPageId));
}

QStringList lines(const QString& path) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly | QIODevice::Text)) return {};
  return QString::fromUtf8(f.readAll()).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
}

}  // namespace

class TestTrainingWizard : public QObject {
  Q_OBJECT
  TempDir dir_;
  std::string data_;

 private slots:
  void initTestCase() {
    qputenv("ANOMALYLENS_USER_MODELS_DIR", QByteArray::fromStdString(dir_.file("user-models")));
    qputenv("ANOMALYLENS_TRAINING_DIR", QByteArray::fromStdString(dir_.file("training")));
    data_ = writeTestPhantoms(dir_.file("oct"), PhantomKind::Oct, 6, 4, 41);
  }

  void drivesEveryPageTrainsPausesAndSaves() {
    ui::MainWindow w;
    w.resize(1280, 800);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QSignalSpy loaded(&w, &ui::MainWindow::volumeLoaded);
    const std::string scan = training::openDataSet(data_, "test").cases[0].image;
    w.openFile(QString::fromStdString(scan));
    QVERIFY(loaded.wait(60000));

    click(w.modelsPanel()->trainButton());
    ui::TrainingWizard* wiz = w.trainingWizard();
    QVERIFY(wiz);
    QVERIFY(QTest::qWaitForWindowExposed(wiz));
    goToRun(wiz, data_, QStringLiteral("e2e-fanogan"), true);
    if (QTest::currentTestFailed()) return;

    // Training runs in the worker; the GUI thread keeps ticking.
    StallMeter meter;
    meter.start();
    ui::TrainingRunner* runner = wiz->runner();
    QTRY_VERIFY_WITH_TIMEOUT(runner->progress().phase == "training" && runner->progress().done >= 2, 120000);
    auto* pause = wiz->findChild<QPushButton*>(QStringLiteral("pause"));
    click(pause);
    QCOMPARE(pause->text(), QStringLiteral("Resume"));
    QTest::qWait(300);  // the iteration in flight ends, and its update arrives
    const long atPause = runner->progress().done;
    QTest::qWait(500);
    QCOMPARE(runner->progress().done, atPause);  // no iteration while paused
    QVERIFY(wiz->findChild<QLabel*>(QStringLiteral("progressText"))->text().startsWith(QStringLiteral("Paused")));
    click(pause);
    QCOMPARE(pause->text(), QStringLiteral("Pause"));
    QTRY_VERIFY_WITH_TIMEOUT(wiz->button(QWizard::NextButton)->isEnabled(), 300000);
    const qint64 stall = meter.longest();
    qInfo("longest event-loop stall during training: %lld ms", static_cast<long long>(stall));
    QVERIFY2(stall < 100, qPrintable(QStringLiteral("the GUI thread stalled %1 ms").arg(stall)));
    QCOMPARE(runner->losses().size(), 10);
    QTRY_VERIFY_WITH_TIMEOUT(!wiz->findChild<QLabel*>(QStringLiteral("samples"))->pixmap().isNull(), 5000);
    shot(wiz, QStringLiteral("wizard-5-run.png"));

    // One engine, two faces: the CLI, given the wizard's specification, trains with the very
    // same losses.
    const QString specPath = wiz->model()->specPath();
    const QString wizardLosses = wiz->model()->lossLogPath();
    QVERIFY(QFileInfo::exists(specPath));
    const std::string cliLosses = dir_.file("cli-losses.csv");
    const CommandResult cli = runCommand(std::string(ANOMALYLENS_CLI) + " train --spec " + shellQuote(specPath.toStdString()) +
                                             " --out " + shellQuote(dir_.file("cli-model")) + " --loss-log " + shellQuote(cliLosses),
                                         true);
    QVERIFY2(cli.exitCode == 0, cli.output.c_str());
    const QStringList a = lines(wizardLosses), b = lines(QString::fromStdString(cliLosses));
    QCOMPARE(a.size(), 11);  // header and ten iterations
    QCOMPARE(a, b);

    click(wiz->button(QWizard::NextButton));
    QCOMPARE(wiz->currentId(), int(ui::TrainingWizard::FinishPageId));
    QVERIFY(wiz->findChild<QLabel*>(QStringLiteral("finishSummary"))->text().contains(QStringLiteral("AUC")));
    auto* method = wiz->findChild<QComboBox*>(QStringLiteral("thresholdMethod"));
    QCOMPARE(method->currentData().toString(), QStringLiteral("youden"));  // abnormal validation cases exist
    method->setCurrentIndex(method->findData(QStringLiteral("healthy-percentile")));
    QCOMPARE(wiz->model()->thresholdMethod(), QStringLiteral("healthy-percentile"));
    shot(wiz, QStringLiteral("wizard-6-finish.png"));

    QSignalSpy saved(wiz, &ui::TrainingWizard::modelSaved);
    click(wiz->button(QWizard::FinishButton));  // saves in a worker, then closes
    QVERIFY(saved.count() == 1 || saved.wait(60000));
    QTRY_VERIFY(w.trainingWizard() == nullptr);  // closed and deleted
    const int index = w.modelsModel()->indexOf(QStringLiteral("e2e-fanogan"));
    QVERIFY(index >= 0);
    QCOMPARE(w.modelsPanel()->selectedIndex(), index);
    QVERIFY2(w.modelsModel()->compatibility(index).isEmpty(), qPrintable(w.modelsModel()->compatibility(index)));

    // Ready to run on the open study.
    QSignalSpy done(&w, &ui::MainWindow::analysisFinished);
    QSignalSpy failed(&w, &ui::MainWindow::analysisFailed);
    w.runModel(QStringLiteral("e2e-fanogan"));
    QVERIFY2(done.wait(180000), failed.isEmpty() ? "timeout" : qPrintable(failed.first().first().toString()));
    QCOMPARE(done.first().first().toString(), QStringLiteral("e2e-fanogan"));
  }

  void closingMidRunCheckpointsAndTheNextStartOffersToResume() {
    {
      ui::MainWindow w;
      w.show();
      w.showTrainingWizard();
      ui::TrainingWizard* wiz = w.trainingWizard();
      QVERIFY(QTest::qWaitForWindowExposed(wiz));
      goToRun(wiz, data_, QStringLiteral("e2e-resumed"), false, 60);
      if (QTest::currentTestFailed()) return;
      QTRY_VERIFY_WITH_TIMEOUT(wiz->runner()->progress().phase == "training" && wiz->runner()->progress().done >= 3, 120000);
      bool asked = false;
      wiz->setConfirm([&](const QString& question) { return asked = question.contains(QStringLiteral("checkpoint")); });
      w.close();  // the viewer's window: the wizard asks, stops with a checkpoint, then both close
      QVERIFY(asked);
      QTRY_VERIFY_WITH_TIMEOUT(w.trainingWizard() == nullptr, 60000);
      QTRY_VERIFY_WITH_TIMEOUT(!w.isVisible(), 10000);
    }
    const auto runs = training::findInterruptedRuns(inference::trainingWorkDir());
    QCOMPARE(runs.size(), 1u);
    QVERIFY(runs[0].done >= 3 && runs[0].done < 66);

    ui::MainWindow w;
    w.show();
    QMessageBox* box = nullptr;
    QTRY_VERIFY_WITH_TIMEOUT((box = w.findChild<QMessageBox*>(QStringLiteral("resumeTrainingBox"))) != nullptr, 10000);
    QVERIFY(box->text().contains(QStringLiteral("e2e-resumed")));
    QAbstractButton* resume = nullptr;
    for (auto* b : box->buttons())
      if (b->text() == QStringLiteral("Resume")) resume = b;
    click(resume);
    ui::TrainingWizard* wiz = w.trainingWizard();
    QVERIFY(wiz);
    QCOMPARE(wiz->currentId(), int(ui::TrainingWizard::RunPageId));
    QVERIFY(wiz->runner()->losses().size() >= 3);  // the plot holds the losses before the stop
    QTRY_VERIFY_WITH_TIMEOUT(wiz->button(QWizard::NextButton)->isEnabled(), 300000);
    QCOMPARE(wiz->runner()->outcome().history.size(), 66u);
    click(wiz->button(QWizard::NextButton));
    click(wiz->button(QWizard::FinishButton));
    QTRY_VERIFY_WITH_TIMEOUT(w.modelsModel()->indexOf(QStringLiteral("e2e-resumed")) >= 0, 60000);
    QVERIFY(training::findInterruptedRuns(inference::trainingWorkDir()).empty());
  }
};

QTEST_MAIN(TestTrainingWizard)
#include "test_training_wizard.moc"
