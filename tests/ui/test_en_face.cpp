// The OCT en-face panel: the projection or the fundus with the B-scan lines; a click jumps to
// the nearest B-scan.

#include <QSignalSpy>
#include <QTest>

#include "TestPaths.h"
#include "io/VolumeWriter.h"
#include "mainwindow/MainWindow.h"
#include "octview/EnFaceModel.h"
#include "octview/EnFaceView.h"
#include "preprocess/OctEnFace.h"
#include "sliceview/SliceViewModel.h"

using namespace al;

class TestEnFace : public QObject {
  Q_OBJECT

  static std::shared_ptr<Volume> oct() {
    auto v = std::make_shared<Volume>(PixelType::UInt8, Size3{40, 30, 10});
    for (std::int64_t z = 0; z < 10; ++z)
      for (std::int64_t y = 0; y < 30; ++y)
        for (std::int64_t x = 0; x < 40; ++x) v->setValue(x, y, z, 0, static_cast<double>(z * 10 + (y < 15 ? 0 : 60)));
    v->setSpacing({0.15, 0.004, 0.6});  // 6 mm x 6 mm
    v->metadata().modality = "OPT";
    return v;
  }

 private slots:
  void projectionIsTheMeanAlongDepth() {
    const Volume p = octEnFaceProjection(*oct());
    QCOMPARE(p.size(), (Size3{40, 10, 1}));
    QCOMPARE(p.value(7, 3, 0), 3 * 10 + 30.0);  // half the A-scan at 30, half at 90
    QCOMPARE(p.spacing()[1], 0.6);
  }

  void projectionLinesAndClicks() {
    ui::EnFaceModel m;
    m.setStudy(oct());
    QVERIFY(m.hasImage());
    QVERIFY(!m.usesFundus());
    QCOMPARE(m.bscanCount(), 10);
    QCOMPARE(m.pixelAspect(), 4.0);
    QCOMPARE(m.bscanLine(3), QLineF(0, 3.5, 40, 3.5));
    QCOMPARE(m.bscanAt(QPointF(20, 6.2)), 6);
    QCOMPARE(m.bscanAt(QPointF(5, 0.1)), 0);
  }

  void fundusLinesComeFromTheBScanHeaders() {
    auto fundus = std::make_shared<Volume>(PixelType::UInt8, Size3{100, 100, 1});
    fundus->setSpacing({0.06, 0.06, 1});
    std::vector<OctBScanInfo> lines(10);
    for (int i = 0; i < 10; ++i) lines[static_cast<std::size_t>(i)] = {0.6, 1.2 + 0.3 * i, 5.4, 1.2 + 0.3 * i, 30};
    ui::EnFaceModel m;
    m.setStudy(oct(), fundus, lines);
    QVERIFY(m.usesFundus());
    const QLineF l = m.bscanLine(2);
    QCOMPARE(l.p1(), QPointF(10, 30));
    QCOMPARE(l.p2(), QPointF(90, 30));
    QCOMPARE(m.bscanAt(QPointF(50, 36)), 3);  // 1.2 + 0.3 * 3 = 2.1 mm = 35 px
    // Lines that do not match the B-scans: the projection instead.
    lines.pop_back();
    m.setStudy(oct(), fundus, lines);
    QVERIFY(!m.usesFundus());
  }

  void clickingTheViewJumpsToTheBScan() {
    ui::SliceViewModel slices;
    const auto v = oct();
    slices.setVolume(v);
    ui::EnFaceModel m;
    m.setStudy(v);
    ui::EnFaceView view(&m, &slices);
    view.resize(200, 200);
    view.show();
    const QRectF r = view.imageRect();
    QTest::mouseClick(&view, Qt::LeftButton, Qt::NoModifier, QPoint(100, static_cast<int>(r.top() + r.height() * 0.85)));
    QCOMPARE(slices.slice(), 8);
  }

  void theViewerShowsThePanelForOctOnly() {
    TempDir dir;
    ui::MainWindow w;
    w.show();
    QSignalSpy loaded(&w, &ui::MainWindow::volumeLoaded);
    Volume mri(PixelType::Int16, Size3{16, 16, 8});
    mri.setSpacing({1.5, 1.5, 1.5});
    writeVolume(mri, dir.file("mri.nii.gz"));
    w.openFile(QString::fromStdString(dir.file("mri.nii.gz")));
    QVERIFY(loaded.wait(10000));
    QVERIFY(!w.enFacePanel()->isVisible());
    writeVolume(*oct(), dir.file("oct.nii.gz"));  // NIfTI keeps no modality: told by its shape
    w.openFile(QString::fromStdString(dir.file("oct.nii.gz")));
    QVERIFY(loaded.wait(10000));
    QVERIFY(w.enFacePanel()->isVisible());
    QCOMPARE(w.enFaceModel()->bscanCount(), 10);
  }
};

QTEST_MAIN(TestEnFace)
#include "test_en_face.moc"
