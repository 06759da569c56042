// File > Export report... as a clinician uses it: a DICOM OCT scan is opened, a bundled model
// runs, an image is flagged and a distance measured; the dialog proposes the key images, takes
// a comment and writes the PDF (read back with pdftotext: text, not pictures of text) and the
// DICOM objects; the exported Parametric Map, opened again, comes back as the overlay with the
// same values. De-identified, the PDF carries no name or ID of the patient.

#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QProcess>
#include <QPushButton>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTest>

#include <filesystem>

#include "TestPaths.h"
#include "annotations/AnnotationModel.h"
#include "mainwindow/MainWindow.h"
#include "overlay/OverlayModel.h"
#include "phantom/PhantomStudy.h"
#include "io/VolumeReader.h"
#include "report/ExportReportDialog.h"
#include "report/Report.h"
#include "sliceview/SliceViewModel.h"

using namespace al;

namespace {

QString pdfText(const QString& pdf) {
  QProcess p;
  p.start(QStringLiteral("pdftotext"), {QStringLiteral("-layout"), pdf, QStringLiteral("-")});
  if (!p.waitForFinished(60000)) return {};
  return QString::fromUtf8(p.readAllStandardOutput());
}

bool havePdftotext() { return !QStandardPaths::findExecutable(QStringLiteral("pdftotext")).isEmpty(); }

}  // namespace

class TestReportExport : public QObject {
  Q_OBJECT
 private slots:
  void initTestCase() { qRegisterMetaType<al::ui::ExportReportDialog*>(); }

  void exportsFromTheViewerAndTheMapComesBack() {
    TempDir dir;
    PhantomRequest r;
    r.kind = PhantomKind::Oct;
    r.anomalous = 1;
    r.seed = 21;
    r.bscans = 8;
    r.format = PhantomFormat::Dicom;
    r.outDir = dir.file("study");
    const auto cases = writePhantomStudies(r);
    const QString scanPath = QString::fromStdString(dir.file("study/" + cases.front().image));

    ui::MainWindow w;
    w.resize(1280, 800);
    w.show();
    QSignalSpy done(&w, &ui::MainWindow::analysisFinished);
    QSignalSpy failed(&w, &ui::MainWindow::analysisFailed);
    w.runModel(QStringLiteral("a2bgan-oct-lite"), true);
    w.openFile(scanPath);
    QVERIFY2(done.wait(180000), failed.isEmpty() ? "timeout" : qPrintable(failed.first().first().toString()));
    const auto analysis = w.overlayModel()->analysis();
    QVERIFY(analysis);
    const auto scan = w.sliceModel()->volume();
    const std::string patient = scan->metadata().patientName;
    QVERIFY(!patient.empty());

    // The user flags image 2 and measures a distance on it.
    Annotation flag;
    flag.kind = AnnotationKind::Flag;
    flag.slice = 1;
    flag.points = {{{40.0, 40.0}}};
    flag.note = "irregular RPE";
    w.annotationModel()->add(flag);

    // File > Export report... (Ctrl+E) opens the dialog over the scan on screen.
    QSignalSpy opened(&w, &ui::MainWindow::exportDialogOpened);
    QAction* action = nullptr;
    for (QAction* a : w.findChildren<QAction*>())
      if (a->text().contains(QStringLiteral("Export report"))) action = a;
    QVERIFY(action);
    QCOMPARE(action->shortcut(), QKeySequence(Qt::CTRL | Qt::Key_E));
    action->trigger();
    QCOMPARE(opened.count(), 1);
    auto* dialog = opened.first().first().value<ui::ExportReportDialog*>();
    QVERIFY(dialog);
    // Proposed: the three top-scoring images and the flagged one.
    const auto choices = dialog->keyImageChoices();
    QCOMPARE(static_cast<int>(choices.size()), 8);
    int checked = 0;
    for (const auto& [z, on] : choices) checked += on ? 1 : 0;
    const auto proposed = report::proposeKeyImages(analysis.get(), {flag});
    QCOMPARE(checked, static_cast<int>(proposed.size()));
    QVERIFY(choices[1].second);  // the flagged image
    const int expectedKeys = checked + (choices[7].second ? 0 : 1);
    dialog->setKeyImageChecked(7, true);  // the user adds the last image
    // De-identifying renames the default folder, which is named after the scan.
    auto* anonymise = dialog->findChild<QCheckBox*>(QStringLiteral("anonymise"));
    QVERIFY(anonymise);
    const QString before = dialog->options().folder;
    anonymise->setChecked(true);
    QVERIFY(!dialog->options().folder.contains(QStringLiteral("oct_0000")));
    QVERIFY(before.contains(QStringLiteral("oct_0000")));
    anonymise->setChecked(false);
    QCOMPARE(dialog->options().folder, before);
    if (const QString shots = qEnvironmentVariable("ANOMALYLENS_SCREENSHOT_DIR"); !shots.isEmpty()) {
      dialog->setComment(QStringLiteral("Fluid under the fovea; compare with last visit."));
      dialog->show();
      QTest::qWait(200);
      dialog->grab().save(shots + QStringLiteral("/export-report-dialog.png"));
    }
    dialog->setFolder(QString::fromStdString(dir.file("export")));
    dialog->setComment(QStringLiteral("Fluid under the fovea; compare with last visit."));
    QSignalSpy finished(dialog, &ui::ExportReportDialog::exportFinished);
    QSignalSpy exportFailed(dialog, &ui::ExportReportDialog::exportFailed);
    QTest::mouseClick(dialog->findChild<QPushButton*>(QStringLiteral("exportButton")), Qt::LeftButton);
    QVERIFY(dialog->isRunning());
    QVERIFY2(finished.wait(120000), exportFailed.isEmpty() ? "timeout" : qPrintable(exportFailed.first().first().toString()));
    const QStringList files = finished.first().first().toStringList();
    const auto has = [&](const QString& name) { return files.contains(QString::fromStdString(dir.file("export/" + name.toStdString()))); };
    QVERIFY(has("report.pdf"));
    QVERIFY(has("pmap.dcm"));
    QVERIFY(has("seg.dcm"));
    QVERIFY(has("sr.dcm"));
    QVERIFY(has("report.json"));
    QCOMPARE(static_cast<int>(files.filter(QStringLiteral("sc_")).size()), expectedKeys);

    if (havePdftotext()) {
      const QString text = pdfText(QString::fromStdString(dir.file("export/report.pdf")));
      QVERIFY2(text.contains(QStringLiteral("a2bgan-oct-lite")), qPrintable(text.left(2000)));
      QVERIFY(text.contains(QStringLiteral("Fluid under the fovea")));
      QVERIFY(text.contains(QStringLiteral("irregular RPE")));
      QVERIFY(text.contains(QStringLiteral("healthy range")));
      QVERIFY(text.contains(QStringLiteral("Investigational use only")));
      QVERIFY(text.contains(QStringLiteral("page 1 of")));
      QVERIFY(text.contains(QString::fromStdString(scan->metadata().patientId)));
    } else {
      qWarning("pdftotext not installed (apt-get install poppler-utils): the PDF's text is not checked");
    }

    // The exported map, opened again, is the overlay: same values on the same grid.
    done.clear();
    w.openFile(QString::fromStdString(dir.file("export/pmap.dcm")));
    QVERIFY2(done.wait(60000), failed.isEmpty() ? "timeout" : qPrintable(failed.last().first().toString()));
    const auto imported = w.overlayModel()->analysis();
    QVERIFY(imported != analysis);
    QCOMPARE(imported->modelKind, std::string("imported"));
    QVERIFY(w.overlayModel()->hasMap());
    const Volume& back = imported->maps.at("imported");
    const Volume& original = analysis->maps.at(analysis->mapNames.front());
    QCOMPARE(back.size(), original.size());
    for (std::int64_t i = 0; i < original.voxelsPerChannel(); i += 7) QCOMPARE(back.data<float>()[i], original.data<float>()[i]);
    QCOMPARE(w.sliceModel()->volume(), scan);  // the scan stayed; the map went over it
    // So does the segmentation: the map's pixels above its healthy limit.
    done.clear();
    w.openFile(QString::fromStdString(dir.file("export/seg.dcm")));
    QVERIFY2(done.wait(60000), failed.isEmpty() ? "timeout" : qPrintable(failed.last().first().toString()));
    const Volume& seg = w.overlayModel()->analysis()->maps.at("imported");
    const double limit = analysis->ranges.at(analysis->mapNames.front()).lo;
    long inSeg = 0, aboveLimit = 0;
    for (std::int64_t i = 0; i < original.voxelsPerChannel(); ++i) {
      inSeg += seg.data<float>()[i] > 0.5f ? 1 : 0;
      aboveLimit += original.data<float>()[i] > limit ? 1 : 0;
    }
    QCOMPARE(inSeg, aboveLimit);
    QCOMPARE(w.sliceModel()->volume(), scan);
    dialog->close();
  }

  void deIdentifiedPdfHasNoNameOrId() {
    TempDir dir;
    PhantomRequest r;
    r.kind = PhantomKind::Oct;
    r.anomalous = 1;
    r.seed = 5;
    r.bscans = 4;
    r.format = PhantomFormat::Dicom;
    r.outDir = dir.file("study");
    const auto cases = writePhantomStudies(r);
    ui::ReportInputs in;
    in.scan = std::make_shared<const Volume>(readVolume(dir.file("study/" + cases.front().image)));
    in.scanLabel = QStringLiteral("oct_0000.dcm");
    ui::ReportExportOptions o;
    o.folder = QString::fromStdString(dir.file("anon"));
    o.anonymise = true;
    // A comment longer than a page flows onto the next pages, to its last line.
    QStringList lines;
    for (int i = 1; i <= 120; ++i) lines << QStringLiteral("Line %1 of a long comment.").arg(i);
    o.comment = QStringLiteral("no model run\n") + lines.join('\n');
    const auto result = ui::exportReport(in, o);
    QVERIFY2(result.error.isEmpty(), qPrintable(result.error));
    QVERIFY(result.files.size() >= 3);
    if (!havePdftotext()) QSKIP("pdftotext not installed (apt-get install poppler-utils)");
    const QString text = pdfText(QString::fromStdString(dir.file("anon/report.pdf")));
    QVERIFY(text.contains(QStringLiteral("de-identified")));
    QVERIFY(!text.contains(QString::fromStdString(in.scan->metadata().patientId)));
    QVERIFY(!text.contains(QStringLiteral("oct_0000")));
    QVERIFY(text.contains(QStringLiteral("No model was run")));
    QVERIFY(text.contains(QStringLiteral("Line 1 of a long comment.")));
    QVERIFY(text.contains(QStringLiteral("Line 120 of a long comment.")));

    // A cancelled export keeps nothing.
    std::atomic<bool> cancel{true};
    o.folder = QString::fromStdString(dir.file("cancelled"));
    const auto cancelled = ui::exportReport(in, o, &cancel);
    QVERIFY(cancelled.cancelled);
    QVERIFY(!std::filesystem::exists(dir.file("cancelled/report.pdf")));
    // A folder that cannot be made: the reason, with the path.
    o.folder = QStringLiteral("/proc/no/such/place");
    const auto refused = ui::exportReport(in, o);
    QVERIFY(refused.error.contains(QStringLiteral("/proc/no/such/place")));
  }
};

QTEST_MAIN(TestReportExport)
#include "test_report_export.moc"
