// A VTK volume rendering lands in a QImage that Qt 6 can paint. Needs an X display: ctest runs
// it under xvfb-run.

#include <QTest>

#include <QSignalSpy>

#include "overlay/OverlayModel.h"
#include "render3d/OffscreenVolumeRenderer.h"
#include "render3d/VolumeComposer.h"
#include "render3d/VolumeRenderView.h"
#include "sliceview/SliceViewModel.h"

using namespace al;

class TestVolumeRender : public QObject {
  Q_OBJECT
 private slots:
  void rendersABrightSphereIntoAQImage() {
    if (!ui::OffscreenVolumeRenderer::displayAvailable()) QSKIP("no X display (run under xvfb-run)");
    Volume v(PixelType::UInt8, Size3{48, 48, 48});
    for (int z = 0; z < 48; ++z)
      for (int y = 0; y < 48; ++y)
        for (int x = 0; x < 48; ++x) {
          const double d2 = (x - 24) * (x - 24) + (y - 24) * (y - 24) + (z - 24) * (z - 24);
          v.setValue(x, y, z, 0, d2 < 15 * 15 ? 250.0 : 0.0);
        }
    ui::OffscreenVolumeRenderer renderer;
    const QImage image = renderer.render(v, {QSize(200, 160), 30.0, 20.0, 0});
    QCOMPARE(image.size(), QSize(200, 160));
    const QColor centre = image.pixelColor(100, 80);
    const QColor corner = image.pixelColor(2, 2);
    QVERIFY2(centre.lightness() > 60, qPrintable(QStringLiteral("centre lightness %1").arg(centre.lightness())));
    QCOMPARE(corner.lightness(), 0);
    // A second render with the same renderer (the viewer re-renders on every change).
    const QImage again = renderer.render(v, {QSize(120, 120), 90.0, 0.0, 0});
    QCOMPARE(again.size(), QSize(120, 120));
    QVERIFY(again.pixelColor(60, 60).lightness() > 60);
  }

  void rendersTheHeatmapInItsColoursInsideTheScan() {
    if (!ui::OffscreenVolumeRenderer::displayAvailable()) QSKIP("no X display (run under xvfb-run)");
    // A faint grey ball with a hot core in the heatmap: the core shows in the heatmap's colour.
    Volume scan(PixelType::Float32, Size3{40, 40, 40});
    Volume map(PixelType::Float32, scan.size());
    for (int z = 0; z < 40; ++z)
      for (int y = 0; y < 40; ++y)
        for (int x = 0; x < 40; ++x) {
          const double d2 = (x - 20) * (x - 20) + (y - 20) * (y - 20) + (z - 20) * (z - 20);
          scan.setValue(x, y, z, 0, d2 < 16 * 16 ? 60.0 : 0.0);
          map.setValue(x, y, z, 0, d2 < 6 * 6 ? 1.0 : 0.0);
        }
    ui::ComposeOptions o;
    o.window = 100;
    o.level = 50;
    o.map = &map;
    o.mapLo = 0.0;
    o.mapHi = 2.0;  // the core at half the range: inferno's red
    ui::OffscreenVolumeRenderer renderer;
    const QImage image = renderer.renderRgba(ui::composeRgba(scan, o), {QSize(160, 160), 0.0, 0.0, 0});
    const QColor centre = image.pixelColor(80, 80);
    QVERIFY2(centre.red() > centre.blue() + 60, qPrintable(centre.name()));
    QCOMPARE(image.pixelColor(2, 2).lightness(), 0);
    // A volume that is not RGBA is refused with the reason.
    QVERIFY_THROWS_EXCEPTION(al::Error, renderer.renderRgba(scan));
  }

  void theViewRendersInItsOwnThread() {
    if (!ui::OffscreenVolumeRenderer::displayAvailable()) QSKIP("no X display (run under xvfb-run)");
    ui::SliceViewModel slices;
    ui::OverlayModel overlay;
    ui::VolumeRenderView view(&slices, &overlay);
    view.resize(200, 200);
    view.show();
    QSignalSpy shown(&view, &ui::VolumeRenderView::frameShown);
    auto v = std::make_shared<Volume>(PixelType::UInt8, Size3{32, 32, 32});
    for (int i = 0; i < 32 * 32 * 32; ++i) v->data<std::uint8_t>()[i] = static_cast<std::uint8_t>((i % 32) * 8);
    slices.setVolume(v);
    QVERIFY(shown.wait(30000));
    QVERIFY(!view.image().isNull());
    // Turning it renders again.
    shown.clear();
    view.setAngles(120, 10);
    QVERIFY(shown.wait(30000));
    QCOMPARE(view.azimuth(), 120.0);
  }
};

QTEST_MAIN(TestVolumeRender)
#include "test_volume_render.moc"
