// Annotations without a display: drawing a region or a distance with the tool (through the
// presenter and through mouse events on the slice view), flags, notes, and their measurements
// in the scan's units.

#include <QSignalSpy>
#include <QTest>

#include "annotations/AnnotationModel.h"
#include "sliceview/SliceView.h"
#include "sliceview/SliceViewModel.h"

using namespace al;

namespace {

std::shared_ptr<const Volume> scan() {
  auto v = std::make_shared<Volume>(PixelType::Float32, Size3{100, 50, 4});
  v->setSpacing({0.2, 0.2, 1.0});
  for (std::int64_t i = 0; i < v->voxelsPerChannel(); ++i) v->data<float>()[i] = 10.0f;
  return v;
}

}  // namespace

class TestAnnotations : public QObject {
  Q_OBJECT
 private slots:
  void drawingWithTheToolAddsAnAnnotation() {
    ui::AnnotationModel m;
    m.setScan(scan());
    QSignalSpy tool(&m, &ui::AnnotationModel::toolChanged);
    m.setTool(ui::AnnotationModel::Tool::Distance);
    m.begin(2, {10, 10});
    m.drag({20, 10});
    QVERIFY(m.draft().has_value());
    m.drag({40, 10});
    QCOMPARE(m.finish(), 0);
    QCOMPARE(m.tool(), ui::AnnotationModel::Tool::None);  // one shape per choice of tool
    QCOMPARE(tool.count(), 2);
    QCOMPARE(m.annotations().size(), std::size_t{1});
    QCOMPARE(m.describe(0), QStringLiteral("distance 6.00 mm"));  // 30 px * 0.2 mm
    QCOMPARE(m.onSlice(2), std::vector<int>{0});
    QVERIFY(m.onSlice(1).empty());

    m.setTool(ui::AnnotationModel::Tool::Region);
    m.begin(2, {10, 10});
    m.drag({30, 30});
    QCOMPARE(m.finish(), 1);
    QVERIFY2(m.describe(1).startsWith(QStringLiteral("region ")), qPrintable(m.describe(1)));
    QVERIFY(m.describe(1).contains(QStringLiteral("mean 10.0")));
    m.setNote(1, QStringLiteral("drusen"));
    QVERIFY(m.describe(1).endsWith(QStringLiteral(": drusen")));

    // A click without a drag is no shape.
    m.setTool(ui::AnnotationModel::Tool::Region);
    m.begin(2, {5, 5});
    QCOMPARE(m.finish(), -1);
    QCOMPARE(m.annotations().size(), std::size_t{2});
    m.remove(0);
    QCOMPARE(m.annotations().size(), std::size_t{1});
    QCOMPARE(m.annotations().front().note, std::string("drusen"));
    m.setScan(scan());  // another scan: a clean slate
    QVERIFY(m.annotations().empty());
  }

  void flagsToggle() {
    ui::AnnotationModel m;
    m.setScan(scan());
    m.toggleFlag(3);
    QVERIFY(m.isFlagged(3));
    QVERIFY(!m.isFlagged(2));
    QCOMPARE(m.describe(0), QStringLiteral("flagged"));
    m.toggleFlag(3);
    QVERIFY(!m.isFlagged(3));
    QVERIFY(m.annotations().empty());
  }

  void theMouseDrawsOnTheSliceView() {
    ui::SliceViewModel slices;
    slices.setVolume(scan());
    ui::AnnotationModel m;
    m.setScan(slices.volume());
    ui::SliceView view(&slices);
    view.setAnnotations(&m);
    view.resize(400, 200);  // the 100x50 slice fills it: 4 widget pixels per voxel
    m.setTool(ui::AnnotationModel::Tool::Distance);
    QTest::mousePress(&view, Qt::LeftButton, Qt::NoModifier, QPoint(40, 40));
    QTest::mouseMove(&view, QPoint(120, 40));
    QTest::mouseRelease(&view, Qt::LeftButton, Qt::NoModifier, QPoint(200, 40));
    QCOMPARE(m.annotations().size(), std::size_t{1});
    const auto& a = m.annotations().front();
    QCOMPARE(a.slice, slices.slice());
    QVERIFY(std::abs(a.points[0][0] - 10.0) < 0.01 && std::abs(a.points[0][1] - 10.0) < 0.01);
    QVERIFY2(std::abs(a.points[1][0] - 30.0) < 0.01, qPrintable(QString::number(a.points[1][0])));
    // Without a tool the same drag changes window/level and adds nothing.
    const double window = slices.window();
    QTest::mousePress(&view, Qt::LeftButton, Qt::NoModifier, QPoint(40, 40));
    QTest::mouseMove(&view, QPoint(140, 40));
    QTest::mouseRelease(&view, Qt::LeftButton, Qt::NoModifier, QPoint(140, 40));
    QCOMPARE(m.annotations().size(), std::size_t{1});
    QVERIFY(slices.window() != window);
    QVERIFY(!view.renderToImage().isNull());
  }
};

QTEST_MAIN(TestAnnotations)
#include "test_annotations.moc"
