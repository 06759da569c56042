// Presenter tests: no display needed (QT_QPA_PLATFORM=offscreen).

#include <QSignalSpy>
#include <QTest>

#include "sliceview/SliceViewModel.h"

using namespace al;
using namespace al::ui;

class TestSliceViewModel : public QObject {
  Q_OBJECT

  static std::shared_ptr<Volume> ramp() {
    auto v = std::make_shared<Volume>(PixelType::Int16, Size3{100, 50, 20});
    for (std::int64_t z = 0; z < 20; ++z)
      for (std::int64_t y = 0; y < 50; ++y)
        for (std::int64_t x = 0; x < 100; ++x) v->setValue(x, y, z, 0, static_cast<double>(x * 10 + z));
    return v;
  }

 private slots:
  void startsInTheMiddleWithRobustWindow() {
    SliceViewModel m;
    QSignalSpy slices(&m, &SliceViewModel::sliceChanged);
    m.setVolume(ramp());
    QCOMPARE(m.sliceCount(), 20);
    QCOMPARE(m.slice(), 10);
    QCOMPARE(slices.count(), 1);
    // Values span 0..1009; the 0.5th..99.5th percentile window sits just inside.
    QVERIFY(m.window() > 900 && m.window() <= 1009);
    QVERIFY(std::abs(m.level() - 505) < 20);
  }

  void scrollingClampsToTheVolume() {
    SliceViewModel m;
    m.setVolume(ramp());
    m.scrollSlices(-100);
    QCOMPARE(m.slice(), 0);
    m.scrollSlices(3);
    QCOMPARE(m.slice(), 3);
    m.setSlice(1000);
    QCOMPARE(m.slice(), 19);
  }

  void windowLevelDragChangesContrast() {
    SliceViewModel m;
    m.setVolume(ramp());
    const double w = m.window(), l = m.level();
    m.dragWindowLevel(QPointF(50, -20));
    QVERIFY(m.window() > w);
    QVERIFY(m.level() < l);
    m.setWindowLevel(-5, 0);  // never zero or negative
    QVERIFY(m.window() > 0);
  }

  void renderAppliesWindowLevel() {
    SliceViewModel m;
    m.setVolume(ramp());
    m.setSlice(0);
    m.setWindowLevel(200, 100);  // 0 -> black, >= 200 -> white
    const QImage img = m.renderSlice();
    QCOMPARE(img.size(), QSize(100, 50));
    QCOMPARE(qGray(img.pixel(0, 0)), 0);
    QVERIFY(std::abs(qGray(img.pixel(10, 0)) - 128) <= 1);  // value 100 at mid-window
    QCOMPARE(qGray(img.pixel(50, 25)), 255);
  }

  void probeMapsWidgetToVoxelAndZoomKeepsTheAnchor() {
    SliceViewModel m;
    m.setVolume(ramp());
    const QSizeF viewport(400, 400);
    // 100 x 50 voxels fit the 400 px width: 4 px per voxel, image 200 px tall, centred.
    QCOMPARE(m.imageRect(viewport), QRectF(0, 100, 400, 200));
    auto p = m.probe(QPointF(42, 130), viewport);
    QVERIFY(p.has_value());
    QCOMPARE(p->x, 10);
    QCOMPARE(p->y, 7);
    QCOMPARE(p->z, 10);
    QCOMPARE(p->value, 110.0);
    QVERIFY(!m.probe(QPointF(10, 10), viewport).has_value());  // outside the image
    const QPointF anchor(42, 130);
    m.zoomBy(2.5, anchor, viewport);
    p = m.probe(anchor, viewport);
    QCOMPARE(p->x, 10);
    QCOMPARE(p->y, 7);
    m.panBy(QPointF(40, 0));  // the image moves right by 10 voxels at 4 px x 2.5
    QCOMPARE(m.probe(anchor, viewport)->x, 6);
    QVERIFY(m.describeProbe(*p).contains(QStringLiteral("value 110")));
  }

  void octBScansUseSquarePixels() {
    auto v = ramp();
    v->setSpacing({0.0117, 0.0039, 0.12});
    SliceViewModel m;
    m.setVolume(v);
    QCOMPARE(m.pixelAspect(), 1.0);  // 1:3 is outside the physical-aspect range
    v->setSpacing({1.0, 2.0, 1.0});
    m.setVolume(v);
    QCOMPARE(m.pixelAspect(), 2.0);
  }
};

QTEST_GUILESS_MAIN(TestSliceViewModel)
#include "test_slice_view_model.moc"
