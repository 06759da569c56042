// The reading is never lost: the viewer autosaves it to a recovery file while it holds the
// reader's work, removes the file on a normal close, and offers a file left by a viewer that
// did not close normally (Restore takes it over, Discard removes it). The kill itself is tested
// end to end by tests/e2e/recovery_check.sh.

#include <sys/wait.h>
#include <unistd.h>

#include <QAbstractButton>
#include <QMessageBox>
#include <QSignalSpy>
#include <QTest>
#include <filesystem>

#include "TestPaths.h"
#include "annotations/AnnotationModel.h"
#include "io/VolumeWriter.h"
#include "mainwindow/MainWindow.h"
#include "mainwindow/SessionRecovery.h"
#include "session/Recovery.h"
#include "sliceview/SliceViewModel.h"

using namespace al;
namespace fs = std::filesystem;

namespace {

// The pid of a process that has ended.
long deadPid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  return static_cast<long>(child);
}

std::vector<Annotation> someAnnotations() {
  return {{AnnotationKind::Flag, 1, {{3.0, 4.0}}, "fluid?"}, {AnnotationKind::Region, 2, {{2.0, 2.0}, {9.0, 7.0}}, "drusen"}};
}

QMessageBox* recoveryOffer(ui::MainWindow& w) { return w.findChild<QMessageBox*>(QStringLiteral("recoveryOffer")); }

QAbstractButton* button(QMessageBox* box, const QString& text) {
  for (QAbstractButton* b : box->buttons())
    if (b->text() == text) return b;
  return nullptr;
}

}  // namespace

class TestSessionRecovery : public QObject {
  Q_OBJECT
  TempDir* data_ = nullptr;

 private slots:
  void init() {
    data_ = new TempDir;
    qputenv("XDG_DATA_HOME", QByteArray::fromStdString(data_->file("data")));
    qputenv("ANOMALYLENS_AUTOSAVE_SECONDS", "0.2");
  }
  void cleanup() { delete data_; }

  void autosavesTheReadingAndRemovesItOnANormalClose() {
    const std::string scan = data_->file("scan.nii.gz");
    writeVolume(Volume(PixelType::Float32, Size3{32, 24, 4}), scan);
    std::string file;
    {
      ui::MainWindow w;
      w.show();
      QCOMPARE(w.sessionRecovery()->intervalMs(), 200);
      file = w.sessionRecovery()->path().toStdString();
      QCOMPARE(file, recoveryFileFor());
      QSignalSpy loaded(&w, &ui::MainWindow::volumeLoaded);
      w.openFile(QString::fromStdString(scan));
      QVERIFY(loaded.wait(10000));
      // A scan without the reader's work is not worth a file.
      QTest::qWait(600);
      QVERIFY(!fs::exists(file));
      w.annotationModel()->setAnnotations(someAnnotations());
      QTRY_VERIFY_WITH_TIMEOUT(fs::exists(file), 5000);
      const Session s = loadSession(file);
      QCOMPARE(s.annotations.size(), std::size_t{2});
      QCOMPARE(s.annotations[1].note, std::string("drusen"));
      QCOMPARE(s.scan, fs::absolute(scan).string());
      // A change is saved again at the next interval.
      auto more = someAnnotations();
      more.push_back({AnnotationKind::Flag, 3, {{1.0, 1.0}}, "third"});
      w.annotationModel()->setAnnotations(more);
      QTRY_VERIFY_WITH_TIMEOUT(loadSession(file).annotations.size() == 3, 5000);
      // A viewer that is still running is not an orphan.
      QVERIFY(findOrphanedReadings().empty());
    }
    QVERIFY(!fs::exists(file));
  }

  void offersAnOrphanedReadingAndRestoresIt() {
    const std::string scan = data_->file("scan.nii.gz");
    writeVolume(Volume(PixelType::Float32, Size3{32, 24, 4}), scan);
    Session s;
    s.scan = fs::absolute(scan).string();
    s.view.slice = 2;
    s.annotations = someAnnotations();
    const std::string orphan = recoveryFileFor(deadPid());
    fs::create_directories(fs::path(orphan).parent_path());
    saveSession(s, orphan);
    QCOMPARE(findOrphanedReadings().size(), std::size_t{1});

    ui::MainWindow w;
    w.show();
    QSignalSpy offered(&w, &ui::MainWindow::recoveryOffered);
    QSignalSpy loaded(&w, &ui::MainWindow::volumeLoaded);
    w.offerRecovery();
    QCOMPARE(offered.size(), 1);
    QMessageBox* box = recoveryOffer(w);
    QVERIFY(box);
    QVERIFY(box->text().contains(QString::fromStdString(s.scan)));
    QAbstractButton* restore = button(box, QStringLiteral("Restore"));
    QVERIFY(restore);
    restore->click();
    QVERIFY(loaded.wait(10000));
    QTRY_COMPARE_WITH_TIMEOUT(w.annotationModel()->annotations().size(), std::size_t{2}, 5000);
    QCOMPARE(w.annotationModel()->annotations()[0].note, std::string("fluid?"));
    QCOMPARE(w.sliceModel()->slice(), 2);
    // The orphan became this viewer's own recovery file: still protected, no longer offered.
    QVERIFY(!fs::exists(orphan));
    QVERIFY(fs::exists(recoveryFileFor()));
    QVERIFY(findOrphanedReadings().empty());
  }

  void discardingAnOrphanRemovesIt() {
    Session s;
    s.scan = data_->file("gone.nii.gz");
    s.annotations = someAnnotations();
    const std::string orphan = recoveryFileFor(deadPid());
    fs::create_directories(fs::path(orphan).parent_path());
    saveSession(s, orphan);
    ui::MainWindow w;
    w.show();
    w.offerRecovery();
    QMessageBox* box = recoveryOffer(w);
    QVERIFY(box);
    button(box, QStringLiteral("Discard"))->click();
    QVERIFY(!fs::exists(orphan));
    // Nothing left to offer: no second box.
    QSignalSpy offered(&w, &ui::MainWindow::recoveryOffered);
    w.offerRecovery();
    QCOMPARE(offered.size(), 0);
  }
};

QTEST_MAIN(TestSessionRecovery)
#include "test_session_recovery.moc"
