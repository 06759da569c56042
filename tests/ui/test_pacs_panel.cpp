// The viewer's PACS user interface against a real PACS: Debian's Orthanc on loopback
// (tests/core/OrthancServer.h), holding two studies written by our DICOM writer and sent with
// al::pacs::store. A node is configured, a study found by patient ID, its series listed,
// retrieved into the viewer's study browser, a retrieve cancelled, an unreachable node reported,
// and the export dialog's "Send to PACS" checked through Orthanc's REST API.

#include <QAction>
#include <QApplication>
#include <QComboBox>
#include <QDockWidget>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QTest>
#include <QTreeView>

#include <nlohmann/json.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>

#include "core/OrthancServer.h"
#include "io/DicomWriter.h"
#include "mainwindow/MainWindow.h"
#include "pacs/PacsClient.h"
#include "pacs/PacsNodes.h"
#include "pacs/PacsPanel.h"
#include "pacs/PacsQueryModel.h"
#include "pacs/PacsSend.h"
#include "report/ExportReportDialog.h"
#include "studybrowser/StudyBrowser.h"
#include "studybrowser/StudyBrowserModel.h"

using namespace al;
namespace fs = std::filesystem;

namespace {

struct WrittenStudy {
  std::string studyUid;
  std::vector<std::string> seriesUids;
  std::vector<std::string> seriesFolders;
  int instances = 0;
};

Volume mrVolume(int nz, int seed) {
  Volume v(PixelType::Int16, Size3{24, 20, nz});
  for (std::int64_t z = 0; z < nz; ++z)
    for (std::int64_t y = 0; y < 20; ++y)
      for (std::int64_t x = 0; x < 24; ++x) v.setValue(x, y, z, 0, static_cast<double>((x * 7 + y * 13 + z * 101 + seed * 1000) % 4000));
  v.setSpacing({0.9, 0.9, 3.0});
  return v;
}

WrittenStudy writeMrStudy(const std::string& folder, const std::string& name, const std::string& id, const std::string& date,
                          const std::vector<int>& slicesPerSeries) {
  DicomStudy study;
  study.patientName = name;
  study.patientId = id;
  study.studyDate = date;
  study.studyTime = "101500";
  study.studyDescription = "PACS panel " + id;
  study.complete();
  WrittenStudy w;
  w.studyUid = study.studyInstanceUid;
  for (std::size_t i = 0; i < slicesPerSeries.size(); ++i) {
    DicomSeries s;
    s.seriesInstanceUid = newDicomUid();
    s.seriesNumber = static_cast<int>(i) + 1;
    s.seriesDescription = i == 0 ? "T1" : "T2";
    s.repetitionTime = i == 0 ? 500 : 4000;
    s.echoTime = i == 0 ? 10 : 100;
    const std::string dir = (fs::path(folder) / id / std::to_string(i + 1)).string();
    fs::create_directories(dir);
    w.instances += static_cast<int>(writeDicomMrSeries(mrVolume(slicesPerSeries[i], static_cast<int>(i)), 0, dir, study, s).size());
    w.seriesUids.push_back(s.seriesInstanceUid);
    w.seriesFolders.push_back(dir);
  }
  return w;
}

bool containsNoCase(const QString& haystack, const QString& needle) { return haystack.contains(needle, Qt::CaseInsensitive); }

// No message box may stand in the user's way: errors stay in the panel.
bool noMessageBox() {
  for (QWidget* w : QApplication::topLevelWidgets())
    if (qobject_cast<QMessageBox*>(w) && w->isVisible()) return false;
  return true;
}

QModelIndex firstStudy(ui::PacsPanel& panel) { return panel.model()->results()->index(0, 0); }

void select(ui::PacsPanel& panel, const QModelIndex& index) {
  panel.view()->selectionModel()->setCurrentIndex(index, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
}

}  // namespace

class TestPacsPanel : public QObject {
  Q_OBJECT

  std::unique_ptr<test::OrthancServer> server_;
  std::unique_ptr<TempDir> data_;
  std::unique_ptr<TempDir> retrieved_;
  WrittenStudy studyA_, studyB_;

  ui::ConfiguredPacsNode orthanc() const {
    ui::ConfiguredPacsNode n;
    n.name = QStringLiteral("Test Orthanc");
    n.node = pacs::parseNode(server_->nodeSpec());
    n.node.timeoutSeconds = 20;
    return n;
  }
  // A study search by patient ID through the panel's fields and its Find button.
  bool findPatient(ui::PacsPanel& panel, const QString& id) {
    panel.findChild<QLineEdit*>(QStringLiteral("pacsPatientId"))->setText(id);
    QSignalSpy found(panel.model(), &ui::PacsQueryModel::findFinished);
    QSignalSpy failed(panel.model(), &ui::PacsQueryModel::failed);
    QTest::mouseClick(panel.findChild<QPushButton*>(QStringLiteral("pacsFind")), Qt::LeftButton);
    const bool ok = found.wait(30000);
    if (!ok) qWarning("find failed: %s", failed.isEmpty() ? "timeout" : qPrintable(failed.first().first().toString()));
    return ok;
  }
  bool expandStudy(ui::PacsPanel& panel) {
    QSignalSpy listed(panel.model(), &ui::PacsQueryModel::seriesFetched);
    panel.view()->expand(firstStudy(panel));
    return listed.wait(30000);
  }

 private slots:
  void initTestCase() {
    qRegisterMetaType<al::ui::ExportReportDialog*>();
    // This program's own settings file (ANOMALYLENS_SETTINGS): no nodes left by an earlier run.
    if (const QString ini = qEnvironmentVariable("ANOMALYLENS_SETTINGS"); !ini.isEmpty()) QFile::remove(ini);
    retrieved_ = std::make_unique<TempDir>();
    qputenv("ANOMALYLENS_PACS_DIR", QByteArray::fromStdString(retrieved_->file("pacs")));
    if (!test::orthancAvailable()) return;
    server_ = std::make_unique<test::OrthancServer>();
    data_ = std::make_unique<TempDir>();
    studyA_ = writeMrStudy(data_->path(), "DOE^JANE", "PACS-UI-A", "20230115", {5, 4});
    studyB_ = writeMrStudy(data_->path(), "SMITH^JOHN", "PACS-UI-B", "20240301", {3});
    const auto stored = pacs::store(orthanc().node, {data_->path()});
    QVERIFY(stored.failed.empty());
    QCOMPARE(stored.stored, studyA_.instances + studyB_.instances);
  }

  void cleanupTestCase() { server_.reset(); }

  // ---- No server needed ----------------------------------------------------------------------

  void nodesAreValidatedAndKeptInTheSettings() {
    ui::ConfiguredPacsNode n;
    n.name = QStringLiteral("Hospital");
    n.node = pacs::parseNode("ORTHANC@pacs.example.org:4242");
    QCOMPARE(ui::validatePacsNode(n), QString());
    QCOMPARE(ui::pacsNodeLabel(n), QStringLiteral("Hospital (ORTHANC@pacs.example.org:4242)"));
    const auto why = [&](auto change) {
      ui::ConfiguredPacsNode bad = n;
      change(bad);
      return ui::validatePacsNode(bad);
    };
    QVERIFY(why([](auto& b) { b.node.aeTitle = "SEVENTEEN_CHARS_A"; }).contains(QStringLiteral("longer than 16")));
    QVERIFY(why([](auto& b) { b.node.aeTitle = ""; }).contains(QStringLiteral("empty")));
    QVERIFY(why([](auto& b) { b.node.port = 0; }).contains(QStringLiteral("1 to 65535")));
    QVERIFY(why([](auto& b) { b.node.port = 65536; }).contains(QStringLiteral("1 to 65535")));
    QVERIFY(why([](auto& b) { b.node.host = ""; }).contains(QStringLiteral("no host")));
    QVERIFY(why([](auto& b) { b.node.callingAeTitle = ""; }).contains(QStringLiteral("calling AE title is empty")));
    QVERIFY(why([](auto& b) { b.node.timeoutSeconds = 0; }).contains(QStringLiteral("timeout")));
    QVERIFY(why([](auto& b) { b.name = " "; }).contains(QStringLiteral("name")));

    TempDir dir;
    const QString ini = QString::fromStdString(dir.file("settings.ini"));
    ui::ConfiguredPacsNode other = n;
    other.name = QStringLiteral("Research");
    other.node = pacs::parseNode("DCM4CHEE@10.0.0.7:11112");
    other.node.callingAeTitle = "READER1";
    other.node.timeoutSeconds = 7;
    ui::savePacsNodes({n, other}, ini);
    const auto back = ui::loadPacsNodes(ini);
    QCOMPARE(back.size(), 2);
    QCOMPARE(back[1].name, QStringLiteral("Research"));
    QCOMPARE(back[1].node.aeTitle, std::string("DCM4CHEE"));
    QCOMPARE(back[1].node.host, std::string("10.0.0.7"));
    QCOMPARE(back[1].node.port, 11112);
    QCOMPARE(back[1].node.callingAeTitle, std::string("READER1"));
    QCOMPARE(back[1].node.timeoutSeconds, 7);
    // The file, edited by hand into something the client refuses: that node is left out.
    {
      QSettings s(ini, QSettings::IniFormat);
      s.setValue(QStringLiteral("pacs/nodes/1/port"), 0);
    }
    QCOMPARE(ui::loadPacsNodes(ini).size(), 1);
  }

  void nodesDialogEditsTheListAndRefusesInvalidNodes() {
    ui::PacsPanel panel;
    panel.model()->setNodes({});
    panel.show();
    QTest::mouseClick(panel.findChild<QPushButton*>(QStringLiteral("pacsNodes")), Qt::LeftButton);
    ui::PacsNodesDialog* dialog = panel.nodesDialog();
    QVERIFY(dialog);
    QVERIFY(dialog->isVisible());
    QTest::mouseClick(dialog->findChild<QPushButton*>(QStringLiteral("addNode")), Qt::LeftButton);
    auto* name = dialog->findChild<QLineEdit*>(QStringLiteral("nodeName"));
    auto* ae = dialog->findChild<QLineEdit*>(QStringLiteral("nodeAeTitle"));
    auto* host = dialog->findChild<QLineEdit*>(QStringLiteral("nodeHost"));
    auto* port = dialog->findChild<QSpinBox*>(QStringLiteral("nodePort"));
    name->selectAll();
    QTest::keyClicks(name, QStringLiteral("Ward PACS"));
    ae->selectAll();
    QTest::keyClicks(ae, QStringLiteral("WARD"));
    host->selectAll();
    QTest::keyClick(host, Qt::Key_Delete);
    dialog->accept();  // no host: refused, saying why
    QVERIFY(dialog->isVisible());
    QVERIFY(dialog->findChild<QLabel*>(QStringLiteral("nodeStatus"))->text().contains(QStringLiteral("no host")));
    QTest::keyClicks(host, QStringLiteral("127.0.0.1"));
    port->setValue(11112);
    QSignalSpy done(dialog, &QDialog::finished);
    dialog->accept();
    QCOMPARE(done.count(), 1);
    QCOMPARE(panel.model()->nodes().size(), 1);
    QCOMPARE(panel.model()->nodes()[0].name, QStringLiteral("Ward PACS"));
    QCOMPARE(ui::pacsNodeLabel(panel.model()->nodes()[0]), QStringLiteral("Ward PACS (WARD@127.0.0.1:11112)"));
    // Saved: another panel (or the export dialog) sees the same list.
    QCOMPARE(ui::loadPacsNodes().size(), 1);
    QCOMPARE(panel.findChild<QComboBox*>(QStringLiteral("pacsNode"))->currentText(), QStringLiteral("Ward PACS (WARD@127.0.0.1:11112)"));
  }

  void anUnreachableNodeShowsTheErrorNamingTheNode() {
    ui::PacsPanel panel;
    ui::ConfiguredPacsNode nowhere;
    nowhere.name = QStringLiteral("Nowhere");
    nowhere.node.aeTitle = "NOBODY";
    nowhere.node.host = "127.0.0.1";
    nowhere.node.port = test::freeTcpPort();
    nowhere.node.timeoutSeconds = 5;
    panel.model()->setNodes({nowhere});
    panel.show();
    QSignalSpy failed(panel.model(), &ui::PacsQueryModel::failed);
    QTest::mouseClick(panel.findChild<QPushButton*>(QStringLiteral("pacsFind")), Qt::LeftButton);
    QVERIFY(panel.model()->isFinding());  // in a worker: the click returned at once
    QVERIFY(failed.wait(20000));
    const QString status = panel.statusText();
    QVERIFY2(status.contains(QStringLiteral("Nowhere")), qPrintable(status));
    QVERIFY2(status.contains(QString::fromStdString(pacs::toString(nowhere.node))), qPrintable(status));
    QVERIFY2(containsNoCase(status, QStringLiteral("connection refused")), qPrintable(status));
    QVERIFY(panel.model()->statusIsError());
    QVERIFY(noMessageBox());
    QVERIFY(panel.findChild<QPushButton*>(QStringLiteral("pacsFind"))->isEnabled());
    QCOMPARE(panel.model()->results()->rowCount(), 0);

    // The nodes dialog's C-ECHO says the same, in its status line.
    auto* dialog = new ui::PacsNodesDialog({nowhere}, &panel);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    dialog->show();
    QSignalSpy echoed(dialog, &ui::PacsNodesDialog::echoFinished);
    QTest::mouseClick(dialog->findChild<QPushButton*>(QStringLiteral("testNode")), Qt::LeftButton);
    QVERIFY(echoed.wait(20000));
    QCOMPARE(echoed.first().at(0).toBool(), false);
    QVERIFY(echoed.first().at(1).toString().contains(QStringLiteral("Nowhere")));
    QVERIFY(containsNoCase(dialog->findChild<QLabel*>(QStringLiteral("nodeStatus"))->text(), QStringLiteral("connection refused")));
    dialog->close();

    // Sending a report there: nothing stored, and the summary says where and why.
    TempDir dir;
    const WrittenStudy one = writeMrStudy(dir.path(), "NOBODY^SENT", "PACS-UI-X", "20230101", {1});
    QStringList files;
    for (const auto& e : fs::directory_iterator(one.seriesFolders[0])) files << QString::fromStdString(e.path().string());
    files << QString::fromStdString(dir.file("report.pdf"));  // not DICOM: not offered
    const ui::PacsSendResult sent = ui::sendToPacs(files, nowhere);
    QCOMPARE(sent.total, 1);
    QCOMPARE(sent.stored, 0);
    QVERIFY(!sent.ok());
    QVERIFY2(sent.summary().contains(QStringLiteral("Nowhere: NOBODY@127.0.0.1:")), qPrintable(sent.summary()));
    QVERIFY2(containsNoCase(sent.summary(), QStringLiteral("connection refused")), qPrintable(sent.summary()));
  }

  // ---- Against Orthanc -----------------------------------------------------------------------

  void echoFromTheNodesDialog() {
    if (!server_) QSKIP("orthanc not installed (apt-get install orthanc)");
    ui::PacsNodesDialog dialog({orthanc()});
    dialog.show();
    QSignalSpy echoed(&dialog, &ui::PacsNodesDialog::echoFinished);
    QTest::mouseClick(dialog.findChild<QPushButton*>(QStringLiteral("testNode")), Qt::LeftButton);
    QVERIFY(echoed.wait(30000));
    QVERIFY2(echoed.first().at(0).toBool(), qPrintable(echoed.first().at(1).toString()));
    QVERIFY(dialog.findChild<QLabel*>(QStringLiteral("nodeStatus"))->text().startsWith(QStringLiteral("OK")));
  }

  void findByPatientIdListsTheStudyAndItsSeries() {
    if (!server_) QSKIP("orthanc not installed (apt-get install orthanc)");
    ui::PacsPanel panel;
    panel.model()->setNodes({orthanc()});
    panel.show();
    QVERIFY(findPatient(panel, QStringLiteral("PACS-UI-A")));
    QStandardItemModel* results = panel.model()->results();
    QCOMPARE(results->rowCount(), 1);
    const auto cell = [&](int column) { return results->index(0, column).data().toString(); };
    QCOMPARE(cell(ui::PacsQueryModel::PatientColumn), QStringLiteral("DOE JANE"));
    QCOMPARE(cell(ui::PacsQueryModel::PatientIdColumn), QStringLiteral("PACS-UI-A"));
    QCOMPARE(cell(ui::PacsQueryModel::DateColumn), QStringLiteral("2023-01-15"));
    QCOMPARE(cell(ui::PacsQueryModel::DescriptionColumn), QStringLiteral("PACS panel PACS-UI-A"));
    QCOMPARE(cell(ui::PacsQueryModel::ModalitiesColumn), QStringLiteral("MR"));
    QCOMPARE(cell(ui::PacsQueryModel::SeriesColumn), QStringLiteral("2"));
    QCOMPARE(cell(ui::PacsQueryModel::InstancesColumn), QString::number(studyA_.instances));
    QCOMPARE(results->index(0, 0).data(ui::PacsQueryModel::kStudyUidRole).toString(), QString::fromStdString(studyA_.studyUid));
    QVERIFY(panel.statusText().contains(QStringLiteral("1 study")));

    // Expanding the study lists its series (C-FIND at SERIES level, in a worker).
    QVERIFY(expandStudy(panel));
    const QModelIndex study = firstStudy(panel);
    QCOMPARE(results->rowCount(study), 2);
    QCOMPARE(results->index(0, ui::PacsQueryModel::PatientColumn, study).data().toString(), QStringLiteral("#1"));
    QCOMPARE(results->index(0, ui::PacsQueryModel::DescriptionColumn, study).data().toString(), QStringLiteral("T1"));
    QCOMPARE(results->index(0, ui::PacsQueryModel::ModalitiesColumn, study).data().toString(), QStringLiteral("MR"));
    QCOMPARE(results->index(0, ui::PacsQueryModel::InstancesColumn, study).data().toString(), QStringLiteral("5"));
    QCOMPARE(results->index(1, ui::PacsQueryModel::InstancesColumn, study).data().toString(), QStringLiteral("4"));
    QCOMPARE(results->index(1, 0, study).data(ui::PacsQueryModel::kSeriesUidRole).toString(), QString::fromStdString(studyA_.seriesUids[1]));

    // Other keys: a name with a wildcard and a date range find the other study only.
    panel.findChild<QLineEdit*>(QStringLiteral("pacsPatientName"))->setText(QStringLiteral("SMITH*"));
    panel.findChild<QLineEdit*>(QStringLiteral("pacsDateFrom"))->setText(QStringLiteral("2024-01-01"));
    QVERIFY(findPatient(panel, QString()));
    QCOMPARE(results->rowCount(), 1);
    QCOMPARE(results->index(0, ui::PacsQueryModel::PatientIdColumn).data().toString(), QStringLiteral("PACS-UI-B"));
    panel.findChild<QLineEdit*>(QStringLiteral("pacsDateFrom"))->setText(QStringLiteral("20250101"));
    QVERIFY(findPatient(panel, QString()));
    QCOMPARE(results->rowCount(), 0);
  }

  void retrieveOpensTheStudyInTheStudyBrowser() {
    if (!server_) QSKIP("orthanc not installed (apt-get install orthanc)");
    ui::MainWindow w;
    w.resize(1280, 800);
    w.show();
    auto* dock = w.findChild<QDockWidget*>(QStringLiteral("pacs"));
    QVERIFY(dock);
    QVERIFY(!dock->isVisible());  // hidden until asked for
    QAction* action = nullptr;
    for (QAction* a : w.findChildren<QAction*>())
      if (a->text().contains(QStringLiteral("Query &PACS"))) action = a;
    QVERIFY(action);
    QCOMPARE(action->shortcut(), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_P));
    action->trigger();
    QVERIFY(dock->isVisible());

    ui::PacsPanel& panel = *w.pacsPanel();
    panel.model()->setNodes({orthanc()});
    QVERIFY(findPatient(panel, QStringLiteral("PACS-UI-A")));
    select(panel, firstStudy(panel));
    auto* retrieve = panel.findChild<QPushButton*>(QStringLiteral("pacsRetrieve"));
    QVERIFY(retrieve->isEnabled());
    QSignalSpy retrieved(&panel, &ui::PacsPanel::retrieved);
    QSignalSpy indexed(w.studyBrowser(), &ui::StudyBrowser::indexed);
    QTest::mouseClick(retrieve, Qt::LeftButton);
    QVERIFY(panel.model()->isRetrieving());
    QVERIFY(!retrieve->isEnabled());
    QVERIFY(panel.findChild<QPushButton*>(QStringLiteral("pacsCancel"))->isEnabled());
    QVERIFY(panel.findChild<QProgressBar*>(QStringLiteral("pacsProgress"))->isVisible());
    QVERIFY2(retrieved.wait(60000), qPrintable(panel.statusText()));
    const QString folder = retrieved.first().first().toString();
    QCOMPARE(folder, ui::PacsQueryModel::retrieveDir() + QLatin1Char('/') + QString::fromStdString(studyA_.studyUid));
    QVERIFY(folder.startsWith(QString::fromStdString(retrieved_->path())));  // ANOMALYLENS_PACS_DIR
    QVERIFY(panel.statusText().contains(QStringLiteral("Retrieved %1 object").arg(studyA_.instances)));

    // The viewer indexes the folder in its study browser: the study's two series.
    QVERIFY(indexed.count() > 0 || indexed.wait(60000));
    QCOMPARE(w.studyBrowser()->model()->source(), folder);
    const auto& series = w.studyBrowser()->model()->index().series;
    QCOMPARE(static_cast<int>(series.size()), 2);
    std::set<std::string> uids;
    for (const auto& s : series) uids.insert(s.seriesInstanceUid);
    QCOMPARE(uids, std::set<std::string>(studyA_.seriesUids.begin(), studyA_.seriesUids.end()));
    QVERIFY(w.findChild<QDockWidget*>(QStringLiteral("studies"))->isVisible());
    QVERIFY(retrieve->isEnabled());
    QVERIFY(noMessageBox());
  }

  void aCancelledRetrieveLeavesThePanelUsable() {
    if (!server_) QSKIP("orthanc not installed (apt-get install orthanc)");
    ui::PacsPanel panel;
    panel.model()->setNodes({orthanc()});
    panel.show();
    QVERIFY(findPatient(panel, QStringLiteral("PACS-UI-A")));
    // The user cancels once the first image has arrived.
    std::atomic<int> calls{0};
    ui::PacsQueryModel* model = panel.model();
    model->setRetrieveProgressHook([model, &calls](int done, int) {
      ++calls;
      if (done >= 1) model->cancelRetrieve();
    });
    select(panel, firstStudy(panel));
    QSignalSpy finished(model, &ui::PacsQueryModel::retrieveFinished);
    QSignalSpy retrieved(&panel, &ui::PacsPanel::retrieved);
    QTest::mouseClick(panel.findChild<QPushButton*>(QStringLiteral("pacsRetrieve")), Qt::LeftButton);
    QVERIFY2(finished.wait(60000), qPrintable(panel.statusText()));
    const auto outcome = finished.first().first().value<ui::PacsQueryModel::RetrieveOutcome>();
    QVERIFY(outcome.result.cancelled);
    QVERIFY(outcome.error.isEmpty());
    QVERIFY2(static_cast<int>(outcome.result.files.size()) < studyA_.instances, qPrintable(QString::number(outcome.result.files.size())));
    QVERIFY(calls.load() < studyA_.instances);
    QVERIFY2(panel.statusText().contains(QStringLiteral("cancelled")), qPrintable(panel.statusText()));
    QVERIFY(!model->statusIsError());
    QCOMPARE(retrieved.count(), 0);  // a cancelled retrieve does not open anything
    QVERIFY(!panel.findChild<QProgressBar*>(QStringLiteral("pacsProgress"))->isVisible());
    QVERIFY(noMessageBox());

    // Still usable: the second series alone comes back whole.
    model->setRetrieveProgressHook({});
    QVERIFY(expandStudy(panel));
    select(panel, model->results()->index(1, 0, firstStudy(panel)));
    auto* retrieve = panel.findChild<QPushButton*>(QStringLiteral("pacsRetrieve"));
    QVERIFY(retrieve->isEnabled());
    QCOMPARE(retrieve->text(), QStringLiteral("Retrieve series"));
    QTest::mouseClick(retrieve, Qt::LeftButton);
    QVERIFY2(retrieved.wait(60000), qPrintable(panel.statusText()));
    QCOMPARE(retrieved.first().first().toString(), ui::PacsQueryModel::retrieveDir() + QLatin1Char('/') +
                                                       QString::fromStdString(studyA_.studyUid + "/" + studyA_.seriesUids[1]));
    const auto whole = finished.last().first().value<ui::PacsQueryModel::RetrieveOutcome>();
    QCOMPARE(static_cast<int>(whole.result.files.size()), 4);
  }

  void exportDialogSendsTheReportToThePacs() {
    if (!server_) QSKIP("orthanc not installed (apt-get install orthanc)");
    ui::MainWindow w;
    w.resize(1280, 800);
    w.show();
    w.pacsPanel()->model()->setNodes({orthanc()});
    QSignalSpy loaded(&w, &ui::MainWindow::volumeLoaded);
    QSignalSpy loadFailed(&w, &ui::MainWindow::loadFailed);
    w.openFile(QString::fromStdString(studyA_.seriesFolders[0]));
    QVERIFY2(loaded.wait(60000), loadFailed.isEmpty() ? "timeout" : qPrintable(loadFailed.first().first().toString()));

    QSignalSpy opened(&w, &ui::MainWindow::exportDialogOpened);
    w.showExportReportDialog();
    QCOMPARE(opened.count(), 1);
    auto* dialog = opened.first().first().value<ui::ExportReportDialog*>();
    QVERIFY(dialog);
    auto* sendTo = dialog->findChild<QComboBox*>(QStringLiteral("sendToPacs"));
    QVERIFY(sendTo);
    QCOMPARE(sendTo->count(), 2);  // "Don't send" and the node
    QCOMPARE(dialog->sendToNode(), QString());
    dialog->setSendToNode(QStringLiteral("Test Orthanc"));
    QCOMPARE(dialog->sendToNode(), QStringLiteral("Test Orthanc"));
    TempDir out;
    dialog->setFolder(QString::fromStdString(out.file("report")));
    dialog->setKeyImageChecked(2, true);
    QSignalSpy sent(dialog, &ui::ExportReportDialog::sentToPacs);
    QSignalSpy finished(dialog, &ui::ExportReportDialog::exportFinished);
    QSignalSpy failed(dialog, &ui::ExportReportDialog::exportFailed);
    QTest::mouseClick(dialog->findChild<QPushButton*>(QStringLiteral("exportButton")), Qt::LeftButton);
    QVERIFY2(finished.wait(120000), failed.isEmpty() ? "timeout" : qPrintable(failed.first().first().toString()));
    QCOMPARE(sent.count(), 1);
    const QString summary = sent.first().at(0).toString();
    QVERIFY2(sent.first().at(1).toBool(), qPrintable(summary));
    const QStringList files = finished.first().first().toStringList();
    const int objects = static_cast<int>(files.filter(QStringLiteral(".dcm")).size());
    QVERIFY(objects >= 2);  // the SR and the key image
    QVERIFY2(summary.contains(QStringLiteral("Sent %1 of %1").arg(objects)), qPrintable(summary));

    // Orthanc holds the report's new series in the scan's study.
    std::ifstream in(out.file("report/report.json"));
    const auto report = nlohmann::json::parse(in);
    std::set<std::string> exported;
    for (const auto& o : report.at("dicom")) {
      QCOMPARE(o.at("study_instance_uid").get<std::string>(), studyA_.studyUid);
      exported.insert(o.at("series_instance_uid").get<std::string>());
    }
    const auto series = server_->post("/tools/find", {{"Level", "Series"},
                                                      {"Query", {{"StudyInstanceUID", studyA_.studyUid}}},
                                                      {"Expand", true}});
    std::set<std::string> inOrthanc;
    for (const auto& s : series) inOrthanc.insert(s.at("MainDicomTags").at("SeriesInstanceUID").get<std::string>());
    for (const auto& uid : exported) QVERIFY2(inOrthanc.count(uid), uid.c_str());
    QCOMPARE(inOrthanc.size(), studyA_.seriesUids.size() + exported.size());
    const auto studies = server_->post("/tools/find", {{"Level", "Study"}, {"Query", {{"PatientID", "PACS-UI-A"}}}});
    QCOMPARE(static_cast<int>(studies.size()), 1);
    dialog->close();
  }
};

QTEST_MAIN(TestPacsPanel)
#include "test_pacs_panel.moc"
