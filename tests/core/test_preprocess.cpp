// OCT flattening and MRI preparation on phantoms whose geometry we control: flattening must
// undo tilt and follow the physical pixel size, every step must map back onto the scan, and the
// MRI pipeline must z-score over the brain and find the brain without a mask.

#include <gtest/gtest.h>

#include <cmath>
#include <algorithm>
#include <numeric>

#include "errors/Error.h"
#include "phantom/MriPhantom.h"
#include "phantom/OctPhantom.h"
#include "preprocess/MriPrepare.h"
#include "preprocess/OctFlatten.h"

using namespace al;

namespace {

OctPhantom smallOct(std::uint64_t seed, bool lesions) {
  OctPhantomOptions o;
  o.bscans = 3;
  o.seed = seed;
  if (lesions) o.lesions.pigmentEpithelialDetachment = 1, o.lesions.size = 1.5;
  return makeOctPhantom(o);
}

double correlation(const float* a, const float* b, std::size_t n) {
  double ma = 0, mb = 0;
  for (std::size_t i = 0; i < n; ++i) ma += a[i], mb += b[i];
  ma /= n, mb /= n;
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < n; ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

// Shifts every A-scan of `v` down by `slope` pixels per column (a tilted scan).
Volume tilt(const Volume& v, double slope) {
  Volume out(PixelType::UInt8, v.size(), 1);
  out.setSpacing(v.spacing());
  const Size3 s = v.size();
  for (std::int64_t z = 0; z < s.z; ++z)
    for (std::int64_t x = 0; x < s.x; ++x) {
      const auto shift = static_cast<std::int64_t>(std::lround(slope * (x - s.x / 2)));
      for (std::int64_t y = 0; y < s.y; ++y) {
        const std::int64_t from = y - shift;
        out.setValue(x, y, z, 0, from >= 0 && from < s.y ? v.value(x, from, z) : 0);
      }
    }
  return out;
}

}  // namespace

TEST(OctFlatten, BandHasFixedPhysicalPixelsAndIntensityRange) {
  const OctPhantom p = smallOct(3, false);
  const OctFlattened f = flattenOct(p.image);
  // 6 mm at 23.4 um per column = 256 columns; 128 rows of 3.9 um.
  EXPECT_EQ(f.band.size().x, 256);
  EXPECT_EQ(f.band.size().y, 128);
  EXPECT_EQ(f.band.size().z, 3);
  const ValueRange r = f.band.valueRange();
  EXPECT_GE(r.min, -1.0);
  EXPECT_LE(r.max, 1.0);
  EXPECT_TRUE(f.warnings.empty());
}

TEST(OctFlatten, RetinaLiesFlatInTheBand) {
  const OctPhantom p = smallOct(5, false);
  const OctFlattened f = flattenOct(p.image);
  // The deepest bright row near the RPE row, per column: nearly constant once flattened.
  const int w = static_cast<int>(f.band.size().x), rpeRow = f.options.rpeRow;
  std::vector<double> rows;
  for (int x = 8; x < w - 8; x += 4) {
    double best = -2;
    int at = 0;
    for (int y = rpeRow - 20; y <= rpeRow + 8; ++y) {
      double v = 0;
      for (int dx = -3; dx <= 3; ++dx) v += f.band.value(x + dx, y, 1);
      if (v > best) best = v, at = y;
    }
    rows.push_back(at);
  }
  // Robustly: most columns agree within a few rows (the ellipsoid zone, nearly as bright,
  // wins a few columns: those are the outliers a plain standard deviation would count).
  std::vector<double> sorted = rows;
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(sorted.size() / 2), sorted.end());
  const double median = sorted[sorted.size() / 2];
  const long near = std::count_if(rows.begin(), rows.end(), [&](double r) { return std::abs(r - median) <= 3; });
  EXPECT_GT(static_cast<double>(near) / rows.size(), 0.8) << "bright RPE band not flat after flattening";
  EXPECT_NEAR(median, rpeRow, 4) << "the RPE is not at the band's RPE row";
}

TEST(OctFlatten, UndoesTilt) {
  const OctPhantom p = smallOct(7, false);
  const OctFlattened a = flattenOct(p.image);
  const OctFlattened b = flattenOct(tilt(p.image, 0.12));  // 60 px over the B-scan
  const std::size_t n = static_cast<std::size_t>(a.band.voxelsPerChannel());
  EXPECT_GT(correlation(a.band.data<float>(), b.band.data<float>(), n), 0.85);
}

TEST(OctFlatten, FollowsAxialPixelSize) {
  // The same eye scanned at twice the axial sampling (a Cirrus-like 2 um grid): the band must
  // come out alike, since it is resampled to fixed microns.
  const OctPhantom p = smallOct(9, false);
  const Size3 s = p.image.size();
  Volume fine(PixelType::UInt8, {s.x, s.y * 2, s.z}, 1);
  fine.setSpacing({p.image.spacing()[0], p.image.spacing()[1] / 2, p.image.spacing()[2]});
  for (std::int64_t z = 0; z < s.z; ++z)
    for (std::int64_t y = 0; y < s.y * 2; ++y)
      for (std::int64_t x = 0; x < s.x; ++x) fine.setValue(x, y, z, 0, p.image.value(x, y / 2, z));
  const OctFlattened a = flattenOct(p.image), b = flattenOct(fine);
  ASSERT_EQ(a.band.size(), b.band.size());
  EXPECT_GT(correlation(a.band.data<float>(), b.band.data<float>(), static_cast<std::size_t>(a.band.voxelsPerChannel())), 0.9);
}

TEST(OctFlatten, MapsAndLabelsGoBackOntoTheScan) {
  const OctPhantom p = smallOct(11, true);
  const OctFlattened f = flattenOct(p.image);
  // A pigment epithelial detachment lifts the RPE; the fit keeps to the baseline below it, so
  // the detachment lies inside the band.
  long lesionPixels = 0, insideBand = 0;
  for (std::int64_t z = 0; z < p.mask.size().z; ++z)
    for (std::int64_t y = 0; y < p.mask.size().y; ++y)
      for (std::int64_t x = 0; x < p.mask.size().x; ++x) {
        if (!p.mask.value(x, y, z)) continue;
        ++lesionPixels;
        const double b = (y - f.rpe[static_cast<std::size_t>(z)][static_cast<std::size_t>(x)]) * f.axialScale + f.options.rpeRow;
        insideBand += b >= 0 && b <= f.options.bandHeight - 1;
      }
  ASSERT_GT(lesionPixels, 100);
  EXPECT_GT(static_cast<double>(insideBand) / lesionPixels, 0.95) << "the RPE fit rode up on the detachment";
  // The lesion mask into the band and back lands on the lesion.
  const Volume bandLabels = flattenOctLabels(f, p.mask);
  Volume bandMap(PixelType::Float32, f.band.size(), 1);
  long inBand = 0;
  for (std::int64_t i = 0; i < bandMap.voxelsPerChannel(); ++i) {
    bandMap.data<float>()[i] = bandLabels.data<std::uint8_t>()[i] ? 1.f : 0.f;
    inBand += bandLabels.data<std::uint8_t>()[i] != 0;
  }
  ASSERT_GT(inBand, 50);
  const Volume back = unflattenOct(f, bandMap);
  ASSERT_EQ(back.size(), p.image.size());
  long hit = 0, lesion = 0, falseHit = 0;
  for (std::int64_t i = 0; i < back.voxelsPerChannel(); ++i) {
    const bool isLesion = p.mask.data<std::uint8_t>()[i] != 0;
    const bool marked = back.data<float>()[i] >= 0.5f;
    lesion += isLesion;
    hit += isLesion && marked;
    falseHit += !isLesion && marked;
  }
  EXPECT_GT(static_cast<double>(hit) / lesion, 0.8);
  EXPECT_LT(static_cast<double>(falseHit) / lesion, 0.3);
}

TEST(OctFlatten, RefusesWhatIsNotARetina) {
  Volume flat(PixelType::UInt8, {64, 64, 2}, 1);
  EXPECT_THROW(flattenOct(flat), Error);  // constant
  Volume noise(PixelType::UInt8, {64, 64, 2}, 1);
  for (std::int64_t i = 0; i < noise.voxelsPerChannel(); ++i) noise.data<std::uint8_t>()[i] = static_cast<std::uint8_t>((i * 7919) % 13);
  EXPECT_THROW(flattenOct(Volume(PixelType::UInt8, {4, 4, 1}, 1)), Error);  // too small
}

TEST(MriPrepare, ZScoresOverTheBrainAndMapsBack) {
  MriPhantomOptions o;
  o.sizeX = 96, o.sizeY = 96, o.sizeZ = 40, o.spacing = 2.0;
  o.seed = 3;
  const MriPhantom p = makeMriPhantom(o);
  MriPrepareOptions po;
  po.size = 64;
  const MriPrepared m = prepareMri(p.image, &p.brainMask, po);
  ASSERT_EQ(m.slices.channels(), p.image.channels());
  EXPECT_EQ(m.slices.size().x, 64);
  // Inside the brain each contrast has mean ~0 and sd ~1 (over the resampled slices).
  for (int c = 0; c < m.slices.channels(); ++c) {
    double sum = 0, sum2 = 0, n = 0;
    for (std::int64_t i = 0; i < m.brain.voxelsPerChannel(); ++i)
      if (m.brain.data<std::uint8_t>()[i]) {
        const double v = m.slices.data<float>()[c * m.slices.voxelsPerChannel() + i];
        sum += v, sum2 += v * v, n += 1;
      }
    EXPECT_NEAR(sum / n, 0.0, 0.15) << "contrast " << c;
    EXPECT_NEAR(std::sqrt(sum2 / n - (sum / n) * (sum / n)), 1.0, 0.15) << "contrast " << c;
  }
  // A map of ones on the slices comes back as ones inside the brain.
  Volume ones(PixelType::Float32, m.brain.size(), 1);
  for (std::int64_t i = 0; i < ones.voxelsPerChannel(); ++i) ones.data<float>()[i] = 1.f;
  const Volume back = unprepareMri(m, ones, &p.brainMask);
  long brain = 0, covered = 0;
  for (std::int64_t i = 0; i < back.voxelsPerChannel(); ++i)
    if (p.brainMask.data<std::uint8_t>()[i]) brain++, covered += back.data<float>()[i] > 0.99f;
  EXPECT_GT(static_cast<double>(covered) / brain, 0.95);
}

TEST(MriPrepare, EstimatesABrainMaskWithoutOne) {
  MriPhantomOptions o;
  o.sizeX = 96, o.sizeY = 96, o.sizeZ = 40, o.spacing = 2.0;
  o.seed = 4;
  const MriPhantom p = makeMriPhantom(o);
  const Volume est = estimateBrainMask(p.image);
  long both = 0, a = 0, b = 0;
  for (std::int64_t i = 0; i < est.voxelsPerChannel(); ++i) {
    const bool x = est.data<std::uint8_t>()[i] != 0, y = p.brainMask.data<std::uint8_t>()[i] != 0;
    both += x && y, a += x, b += y;
  }
  EXPECT_GT(2.0 * both / (a + b), 0.8) << "Dice of the estimated brain mask";
  EXPECT_FALSE(est.metadata().warnings.empty()) << "an estimated mask must say so";
}
