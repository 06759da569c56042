// The slice view widget forwards the user's input to its presenter (offscreen).

#include <QSignalSpy>
#include <QTest>
#include <QWheelEvent>

#include "sliceview/SliceView.h"

using namespace al;
using namespace al::ui;

class TestSliceView : public QObject {
  Q_OBJECT

  static std::shared_ptr<Volume> volume() {
    auto v = std::make_shared<Volume>(PixelType::UInt8, Size3{64, 64, 10});
    for (std::int64_t i = 0; i < v->voxelsPerChannel(); ++i) v->data<std::uint8_t>()[i] = static_cast<std::uint8_t>(i % 251);
    return v;
  }

  static void wheel(QWidget& w, int delta, Qt::KeyboardModifiers mods = Qt::NoModifier) {
    const QPointF pos(w.width() / 2.0, w.height() / 2.0);
    QWheelEvent e(pos, w.mapToGlobal(pos), QPoint(), QPoint(0, delta), Qt::NoButton, mods, Qt::NoScrollPhase, false);
    QApplication::sendEvent(&w, &e);
  }

 private slots:
  void wheelScrollsSlicesCtrlWheelZooms() {
    SliceViewModel model;
    SliceView view(&model);
    view.resize(300, 300);
    view.show();
    model.setVolume(volume());
    QCOMPARE(model.slice(), 5);
    wheel(view, -240);  // two notches towards the user: two slices on
    QCOMPARE(model.slice(), 7);
    wheel(view, 60);
    wheel(view, 60);  // two half notches (a touchpad) make one step
    QCOMPARE(model.slice(), 6);
    wheel(view, 120, Qt::ControlModifier);
    QVERIFY(model.zoom() > 1.0);
    QCOMPARE(model.slice(), 6);
  }

  void leftDragSetsWindowLevelShiftDragPansAndReportsTheVoxel() {
    SliceViewModel model;
    SliceView view(&model);
    view.resize(300, 300);
    view.show();
    model.setVolume(volume());
    QSignalSpy probed(&view, &SliceView::probed);
    const double window = model.window();
    QTest::mousePress(&view, Qt::LeftButton, Qt::NoModifier, QPoint(100, 100));
    QTest::mouseMove(&view, QPoint(160, 100));
    QTest::mouseRelease(&view, Qt::LeftButton, Qt::NoModifier, QPoint(160, 100));
    QVERIFY(model.window() > window);
    QVERIFY(probed.count() > 0);
    QVERIFY(probed.last().first().toString().startsWith(QStringLiteral("voxel (")));

    QTest::mousePress(&view, Qt::LeftButton, Qt::ShiftModifier, QPoint(100, 100));
    QTest::mouseMove(&view, QPoint(130, 110));
    QTest::mouseRelease(&view, Qt::LeftButton, Qt::ShiftModifier, QPoint(130, 110));
    QCOMPARE(model.pan(), QPointF(30, 10));

    QTest::keyClick(&view, Qt::Key_R);
    QCOMPARE(model.pan(), QPointF(0, 0));
    QCOMPARE(model.window(), window);
    QTest::keyClick(&view, Qt::Key_End);
    QCOMPARE(model.slice(), 9);
  }

  void paintsTheSlice() {
    SliceViewModel model;
    SliceView view(&model);
    view.resize(200, 200);
    model.setVolume(volume());
    const QImage shot = view.grab().toImage();
    // The 64 x 64 slice fills the 200 x 200 widget: the centre is not the black background.
    int nonBlack = 0;
    for (int x = 50; x < 150; ++x) nonBlack += qGray(shot.pixel(x, 100)) > 0;
    QVERIFY(nonBlack > 50);
  }
};

QTEST_MAIN(TestSliceView)
#include "test_slice_view.moc"
