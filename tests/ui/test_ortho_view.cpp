// The orthogonal views' presenter and the 3D view's volume fusion, without a display: planes
// through the cursor, their orientation and names, the shared cursor with the slice view, the
// heatmap on every plane, and the RGBA volume the 3D view renders.

#include <QSignalSpy>
#include <QTest>

#include "orthoview/OrthoViewModel.h"
#include "overlay/OverlayModel.h"
#include "render3d/VolumeComposer.h"
#include "sliceview/SliceViewModel.h"

using namespace al;

namespace {

// 20 x 12 x 8, value = 100 z + 10 y + x (so every voxel says where it is); spacing 1 x 1 x 2.
std::shared_ptr<Volume> coded() {
  auto v = std::make_shared<Volume>(PixelType::Float32, Size3{20, 12, 8});
  v->setSpacing({1.0, 1.0, 2.0});
  for (int z = 0; z < 8; ++z)
    for (int y = 0; y < 12; ++y)
      for (int x = 0; x < 20; ++x) v->setValue(x, y, z, 0, 100 * z + 10 * y + x);
  return v;
}

}  // namespace

class TestOrthoView : public QObject {
  Q_OBJECT
 private slots:
  void planesGoThroughTheCursor() {
    ui::SliceViewModel slices;
    ui::OverlayModel overlay;
    ui::OrthoViewModel m(&slices, &overlay);
    QVERIFY(!m.hasVolume());
    slices.setVolume(coded());
    slices.setWindowLevel(1000, 500);  // value v -> grey round(v * 255 / 1000)
    QCOMPARE(m.planeSize(2), QSize(20, 12));
    QCOMPARE(m.planeSize(1), QSize(20, 8));
    QCOMPARE(m.planeSize(0), QSize(12, 8));
    QCOMPARE(m.pixelAspect(1), 2.0);
    QCOMPARE(m.planeName(2), QStringLiteral("Axial"));
    QCOMPARE(m.planeName(1), QStringLiteral("Coronal"));
    QCOMPARE(m.planeName(0), QStringLiteral("Sagittal"));
    m.setCursor(0, 7);
    m.setCursor(1, 3);
    m.setCursor(2, 5);
    QCOMPARE(slices.slice(), 5);  // z is the slice view's slice: the views are linked
    auto grey = [](double v) { return static_cast<int>(v * 255.0 / 1000.0 + 0.5); };
    // Plane 1 (x across, z up) at y = 3: the bottom row is z = 0.
    const QImage coronal = m.renderPlane(1);
    QCOMPARE(qGray(coronal.pixel(4, 7)), grey(0 * 100 + 3 * 10 + 4));
    QCOMPARE(qGray(coronal.pixel(4, 0)), grey(7 * 100 + 3 * 10 + 4));
    // Plane 0 (y across, z up) at x = 7.
    const QImage sagittal = m.renderPlane(0);
    QCOMPARE(qGray(sagittal.pixel(9, 2)), grey(5 * 100 + 9 * 10 + 7));
    // The cursor's place in each plane, and a click there moving it.
    QCOMPARE(m.cursorInPlane(1), QPointF(7.5, 8 - 5.5));
    QSignalSpy changed(&m, &ui::OrthoViewModel::changed);
    m.setCursorFromPlane(0, QPointF(10.2, 0.5));  // y = 10, the top row: z = 7
    QCOMPARE(m.cursor(1), 10);
    QCOMPARE(slices.slice(), 7);
    QCOMPARE(m.cursor(0), 7);
    QVERIFY(changed.count() >= 2);
    m.scroll(0, 100);
    QCOMPARE(m.cursor(0), 19);  // clamped
  }

  void theHeatmapIsOnEveryPlane() {
    ui::SliceViewModel slices;
    ui::OverlayModel overlay;
    ui::OrthoViewModel m(&slices, &overlay);
    auto v = coded();
    slices.setVolume(v);
    auto a = std::make_shared<inference::ScanAnalysis>();
    Volume map(PixelType::Float32, v->size());
    map.setValue(6, 4, 2, 0, 5.0);  // one hot voxel
    a->maps.emplace("residual", std::move(map));
    a->mapNames = {"residual"};
    a->ranges["residual"] = {1.0, 4.0, true};
    a->sliceScores.assign(8, 0.0);
    overlay.setAnalysis(a);
    m.setCursor(0, 6);
    m.setCursor(1, 4);
    m.setCursor(2, 2);
    const QImage coronal = m.renderPlaneOverlay(1);
    QCOMPARE(coronal.size(), QSize(20, 8));
    QVERIFY(qAlpha(coronal.pixel(6, 8 - 1 - 2)) > 0);
    QCOMPARE(qAlpha(coronal.pixel(5, 8 - 1 - 2)), 0);
    QVERIFY(qAlpha(m.renderPlaneOverlay(0).pixel(4, 5)) > 0);
    overlay.setVisible(false);
    QVERIFY(m.renderPlaneOverlay(1).isNull());
  }

  void octPlanesAreNamedForOct() {
    ui::SliceViewModel slices;
    ui::OverlayModel overlay;
    ui::OrthoViewModel m(&slices, &overlay);
    auto v = std::make_shared<Volume>(PixelType::UInt8, Size3{64, 80, 5});
    v->setSpacing({0.0117, 0.0039, 0.12});
    slices.setVolume(v);
    QCOMPARE(m.planeName(2), QStringLiteral("B-scan"));
    QCOMPARE(m.planeName(1), QStringLiteral("En face (depth)"));
  }

  void theFusedVolumeKeepsSmallFindings() {
    // 300 x 40 x 10 downsampled to at most 100 per axis: x by 3. A single hot voxel survives
    // (the heatmap is pooled by maximum) in the overlay's colour, opaque; dark background is
    // transparent.
    Volume scan(PixelType::Float32, Size3{300, 40, 10});
    scan.setSpacing({0.5, 0.5, 1.0});
    Volume map(PixelType::Float32, scan.size());
    map.setValue(151, 20, 5, 0, 10.0);
    ui::ComposeOptions o;
    o.window = 100;
    o.level = 50;
    o.map = &map;
    o.mapLo = 1.0;
    o.mapHi = 10.0;
    o.maxSize = 100;
    const Volume rgba = ui::composeRgba(scan, o);
    QCOMPARE(rgba.channels(), 4);
    QVERIFY(rgba.size() == (Size3{100, 40, 10}));
    QCOMPARE(rgba.spacing()[0], 1.5);
    QVERIFY(rgba.value(50, 20, 5, 3) > 200);   // opaque finding
    QCOMPARE(rgba.value(10, 10, 1, 3), 0.0);   // black background: transparent
    const auto top = render::colormap(render::Colormap::Inferno, 1.0);
    QCOMPARE(rgba.value(50, 20, 5, 0), static_cast<double>(top[0]));
  }
};

QTEST_MAIN(TestOrthoView)
#include "test_ortho_view.moc"
