#include <gtest/gtest.h>

#include <cstring>

#include "phantom/OctPhantom.h"

using namespace al;

namespace {
std::int64_t countNonZero(const Volume& v) {
  std::int64_t n = 0;
  for (std::int64_t i = 0; i < v.voxelsPerChannel(); ++i) n += v.data<std::uint8_t>()[i] != 0;
  return n;
}
}  // namespace

TEST(OctPhantom, SameSeedSameVolumeOtherSeedOtherVolume) {
  OctPhantomOptions o;
  o.bscans = 4;
  const auto a = makeOctPhantom(o);
  const auto b = makeOctPhantom(o);
  o.seed = 2;
  const auto c = makeOctPhantom(o);
  EXPECT_EQ(std::memcmp(a.image.bytes(), b.image.bytes(), a.image.byteSize()), 0);
  EXPECT_NE(std::memcmp(a.image.bytes(), c.image.bytes(), a.image.byteSize()), 0);
}

TEST(OctPhantom, HealthyHasNoMaskLesionsLieOnChangedPixels) {
  OctPhantomOptions o;
  o.bscans = 9;
  o.drusen = 0;
  o.cysts = 0;
  const auto healthy = makeOctPhantom(o);
  EXPECT_EQ(countNonZero(healthy.mask), 0);
  o.cysts = 2;
  const auto sick = makeOctPhantom(o);
  ASSERT_GT(countNonZero(sick.mask), 100);
  // The cysts are dark: inside the mask, mean intensity is far below the retina around them.
  double inside = 0, n = 0;
  for (std::int64_t i = 0; i < sick.mask.voxelsPerChannel(); ++i) {
    if (sick.mask.data<std::uint8_t>()[i]) {
      inside += sick.image.data<std::uint8_t>()[i];
      n += 1;
    }
  }
  EXPECT_LT(inside / n, 30.0);
}

TEST(OctPhantom, RetinaIsBrighterThanVitreous) {
  OctPhantomOptions o;
  o.bscans = 1;
  const auto p = makeOctPhantom(o);
  auto rowMean = [&](int y) {
    double s = 0;
    for (int x = 0; x < o.width; ++x) s += p.image.value(x, y, 0);
    return s / o.width;
  };
  EXPECT_LT(rowMean(5), 30.0);              // vitreous at the top
  double brightest = 0;
  for (int y = 0; y < o.depth; ++y) brightest = std::max(brightest, rowMean(y));
  EXPECT_GT(brightest, 120.0);               // RPE / NFL bands
}
