// A VTK volume rendering lands in a QImage that Qt 6 can paint. Needs an X display: ctest runs
// it under xvfb-run.

#include <QTest>

#include "render3d/OffscreenVolumeRenderer.h"

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
};

QTEST_MAIN(TestVolumeRender)
#include "test_volume_render.moc"
