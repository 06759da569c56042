// The training wizard's presenter and runner, offscreen: each page's validation (data a method
// cannot use refused with its reason before any training), the preprocessing preview, the
// settings with their provenance, the specification and the run folder, a tiny training in the
// runner with pause, the threshold choices of the Finish page and Save into the user's models.

#include <QDir>
#include <QFileInfo>
#include <QImage>
#include <QSignalSpy>
#include <QTimer>
#include <QTest>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "TestPaths.h"
#include "TestPhantoms.h"
#include "eval/Metrics.h"
#include "inference/ModelCatalog.h"
#include "io/DicomSeriesReader.h"
#include "io/VolumeReader.h"
#include "models/ModelFile.h"
#include "phantom/PhantomStudy.h"
#include "roc/RocModel.h"
#include "training/DataSet.h"
#include "wizard/TrainingRunner.h"
#include "wizard/TrainingWizardModel.h"

using namespace al;
using Role = training::DataRole;
namespace fs = std::filesystem;

namespace {

bool waitChecked(ui::TrainingWizardModel& m) {
  m.checkData();
  QSignalSpy spy(&m, &ui::TrainingWizardModel::dataChecked);
  return spy.wait(120000);
}

}  // namespace

class TestTrainingWizardModel : public QObject {
  Q_OBJECT
  TempDir dir_;
  std::string oct_, mri_;

 private slots:
  void initTestCase() {
    qputenv("ANOMALYLENS_USER_MODELS_DIR", QByteArray::fromStdString(dir_.file("user-models")));
    qputenv("ANOMALYLENS_TRAINING_DIR", QByteArray::fromStdString(dir_.file("training")));
    oct_ = writeTestPhantoms(dir_.file("oct"), PhantomKind::Oct, 6, 4, 31);
    mri_ = writeTestPhantoms(dir_.file("mri"), PhantomKind::Mri, 2, 1, 31);
  }

  void methodPageDescribesEachKind() {
    ui::TrainingWizardModel m;
    QCOMPARE(ui::TrainingWizardModel::methodKeys().size(), 5);
    for (const auto& k : ui::TrainingWizardModel::methodKeys())
      QVERIFY2(ui::TrainingWizardModel::methodHtml(k).contains(QStringLiteral("Paper:")), qPrintable(k));
    m.setMethod(QStringLiteral("a2bgan"));
    QVERIFY(m.needsMixedSet());
    QVERIFY(!m.takesMri());
    m.setMethod(QStringLiteral("adm"));
    QVERIFY(m.takesMri());
    QVERIFY(!m.needsMixedSet());
    QVERIFY_THROWS_EXCEPTION(al::Error, m.setMethod(QStringLiteral("resnet")));
    QVERIFY_THROWS_EXCEPTION(al::Error, m.setConfig(QStringLiteral("huge")));
  }

  void dataPageAcceptsUsableDataAndCounts() {
    ui::TrainingWizardModel m;
    m.setMethod(QStringLiteral("fanogan"));
    m.setConfig(QStringLiteral("tiny"));
    QVERIFY(m.dataProblem().contains(QStringLiteral("healthy")));
    m.addSource(Role::Healthy, QString::fromStdString(oct_));
    m.addSource(Role::Validation, QString::fromStdString(oct_));
    QVERIFY(waitChecked(m));
    QVERIFY2(m.dataProblem().isEmpty(), qPrintable(m.dataProblem()));
    QCOMPARE(m.report(Role::Healthy)->images, 16);  // the manifest's 4 train cases of 4 B-scans
    QVERIFY(m.reportText(Role::Validation).contains(QStringLiteral("abnormal")));
    QVERIFY(!m.thumbnails(Role::Healthy).isEmpty());
    QVERIFY(!m.thumbnails(Role::Healthy).front().image.isNull());
    // Two sources are read as one set.
    m.addSource(Role::Healthy, QString::fromStdString(oct_) + QStringLiteral("/manifest.json"));
    QVERIFY(!m.isDataChecked());
    QVERIFY(waitChecked(m));
    QCOMPARE(m.report(Role::Healthy)->images, 32);
  }

  void dataPageRefusesWhatTheMethodCannotUse() {
    ui::TrainingWizardModel m;
    m.setConfig(QStringLiteral("tiny"));
    m.setMethod(QStringLiteral("fanogan"));
    m.setSources(Role::Healthy, {QString::fromStdString(mri_)});
    m.setSources(Role::Validation, {QString::fromStdString(oct_)});
    QVERIFY(waitChecked(m));
    QVERIFY2(m.dataProblem().contains(QStringLiteral("OCT")), qPrintable(m.dataProblem()));  // wrong modality

    m.setMethod(QStringLiteral("adm"));
    m.setSources(Role::Healthy, {QString::fromStdString(oct_)});
    m.setSources(Role::Validation, {QString::fromStdString(mri_)});
    QVERIFY(waitChecked(m));
    QVERIFY2(m.dataProblem().contains(QStringLiteral("contrast")), qPrintable(m.dataProblem()));  // missing contrasts

    m.setMethod(QStringLiteral("fanogan"));
    fs::create_directories(dir_.file("bad"));
    std::ofstream(dir_.file("bad/broken.nii")) << "not a NIfTI file";
    m.setSources(Role::Healthy, {QString::fromStdString(dir_.file("bad"))});
    m.setSources(Role::Validation, {QString::fromStdString(oct_)});
    QVERIFY(waitChecked(m));
    QVERIFY2(m.dataProblem().contains(QStringLiteral("broken.nii")), qPrintable(m.dataProblem()));  // unreadable

    std::ofstream(dir_.file("one.csv")) << "file,label\n" << training::openDataSet(oct_, "train").cases[0].image << ",0\n";
    m.setSources(Role::Healthy, {QString::fromStdString(dir_.file("one.csv"))});
    QVERIFY(waitChecked(m));
    QVERIFY2(m.dataProblem().contains(QStringLiteral("at least")), qPrintable(m.dataProblem()));  // too few images

    m.setMethod(QStringLiteral("a2bgan"));
    m.setSources(Role::Healthy, {QString::fromStdString(oct_)});
    QVERIFY2(m.dataProblem().contains(QStringLiteral("mixed")), qPrintable(m.dataProblem()));  // A2B-GAN's mixed set
    m.setSources(Role::Mixed, {QString::fromStdString(oct_)});
    QVERIFY(waitChecked(m));
    QVERIFY2(m.dataProblem().isEmpty(), qPrintable(m.dataProblem()));
  }

  // Class-folder data whose healthy class is not called NORMAL: the wizard's healthy-class field
  // decides which folder is healthy, for the data check as for the training specification.
  void theHealthyClassOfClassFoldersIsTheUsersChoice() {
    const fs::path root = dir_.file("classes");
    const training::DataSet phantoms = training::openDataSet(oct_, "train");
    int written = 0;
    for (const auto& [cls, n] : {std::pair<const char*, int>{"HEALTHY", 8}, {"CNV", 4}}) {
      fs::create_directories(root / "train" / cls);
      for (int i = 0; i < n; ++i, ++written) {
        const Volume v = readVolume(phantoms.cases[static_cast<std::size_t>(written) % phantoms.cases.size()].image);
        QImage png(static_cast<int>(v.size().x), static_cast<int>(v.size().y), QImage::Format_Grayscale8);
        for (int y = 0; y < png.height(); ++y)
          for (int x = 0; x < png.width(); ++x) png.scanLine(y)[x] = static_cast<uchar>(v.value(x, y, i % v.size().z));
        QVERIFY(png.save(QString::fromStdString((root / "train" / cls / (std::string(cls) + std::to_string(i) + ".png")).string())));
      }
    }
    ui::TrainingWizardModel m;
    m.setMethod(QStringLiteral("fanogan"));
    m.setConfig(QStringLiteral("tiny"));
    QCOMPARE(m.healthyClass(), QStringLiteral("NORMAL"));
    m.addSource(Role::Healthy, QString::fromStdString(root.string()));
    QVERIFY(waitChecked(m));
    QVERIFY2(!m.dataProblem().isEmpty(), "no NORMAL class: nothing healthy to train on");
    QSignalSpy changed(&m, &ui::TrainingWizardModel::sourcesChanged);
    m.setHealthyClass(QStringLiteral(" healthy "));
    QCOMPARE(changed.count(), 1);
    QCOMPARE(m.healthyClass(), QStringLiteral("healthy"));
    QVERIFY(!m.isDataChecked());
    QVERIFY(waitChecked(m));
    QVERIFY2(m.report(Role::Healthy)->problems.empty(), qPrintable(m.reportText(Role::Healthy)));
    QCOMPARE(m.report(Role::Healthy)->images, 8);  // the HEALTHY folder; CNV kept out
    QCOMPARE(m.spec().healthyClass, std::string("healthy"));
    m.setHealthyClass(QString());
    QCOMPARE(m.healthyClass(), QStringLiteral("NORMAL"));
  }

  void seriesFromTheStudyBrowserBecomeCases() {
    // DICOM phantoms in one folder: series share it, as in a real export.
    TempDir d;
    const DicomFolderIndex mriIndex = indexDicomFolder(writeTestPhantoms(d.file("mri"), PhantomKind::Mri, 1, 0, 33, 4, PhantomFormat::Dicom));
    QVERIFY(mriIndex.series.size() >= 4);  // one series per contrast
    ui::TrainingWizardModel m;
    m.setConfig(QStringLiteral("tiny"));
    m.setMethod(QStringLiteral("adm"));
    QVERIFY(!m.addSeries(Role::Healthy, {}).isEmpty());
    QVERIFY(m.addSeries(Role::Healthy, mriIndex.series).isEmpty());
    QCOMPARE(m.sources(Role::Healthy).size(), 1);  // one study: its series are the contrasts
    m.setSources(Role::Validation, {QString::fromStdString(mri_)});
    QVERIFY(waitChecked(m));
    QVERIFY2(m.report(Role::Healthy)->problems.empty(), m.report(Role::Healthy)->problems.empty() ? "" : m.report(Role::Healthy)->problems[0].c_str());
    QCOMPARE(m.report(Role::Healthy)->cases, 1);

    const DicomFolderIndex octIndex = indexDicomFolder(writeTestPhantoms(d.file("oct"), PhantomKind::Oct, 2, 0, 33, 4, PhantomFormat::Dicom));
    QCOMPARE(octIndex.series.size(), 2u);
    m.setMethod(QStringLiteral("fanogan"));
    m.setSources(Role::Healthy, {});
    QVERIFY(m.addSeries(Role::Healthy, octIndex.series).isEmpty());
    QCOMPARE(m.sources(Role::Healthy).size(), 2);  // one case per series
    m.setSources(Role::Validation, {QString::fromStdString(oct_)});
    QVERIFY(waitChecked(m));
    QVERIFY2(m.dataProblem().isEmpty(), qPrintable(m.dataProblem()));
    QCOMPARE(m.report(Role::Healthy)->images, 8);
  }

  void previewRunsTheEnginesPipeline() {
    ui::TrainingWizardModel m;
    m.setConfig(QStringLiteral("tiny"));
    m.setMethod(QStringLiteral("fanogan"));
    m.setSources(Role::Healthy, {QString::fromStdString(oct_)});
    QSignalSpy ready(&m, &ui::TrainingWizardModel::previewReady);
    m.preparePreview();
    QVERIFY(ready.wait(120000));
    QVERIFY2(m.previewError().isEmpty(), qPrintable(m.previewError()));
    QCOMPARE(m.preview().size(), 3);
    QVERIFY(m.preview()[0].caption.contains(QStringLiteral("patch")));
    QVERIFY(m.pipelineText().contains(QStringLiteral("flatten")));
    // The prepared image outlines the retina band in green.
    const QImage& img = m.preview()[0].prepared;
    int green = 0;
    for (int y = 0; y < img.height(); ++y)
      for (int x = 0; x < img.width(); ++x) green += img.pixel(x, y) == qRgb(60, 220, 90);
    QVERIFY2(green > img.width(), qPrintable(QString::number(green)));

    m.setMethod(QStringLiteral("adm"));
    m.setSources(Role::Healthy, {QString::fromStdString(mri_)});
    m.preparePreview();
    QVERIFY(ready.wait(120000));
    QVERIFY2(m.previewError().isEmpty(), qPrintable(m.previewError()));
    QVERIFY(m.preview()[0].caption.contains(QStringLiteral("resized")));
    QVERIFY(m.pipelineText().contains(QStringLiteral("brain")));
  }

  void settingsCarryThePapersDefaultsAndRefuseBadValues() {
    ui::TrainingWizardModel m;
    m.setMethod(QStringLiteral("fanogan"));
    const auto stages = m.stages();
    QCOMPARE(stages.size(), 2);
    QVERIFY(stages[0].paperIterations > 0);
    QCOMPARE(stages[0].iterations, stages[0].paperIterations);  // the paper's schedule by default
    const auto params = m.hyperParameters();
    QVERIFY(!params.isEmpty());
    QVERIFY2(params[0].tooltip.contains(QStringLiteral("paper:")) && params[0].tooltip.contains(QStringLiteral("lite:")),
             qPrintable(params[0].tooltip));
    QVERIFY(!m.setHyperParameter(QStringLiteral("no_such"), QStringLiteral("1")).isEmpty());
    QVERIFY(!m.setHyperParameter(params[0].key, QStringLiteral("[oops")).isEmpty());
    QVERIFY(m.setHyperParameter(params[0].key, params[0].value).isEmpty());
    m.setName(QString());
    QVERIFY(!m.settingsProblem().isEmpty());
    m.setName(QStringLiteral("bad name/with slash"));
    QVERIFY(!m.settingsProblem().isEmpty());
    m.setName(QStringLiteral("my-model"));
    QVERIFY2(m.settingsProblem().isEmpty(), qPrintable(m.settingsProblem()));
    QVERIFY(ui::TrainingWizardModel::devices().contains(QStringLiteral("cpu")));
    QVERIFY(ui::TrainingWizardModel::deviceText().contains(QStringLiteral("CPU")));
  }

  void trainsPausesCalibratesAndSaves() {
    ui::TrainingWizardModel m;
    m.setConfig(QStringLiteral("tiny"));
    m.setMethod(QStringLiteral("fanogan"));
    // Two healthy sources: the run folder gets a manifest that combines them.
    m.setSources(Role::Healthy, {QString::fromStdString(oct_), QString::fromStdString(oct_ + "/manifest.json")});
    m.setSources(Role::Validation, {QString::fromStdString(oct_)});
    m.setIterations(QStringLiteral("wgan"), 6);
    m.setIterations(QStringLiteral("encoder"), 4);
    m.setCheckpointEvery(2);
    m.setValidateEvery(2);
    m.setValidationImages(8);
    m.setSeed(5);
    m.setName(QStringLiteral("wizard-fanogan"));
    const QString specPath = m.prepareRun();
    QVERIFY(QFileInfo::exists(specPath));
    const auto spec = training::TrainingSpec::fromJson(nlohmann::json::parse(std::ifstream(specPath.toStdString())), "spec");
    QCOMPARE(QString::fromStdString(spec.healthy), QDir(m.runDir()).filePath(QStringLiteral("healthy.json")));
    QCOMPARE(training::openDataSet(spec.healthy).cases.size(), 8u);
    QCOMPARE(spec.iterations.at("wgan"), 6L);
    QVERIFY(m.commandLine().contains(QStringLiteral("train --spec")));

    ui::TrainingRunner runner;
    QSignalSpy finished(&runner, &ui::TrainingRunner::finished);
    QSignalSpy failed(&runner, &ui::TrainingRunner::failed);
    // Paused once two iterations are seen; no iteration may run between 150 ms and 550 ms after
    // (the one in flight when pausing ends first).
    bool paused = false;
    long settled = -1, later = -2;
    connect(&runner, &ui::TrainingRunner::progressed, this, [&] {
      if (!paused && runner.progress().phase == "training" && runner.progress().done >= 2) {
        paused = true;
        runner.pause();
        QTimer::singleShot(150, &runner, [&] { settled = runner.progress().done; });
        QTimer::singleShot(550, &runner, [&] {
          later = runner.progress().done;
          runner.resume();
        });
      }
    });
    runner.start(m.spec(), false, m.lossLogPath());
    QVERIFY(finished.wait(300000) || !failed.isEmpty());
    QVERIFY2(failed.isEmpty(), failed.isEmpty() ? "" : qPrintable(failed[0][0].toString()));
    QVERIFY(paused);
    QCOMPARE(later, settled);
    QCOMPARE(runner.losses().size(), 10);
    QVERIFY(!runner.validations().isEmpty());
    QVERIFY(!runner.samples().inputs.isEmpty());
    QVERIFY(QFileInfo::exists(m.lossLogPath()));

    m.setOutcome(runner.outcome());
    QVERIFY(m.hasAbnormalValidation());
    QCOMPARE(m.thresholdMethod(), QStringLiteral("youden"));  // abnormal validation images exist
    QVERIFY(m.roc()->hasCurve());
    m.setThresholdMethod(QStringLiteral("healthy-percentile"));
    m.setHealthyPercentile(95);
    std::vector<double> healthy;
    for (const auto& im : runner.outcome().validation.images)
      if (im.label == 0) healthy.push_back(im.score);
    QCOMPARE(m.threshold(), eval::percentile(healthy, 95));
    QCOMPARE(*m.roc()->threshold(), m.threshold());
    QVERIFY(m.finishText().contains(QStringLiteral("AUC")));
    // A drag on the ROC panel's histogram is the user's own threshold.
    m.roc()->setThreshold(m.threshold() * 1.5 + 1);
    QCOMPARE(m.thresholdMethod(), QStringLiteral("manual"));
    m.setThresholdMethod(QStringLiteral("healthy-percentile"));

    // "By hand" keeps the threshold on screen until the histogram is dragged.
    const double p95 = m.threshold();
    m.setThresholdMethod(QStringLiteral("manual"));
    QCOMPARE(m.thresholdMethod(), QStringLiteral("manual"));
    QCOMPARE(m.threshold(), p95);
    m.setThresholdMethod(QStringLiteral("healthy-percentile"));

    const QString card = m.save();
    QVERIFY(QFileInfo::exists(card));
    QVERIFY(!m.hasUnsavedModel());
    // The trained copy leaves the run's folder; its specification and manifests stay for the card.
    QVERIFY(!QFileInfo::exists(QDir(m.runDir()).filePath(QStringLiteral("model.json"))));
    QVERIFY(QFileInfo::exists(specPath));
    QVERIFY(QFileInfo::exists(QDir(m.runDir()).filePath(QStringLiteral("healthy.json"))));
    const models::ModelCard c = models::readModelCard(card.toStdString());
    QCOMPARE(QString::fromStdString(c.name), QStringLiteral("wizard-fanogan"));
    QCOMPARE(*c.threshold, eval::percentile(healthy, 95));
    QCOMPARE(QString::fromStdString(c.thresholdMethod), QStringLiteral("healthy p95"));
    QVERIFY(QFileInfo::exists(QString::fromStdString(inference::userModelDir() + "/wizard-fanogan.losses.csv")));
    std::vector<std::string> problems;
    const auto listed = inference::listModels({}, &problems, {inference::userModelDir()});
    QVERIFY(std::any_of(listed.begin(), listed.end(), [](const auto& e) { return e.card.name == "wizard-fanogan"; }));
    // The name is taken now.
    QVERIFY(!m.settingsProblem().isEmpty());
  }

  void aCancelledRunIsFoundAndResumed() {
    ui::TrainingWizardModel m;
    m.setConfig(QStringLiteral("tiny"));
    m.setMethod(QStringLiteral("fanogan"));
    m.setSources(Role::Healthy, {QString::fromStdString(oct_)});
    m.setSources(Role::Validation, {QString::fromStdString(oct_)});
    m.setIterations(QStringLiteral("wgan"), 6);
    m.setIterations(QStringLiteral("encoder"), 4);
    m.setValidationImages(8);
    m.setIterations(QStringLiteral("encoder"), 60);  // the cancel at iteration 3 comes long before the end
    m.setName(QStringLiteral("stopped-run"));
    m.prepareRun();
    ui::TrainingRunner runner;
    QSignalSpy stopped(&runner, &ui::TrainingRunner::stopped);
    connect(&runner, &ui::TrainingRunner::progressed, this, [&] {
      if (runner.progress().phase == "training" && runner.progress().done >= 3) runner.cancel();
    });
    runner.start(m.spec(), false, m.lossLogPath());
    QVERIFY(stopped.wait(300000));
    QVERIFY(!stopped[0][0].toString().isEmpty());
    const auto runs = training::findInterruptedRuns(inference::trainingWorkDir());
    QCOMPARE(runs.size(), 1u);
    QCOMPARE(QString::fromStdString(runs[0].spec.name), QStringLiteral("stopped-run"));

    ui::TrainingWizardModel again;
    again.setResumed(runs[0]);
    QVERIFY(again.resumed());
    QCOMPARE(again.method(), QStringLiteral("fanogan"));
    QCOMPARE(again.runDir(), m.runDir());
    ui::TrainingRunner second;
    QSignalSpy finished(&second, &ui::TrainingRunner::finished);
    second.start(again.spec(), true, again.lossLogPath());
    QVERIFY(second.losses().size() >= 3);  // the plot starts with the losses before the stop
    QVERIFY(finished.wait(300000));
    QCOMPARE(second.outcome().history.size(), 66u);
    QVERIFY(training::findInterruptedRuns(inference::trainingWorkDir()).empty());
  }
};

QTEST_MAIN(TestTrainingWizardModel)
#include "test_training_wizard_model.moc"
