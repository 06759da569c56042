// The study browser: a folder of phantom studies becomes a Patient > Study > Series tree; a
// double-clicked series opens in the viewer; a folder with one series opens at once.

#include <QSignalSpy>
#include <QTest>
#include <QFileInfo>
#include <QTreeView>
#include <filesystem>
#include <fstream>

#include "TestPaths.h"
#include "mainwindow/MainWindow.h"
#include "phantom/PhantomStudy.h"
#include "sliceview/SliceViewModel.h"
#include "annotations/AnnotationModel.h"
#include "studybrowser/RecentStudies.h"
#include "studybrowser/StudyBrowser.h"
#include "studybrowser/StudyBrowserModel.h"

using namespace al;

class TestStudyBrowser : public QObject {
  Q_OBJECT

  static void writeStudies(const TempDir& dir) {
    PhantomRequest r;
    r.kind = PhantomKind::Mri;
    r.healthy = 1;
    r.anomalous = 0;
    r.format = PhantomFormat::Dicom;
    r.outDir = dir.file("mri");
    writePhantomStudies(r);
    r.kind = PhantomKind::Oct;
    r.bscans = 3;
    r.outDir = dir.file("oct");
    writePhantomStudies(r);
  }

 private slots:
  void thumbnailsFollowTheIndex() {
    TempDir dir;
    writeStudies(dir);
    ui::StudyBrowser browser;
    QSignalSpy indexed(&browser, &ui::StudyBrowser::indexed);
    QSignalSpy done(&browser, &ui::StudyBrowser::thumbnailsDone);
    browser.indexPath(QString::fromStdString(dir.path()));
    QVERIFY(indexed.count() == 1 || indexed.wait(20000));
    QVERIFY(done.count() == 1 || done.wait(60000));
    for (int i = 0; i < browser.model()->seriesCount(); ++i) {
      const QImage t = browser.model()->thumbnail(i);
      QVERIFY2(!t.isNull(), qPrintable(QString::number(i)));
      QVERIFY(t.width() <= 48 && t.height() <= 48);
      // Not a blank square: the middle image has structure.
      int lo = 255, hi = 0;
      for (int y = 0; y < t.height(); ++y)
        for (int x = 0; x < t.width(); ++x) {
          lo = std::min(lo, qGray(t.pixel(x, y)));
          hi = std::max(hi, qGray(t.pixel(x, y)));
        }
      QVERIFY(hi - lo > 100);
    }
  }

  void recentStudiesAreKeptNewestFirst() {
    TempDir dir;
    const QString ini = QString::fromStdString(dir.file("settings.ini"));
    for (int i = 0; i < 12; ++i) { std::ofstream(dir.file("scan" + std::to_string(i) + ".nii")) << "x"; }
    {
      ui::RecentStudies recent(ini);
      for (int i = 0; i < 12; ++i) recent.add(QString::fromStdString(dir.file("scan" + std::to_string(i) + ".nii")));
      recent.add(QString::fromStdString(dir.file("scan5.nii")));  // again: moves to the top
    }
    ui::RecentStudies again(ini);  // kept across runs
    const QStringList list = again.list();
    QCOMPARE(list.size(), ui::RecentStudies::kMax);
    QVERIFY(list.first().endsWith(QStringLiteral("scan5.nii")));
    QVERIFY(list.at(1).endsWith(QStringLiteral("scan11.nii")));
    QCOMPARE(list.count(list.first()), 1);
    std::filesystem::remove(dir.file("scan11.nii"));  // gone: not listed
    QVERIFY(!again.list().at(1).endsWith(QStringLiteral("scan11.nii")));
    again.clear();
    QVERIFY(again.list().isEmpty());
  }

  void aSessionOfADicomSeriesFindsItsSeriesAgain() {
    TempDir dir;
    writeStudies(dir);
    const QString folder = QString::fromStdString(dir.file("mri"));
    const QString session = QString::fromStdString(dir.file("series.alsession"));
    Session saved;
    {
      ui::MainWindow w;
      QSignalSpy indexed(w.studyBrowser(), &ui::StudyBrowser::indexed);
      QSignalSpy loaded(&w, &ui::MainWindow::volumeLoaded);
      w.openFile(folder);
      QVERIFY(indexed.wait(30000));
      const auto& series = w.studyBrowser()->model()->index().series;
      QCOMPARE(series.size(), std::size_t{4});
      w.openSeries(series[2]);
      QVERIFY(loaded.wait(30000));
      w.sliceModel()->setSlice(11);
      w.annotationModel()->toggleFlag(11);
      QVERIFY(w.saveSessionTo(session));
      saved = w.currentSession();
      QCOMPARE(QString::fromStdString(saved.scan), QFileInfo(folder).absoluteFilePath());
      QVERIFY(!saved.seriesLabel.empty());
    }
    ui::MainWindow w;
    QSignalSpy restored(&w, &ui::MainWindow::sessionRestored);
    QSignalSpy failed(&w, &ui::MainWindow::sessionFailed);
    w.openSession(session);
    QVERIFY2(restored.wait(60000), failed.isEmpty() ? "timeout" : qPrintable(failed.first().first().toString()));
    const Session back = w.currentSession();
    QCOMPARE(back.seriesLabel, saved.seriesLabel);
    QCOMPARE(w.sliceModel()->slice(), 11);
    QCOMPARE(w.sliceModel()->sliceCount(), 96);  // the whole series, not one of its files
    QVERIFY(w.annotationModel()->isFlagged(11));
  }

  void dateFormatting() {
    QCOMPARE(ui::formatDicomDate("20261127"), QStringLiteral("2026-11-27"));
    QCOMPARE(ui::formatDicomDate(""), QString());
  }

  void buildsThePatientStudySeriesTreeInTheBackground() {
    TempDir dir;
    writeStudies(dir);
    ui::StudyBrowser browser;
    QSignalSpy indexed(&browser, &ui::StudyBrowser::indexed);
    browser.indexPath(QString::fromStdString(dir.path()));
    QVERIFY(browser.isIndexing() || indexed.count() == 1);
    QVERIFY(indexed.count() == 1 || indexed.wait(20000));
    QCOMPARE(indexed.first().first().toInt(), 5);  // 4 MR contrasts + 1 OCT volume
    const ui::StudyBrowserModel* m = browser.model();
    QCOMPARE(m->rowCount(), 2);  // two patients
    QStringList patients{m->item(0)->text(), m->item(1)->text()};
    patients.sort();
    QCOMPARE(patients, (QStringList{QStringLiteral("PHANTOM, mri_0000"), QStringLiteral("PHANTOM, oct_0000")}));
    // The MRI patient: one study of four series, each with its image count.
    const QStandardItem* mri = m->item(0)->text().contains(QStringLiteral("mri")) ? m->item(0) : m->item(1);
    QVERIFY(m->itemFromIndex(mri->index().siblingAtColumn(1))->text().contains(QStringLiteral("born 1970-01-01")));
    QCOMPARE(mri->rowCount(), 1);
    const QStandardItem* study = mri->child(0);
    QVERIFY(study->text().contains(QStringLiteral("MRI brain phantom")));
    QCOMPARE(study->rowCount(), 4);
    QCOMPARE(study->child(0, 2)->text(), QStringLiteral("96"));
    QVERIFY(study->child(3)->text().contains(QStringLiteral("FLAIR")));
    QCOMPARE(m->seriesAt(study->child(3)->index())->seriesDescription, std::string("T2 FLAIR"));
    QVERIFY(m->seriesAt(study->index()) == nullptr);

    // Enter on a series asks for it to be opened.
    QSignalSpy activated(&browser, &ui::StudyBrowser::seriesActivated);
    browser.view()->setCurrentIndex(study->child(3)->index());
    emit browser.view()->activated(study->child(3)->index());
    QCOMPARE(activated.count(), 1);
  }

  void viewerOpensASingleSeriesFolderAtOnceAndOthersFromTheBrowser() {
    TempDir dir;
    writeStudies(dir);
    ui::MainWindow w;
    QSignalSpy loaded(&w, &ui::MainWindow::volumeLoaded);
    w.openFile(QString::fromStdString(dir.file("mri/mri_0000/FLAIR")));
    QVERIFY(loaded.wait(20000));
    QCOMPARE(w.sliceModel()->sliceCount(), 96);

    QSignalSpy indexed(w.studyBrowser(), &ui::StudyBrowser::indexed);
    w.openFile(QString::fromStdString(dir.file("mri")));
    QVERIFY(indexed.wait(20000));
    QCOMPARE(indexed.first().first().toInt(), 4);
    QTest::qWait(100);
    QCOMPARE(loaded.count(), 1);  // four series: the user chooses
    const auto& series = w.studyBrowser()->model()->index().series;
    w.openSeries(series.front());
    QVERIFY(loaded.wait(20000));
    QCOMPARE(w.sliceModel()->volume()->metadata().modality, std::string("MR"));
  }
};

QTEST_MAIN(TestStudyBrowser)
#include "test_study_browser.moc"
