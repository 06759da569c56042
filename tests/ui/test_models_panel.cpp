// The models panel's presenter and widget, offscreen: cards listed from the bundled folder,
// which models can take which scan, a run in a worker with progress, its cache, cancel, and a
// damaged model file reported by name.

#include <QPushButton>
#include <QSignalSpy>
#include <QTest>
#include <QTreeWidget>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "TestPaths.h"
#include "modelspanel/ModelsModel.h"
#include "modelspanel/ModelsPanel.h"
#include "overlay/OverlayModel.h"
#include "phantom/OctPhantom.h"

using namespace al;
namespace fs = std::filesystem;

namespace {

std::shared_ptr<const Volume> octScan(int bscans, int lesions) {
  OctPhantomOptions o;
  o.bscans = bscans;
  o.seed = 11;
  o.lesions.pigmentEpithelialDetachment = lesions;
  o.lesions.intraretinalFluid = lesions;
  OctPhantom p = makeOctPhantom(o);
  return std::make_shared<const Volume>(std::move(p.image));
}

const std::vector<std::string> kBundled = {ANOMALYLENS_MODELS_DIR};

}  // namespace

class TestModelsPanel : public QObject {
  Q_OBJECT
 private slots:
  void listsTheBundledCardsAndWhatTheyCanTake() {
    ui::ModelsModel m;
    m.reload(kBundled, {});
    QCOMPARE(m.count(), 6);  // one per method, and the ADM trained on real brains
    QVERIFY(m.problems().isEmpty());
    const int a2b = m.indexOf(QStringLiteral("a2bgan-oct-lite"));
    const int adm = m.indexOf(QStringLiteral("adm-mri-lite"));
    QVERIFY(a2b >= 0 && adm >= 0);
    QVERIFY(m.details(a2b).contains(QStringLiteral("Test AUC")));
    QVERIFY(!m.compatibility(a2b).isEmpty());  // no scan yet
    m.setScan(octScan(2, 0), QStringLiteral("scan-a"));
    QVERIFY(m.compatibility(a2b).isEmpty());
    QVERIFY2(m.compatibility(adm).contains(QStringLiteral("FLAIR")), qPrintable(m.compatibility(adm)));
    // The suggestion is the compatible model with the best test AUC: never the MRI model here.
    QVERIFY(m.suggested() >= 0);
    QVERIFY(m.suggested() != adm);
    QSignalSpy failed(&m, &ui::ModelsModel::failed);
    QVERIFY(!m.run(adm));
    QCOMPARE(failed.count(), 1);
    QVERIFY(failed.first().first().toString().contains(QStringLiteral("adm-mri-lite")));
  }

  void runsInAWorkerWithProgressAndCachesTheResult() {
    ui::ModelsModel m;
    m.reload(kBundled, {});
    const auto scan = octScan(3, 2);
    m.setScan(scan, QStringLiteral("scan-b"));
    const int index = m.indexOf(QStringLiteral("a2bgan-oct-lite"));
    QSignalSpy progress(&m, &ui::ModelsModel::progressChanged);
    QSignalSpy finished(&m, &ui::ModelsModel::finished);
    QVERIFY(m.run(index));
    QVERIFY(m.isRunning());  // returned at once: the work is in the worker
    QVERIFY(finished.wait(120000));
    QVERIFY(progress.count() >= 2);
    const auto a = finished.first().at(1).value<std::shared_ptr<const inference::ScanAnalysis>>();
    QVERIFY(a);
    QCOMPARE(a->sliceScores.size(), std::size_t{3});
    QVERIFY(a->maps.count("difference"));
    QCOMPARE(a->maps.at("difference").size(), scan->size());  // on the scan's grid
    QVERIFY(a->threshold.has_value());
    // The same scan and model again: the cached result, at once.
    finished.clear();
    QVERIFY(m.run(index));
    QCOMPARE(finished.count(), 1);
    QCOMPARE(finished.first().at(1).value<std::shared_ptr<const inference::ScanAnalysis>>().get(), a.get());
    QCOMPARE(m.cached(index).get(), a.get());
    m.setScan(scan, QStringLiteral("another series"));
    QVERIFY(!m.cached(index));
  }

  void cancelStopsARun() {
    ui::ModelsModel m;
    m.reload(kBundled, {});
    m.setScan(octScan(12, 1), QStringLiteral("scan-c"));
    // AnoGAN's latent search is the slowest: plenty of time to cancel mid-way.
    const int index = m.indexOf(QStringLiteral("anogan-oct-lite"));
    QSignalSpy cancelled(&m, &ui::ModelsModel::cancelled);
    QSignalSpy finished(&m, &ui::ModelsModel::finished);
    connect(&m, &ui::ModelsModel::progressChanged, &m, [&m](double f) {
      if (f > 0.0) m.cancel();
    });
    QVERIFY(m.run(index));
    QVERIFY(cancelled.wait(120000));
    QCOMPARE(finished.count(), 0);
    QVERIFY(!m.isRunning());
    QVERIFY(!m.cached(index));
  }

  void openingAnotherScanMidRunQueuesTheNewRun() {
    ui::ModelsModel m;
    m.reload(kBundled, {});
    m.setScan(octScan(12, 1), QStringLiteral("scan-slow"));
    QSignalSpy superseded(&m, &ui::ModelsModel::superseded);
    QSignalSpy finished(&m, &ui::ModelsModel::finished);
    QSignalSpy failed(&m, &ui::ModelsModel::failed);
    QVERIFY(m.run(m.indexOf(QStringLiteral("anogan-oct-lite"))));
    QVERIFY(QTest::qWaitFor([&] { return m.isRunning(); }, 1000));
    const auto second = octScan(2, 0);
    m.setScan(second, QStringLiteral("scan-next"));  // stops the run for the scan left
    QVERIFY(m.run(m.indexOf(QStringLiteral("sparsegan-oct-lite"))));  // waits for it, then runs
    QVERIFY(finished.wait(120000));
    QCOMPARE(superseded.count(), 1);
    QCOMPARE(failed.count(), 0);
    const auto a = finished.first().at(1).value<std::shared_ptr<const inference::ScanAnalysis>>();
    QCOMPARE(a->modelName, std::string("sparsegan-oct-lite"));
    QCOMPARE(a->sliceScores.size(), std::size_t{2});
    QVERIFY(!m.isRunning());
  }

  void aCardWithFieldsOfTheWrongTypeIsReportedNotFatal() {
    TempDir dir;
    for (const char* ext : {".json", ".safetensors"})
      fs::copy_file(std::string(ANOMALYLENS_MODELS_DIR) + "/sparsegan-oct-lite" + ext, dir.file(std::string("sparsegan-oct-lite") + ext));
    {
      std::ifstream in(dir.file("sparsegan-oct-lite.json"));
      nlohmann::json card = nlohmann::json::parse(in);
      card["preprocessing"] = 5;
      std::ofstream(dir.file("sparsegan-oct-lite.json")) << card.dump();
    }
    ui::ModelsModel m;
    m.reload({}, {dir.path()});
    QCOMPARE(m.count(), 0);  // not listed, and the viewer goes on
    QCOMPARE(m.problems().size(), 1);
    QVERIFY2(m.problems().first().contains(QStringLiteral("sparsegan-oct-lite.json")), qPrintable(m.problems().first()));
    // The same card reaching a run is refused with a reason, never a crash.
    models::ModelCard card = models::readModelCard(dir.file("sparsegan-oct-lite.json"));
    Volume scan(PixelType::UInt8, Size3{64, 64, 1});
    QVERIFY(!inference::compatibility(card, scan).empty());
  }

  void aDamagedModelFileIsReportedByName() {
    TempDir dir;
    for (const char* ext : {".json", ".safetensors"})
      fs::copy_file(std::string(ANOMALYLENS_MODELS_DIR) + "/sparsegan-oct-lite" + ext, dir.file(std::string("sparsegan-oct-lite") + ext));
    {
      std::fstream f(dir.file("sparsegan-oct-lite.safetensors"), std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(-16, std::ios::end);
      f.write("garbagegarbage!!", 16);
    }
    ui::ModelsModel m;
    m.reload({}, {dir.path()});
    QCOMPARE(m.count(), 1);
    QVERIFY(!m.entries().front().bundled);
    m.setScan(octScan(1, 0), QStringLiteral("scan-d"));
    QSignalSpy failed(&m, &ui::ModelsModel::failed);
    QVERIFY(m.run(0));
    QVERIFY(failed.wait(60000));
    const QString message = failed.first().first().toString();
    QVERIFY2(message.contains(QStringLiteral("sparsegan-oct-lite.safetensors")), qPrintable(message));
    QVERIFY2(message.contains(QStringLiteral("SHA-256")) || message.contains(QStringLiteral("hash")), qPrintable(message));
  }

  void panelListsModelsAndEnablesRun() {
    ui::ModelsModel m;
    ui::OverlayModel overlay;
    m.reload(kBundled, {});
    ui::ModelsPanel panel(&m, &overlay);
    auto* list = panel.findChild<QTreeWidget*>(QStringLiteral("modelList"));
    QVERIFY(list);
    QCOMPARE(list->topLevelItemCount(), 6);
    QVERIFY(!panel.runButton()->isEnabled());  // no scan
    m.setScan(octScan(1, 0), QStringLiteral("scan-e"));
    panel.select(m.indexOf(QStringLiteral("sparsegan-oct-lite")));
    QVERIFY(panel.runButton()->isEnabled());
    QVERIFY(!panel.cancelButton()->isEnabled());
    panel.select(m.indexOf(QStringLiteral("adm-mri-lite")));
    QVERIFY(!panel.runButton()->isEnabled());
    QVERIFY(panel.runButton()->toolTip().contains(QStringLiteral("contrasts")));
    QCOMPARE(ui::ModelsModel::formatEta(75), QStringLiteral("1 min 15 s left"));
    QCOMPARE(ui::ModelsModel::formatEta(9.6), QStringLiteral("10 s left"));
  }
};

QTEST_MAIN(TestModelsPanel)
#include "test_models_panel.moc"
