// The viewer window, offscreen: opening a file loads it in the background and shows it;
// a bad file gives a message naming the file, and the window never blocks.

#include <QMimeData>
#include <QSignalSpy>
#include <QUrl>
#include <QApplication>
#include <QDragEnterEvent>
#include <QTest>

#include <fstream>

#include "TestPaths.h"
#include "io/VolumeWriter.h"
#include "mainwindow/MainWindow.h"
#include "sliceview/SliceViewModel.h"

using namespace al;

class TestMainWindow : public QObject {
  Q_OBJECT
 private slots:
  void opensAVolumeInTheBackground() {
    TempDir dir;
    Volume v(PixelType::Float32, Size3{32, 24, 6});
    v.setValue(3, 4, 5, 0, 42.0);
    const std::string path = dir.file("scan.nii.gz");
    writeVolume(v, path);

    ui::MainWindow w;
    w.show();
    QSignalSpy loaded(&w, &ui::MainWindow::volumeLoaded);
    w.openFile(QString::fromStdString(path));
    QVERIFY(loaded.wait(10000));
    QVERIFY(w.sliceModel()->hasVolume());
    QCOMPARE(w.sliceModel()->sliceCount(), 6);
    QCOMPARE(w.sliceModel()->volume()->value(3, 4, 5), 42.0);
    QVERIFY(w.windowTitle().contains(QStringLiteral("scan.nii.gz")));
  }

  void droppingAFileOpensIt() {
    TempDir dir;
    const std::string path = dir.file("dropped.nii");
    writeVolume(Volume(PixelType::UInt8, Size3{8, 8, 2}), path);
    ui::MainWindow w;
    w.show();
    QSignalSpy loaded(&w, &ui::MainWindow::volumeLoaded);
    QMimeData mime;
    mime.setUrls({QUrl::fromLocalFile(QString::fromStdString(path))});
    QDragEnterEvent enter(QPoint(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(&w, &enter);
    QVERIFY(enter.isAccepted());
    QDropEvent drop(QPointF(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(&w, &drop);
    QVERIFY(loaded.wait(10000));
    QCOMPARE(loaded.first().first().toString(), QString::fromStdString(path));
  }

  void aboutNamesLibTorchAndCudaStatus() {
    const QString text = ui::MainWindow::aboutText();
    QVERIFY(text.contains(QStringLiteral("LibTorch")));
    QVERIFY(text.contains(QStringLiteral("CUDA")));
    QVERIFY(text.contains(QStringLiteral("not for diagnosis")));
  }

  void badFileReportsTheFileAndReason() {
    TempDir dir;
    const std::string path = dir.file("broken.nii");
    { std::ofstream(path) << "definitely not a NIfTI header"; }
    ui::MainWindow w;
    QSignalSpy failed(&w, &ui::MainWindow::loadFailed);
    w.openFile(QString::fromStdString(path));
    QVERIFY(failed.wait(10000));
    const QString message = failed.first().first().toString();
    QVERIFY2(message.contains(QStringLiteral("broken.nii")), qPrintable(message));
    QVERIFY(!w.sliceModel()->hasVolume());
  }
};

QTEST_MAIN(TestMainWindow)
#include "test_main_window.moc"
