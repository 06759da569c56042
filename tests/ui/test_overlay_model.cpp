// The overlay presenter without a display: which pixels get which colour under each
// normalisation, the threshold, opacity and visibility, and the slice scores against the score
// threshold.

#include <QSignalSpy>
#include <QTest>
#include <cmath>

#include "overlay/OverlayModel.h"

using namespace al;

namespace {

// A 3-slice 4x4 map: slice z holds values z*10 + i (i the pixel index), so each slice's range
// differs; the card's calibrated range is [5, 25].
std::shared_ptr<inference::ScanAnalysis> makeAnalysis() {
  auto a = std::make_shared<inference::ScanAnalysis>();
  a->modelName = "test-model";
  Volume map(PixelType::Float32, Size3{4, 4, 3});
  for (int z = 0; z < 3; ++z)
    for (int i = 0; i < 16; ++i) map.data<float>()[z * 16 + i] = static_cast<float>(z * 10 + i);
  a->maps.emplace("residual", map);
  Volume rec(PixelType::Float32, Size3{4, 4, 3});
  for (int i = 0; i < 48; ++i) rec.data<float>()[i] = static_cast<float>(i % 7) / 7.0f;
  a->maps.emplace("reconstruction", rec);
  a->mapNames = {"residual"};
  a->ranges["residual"] = {5.0, 25.0, true};
  a->sliceScores = {0.1, std::nan(""), 0.9};
  a->threshold = 0.5;
  a->scanScore = 0.9;
  return a;
}

int alphaAt(const QImage& img, int i) { return qAlpha(img.pixel(i % 4, i / 4)); }

}  // namespace

class TestOverlayModel : public QObject {
  Q_OBJECT
 private slots:
  void calibratedRangeColoursOnlyAboveTheHealthyRange() {
    ui::OverlayModel m;
    QSignalSpy changed(&m, &ui::OverlayModel::changed);
    m.setAnalysis(makeAnalysis());
    QVERIFY(changed.count() >= 1);
    QVERIFY(m.hasMap());
    QCOMPARE(m.mapName(), QStringLiteral("residual"));
    QCOMPARE(m.mapNames(), QStringList{QStringLiteral("residual")});  // the reconstruction is not a heatmap
    const auto r = m.range(1);
    QCOMPARE(r.lo, 5.0);
    QCOMPARE(r.hi, 25.0);
    QVERIFY(r.calibrated);
    QVERIFY(m.rangeLabel(1).contains(QStringLiteral("healthy")));
    // Slice 1 holds 10..25: all above 5, so every pixel is coloured; slice 0 holds 0..15:
    // pixels 0..5 are at or below the healthy range and stay transparent.
    const QImage s0 = m.renderOverlay(0);
    QCOMPARE(s0.size(), QSize(4, 4));
    for (int i = 0; i <= 5; ++i) QCOMPARE(alphaAt(s0, i), 0);
    for (int i = 6; i < 16; ++i) QVERIFY(alphaAt(s0, i) > 0);
    // Brighter colour for a larger value: alpha ramps up, and the top is the most opaque.
    QVERIFY(alphaAt(s0, 15) > alphaAt(s0, 6));
    const QImage s2 = m.renderOverlay(2);  // 20..35: the top clips at the range's end
    QCOMPARE(s2.pixel(3, 3), s2.pixel(2, 3));
    QCOMPARE(alphaAt(s2, 15), static_cast<int>(std::lround(255 * m.opacity())));
  }

  void perImageAndPerVolumeUseTheScansOwnRange() {
    ui::OverlayModel m;
    m.setAnalysis(makeAnalysis());
    m.setNormalisation(ui::OverlayModel::Normalisation::PerVolume);
    const auto vol0 = m.range(0), vol2 = m.range(2);
    QCOMPARE(vol0.lo, vol2.lo);
    QVERIFY(!vol0.calibrated);
    m.setNormalisation(ui::OverlayModel::Normalisation::PerImage);
    const auto img0 = m.range(0), img2 = m.range(2);
    QVERIFY(img2.lo > img0.lo + 15);  // each slice on its own scale
    QVERIFY(img0.hi <= 15.0 && img2.hi <= 35.0);
    // Per image, the brightest pixel of every slice gets the top colour.
    QCOMPARE(m.renderOverlay(0).pixel(3, 3), m.renderOverlay(2).pixel(3, 3));
  }

  void thresholdOpacityVisibilityAndColormap() {
    ui::OverlayModel m;
    m.setAnalysis(makeAnalysis());
    const QImage before = m.renderOverlay(1);
    m.setThreshold(0.5);  // hide below 15 (halfway from 5 to 25)
    const QImage cut = m.renderOverlay(1);
    QCOMPARE(alphaAt(cut, 4), 0);   // 14
    QVERIFY(alphaAt(cut, 6) > 0);   // 16
    QCOMPARE(cut.pixel(3, 3), before.pixel(3, 3));
    m.setOpacity(0.3);
    QVERIFY(alphaAt(m.renderOverlay(1), 15) < alphaAt(cut, 15));
    m.setColormap(render::Colormap::Jet);
    const QRgb jet = m.renderOverlay(1).pixel(3, 3);
    m.setColormap(render::Colormap::Hot);
    QVERIFY(m.renderOverlay(1).pixel(3, 3) != jet);
    QCOMPARE(m.colours().size(), 256);
    m.setVisible(false);
    QVERIFY(m.renderOverlay(1).isNull());
    m.toggleVisible();
    QVERIFY(!m.renderOverlay(1).isNull());
    QVERIFY(m.renderOverlay(3).isNull());  // outside the scan
    QVERIFY(m.renderOverlay(-1).isNull());
  }

  void scoresAgainstTheThreshold() {
    ui::OverlayModel m;
    QSignalSpy thresholds(&m, &ui::OverlayModel::scoreThresholdChanged);
    m.setAnalysis(makeAnalysis());
    QCOMPARE(thresholds.count(), 1);
    QCOMPARE(*m.scoreThreshold(), 0.5);
    QVERIFY(!m.sliceFlagged(0));
    QVERIFY(!m.sliceFlagged(1));  // not scored
    QVERIFY(m.sliceFlagged(2));
    QCOMPARE(m.flaggedSlices(), std::vector<int>{2});
    QVERIFY(m.verdict(2).contains(QStringLiteral("above")));
    QVERIFY(m.verdict(0).contains(QStringLiteral("within")));
    QVERIFY(m.verdict(1).contains(QStringLiteral("not scored")));
    m.setScoreThreshold(0.05);
    QCOMPARE(m.flaggedSlices(), (std::vector<int>{0, 2}));
    QCOMPARE(thresholds.count(), 2);
    // The largest coloured area among flagged slices: slice 2 (all 16 pixels above 5).
    QCOMPARE(m.largestFindingSlice(), 2);
  }

  void reconstructionAndClearing() {
    ui::OverlayModel m;
    m.setAnalysis(makeAnalysis());
    QVERIFY(m.hasReconstruction());
    const QImage rec = m.renderReconstruction(0);
    QCOMPARE(rec.size(), QSize(4, 4));
    QCOMPARE(rec.format(), QImage::Format_Grayscale8);
    m.setAnalysis(nullptr);
    QVERIFY(!m.hasMap());
    QVERIFY(m.renderOverlay(0).isNull());
    QVERIFY(m.verdict(0).isEmpty());
    QVERIFY(!m.scoreThreshold());
  }

  void normalisationNamesRoundTrip() {
    using N = ui::OverlayModel::Normalisation;
    for (N n : {N::Calibrated, N::PerVolume, N::PerImage})
      QCOMPARE(ui::OverlayModel::normalisationFromString(ui::OverlayModel::toString(n)), n);
    QVERIFY(render::colormapFromString("jet") == render::Colormap::Jet);
    QVERIFY_THROWS_EXCEPTION(al::Error, render::colormapFromString("rainbow"));
  }
};

QTEST_MAIN(TestOverlayModel)
#include "test_overlay_model.moc"
