#include <gtest/gtest.h>

#include "image/Volume.h"

using namespace al;

TEST(Volume, AllocatesZeroedPlanarBuffer) {
  Volume v(PixelType::Int16, Size3{4, 3, 2}, 2);
  EXPECT_EQ(v.byteSize(), 4u * 3 * 2 * 2 * sizeof(std::int16_t));
  EXPECT_EQ(v.linearIndex(1, 2, 1, 1), ((1 * 2 + 1) * 3 + 2) * 4 + 1);
  v.setValue(3, 2, 1, 1, -7);
  EXPECT_EQ(v.data<std::int16_t>()[v.linearIndex(3, 2, 1, 1)], -7);
  const auto r = v.valueRange();
  EXPECT_EQ(r.min, -7);
  EXPECT_EQ(r.max, 0);
}

TEST(Volume, RejectsBadSizesAndTypes) {
  EXPECT_THROW(Volume(PixelType::UInt8, Size3{0, 1, 1}), std::invalid_argument);
  EXPECT_THROW(Volume(PixelType::UInt8, Size3{1, 1, 1}, 0), std::invalid_argument);
  EXPECT_THROW(Volume(PixelType::UInt8, Size3{1 << 30, 1 << 30, 1 << 30}), std::invalid_argument);
  Volume v(PixelType::UInt8, Size3{2, 2, 2});
  EXPECT_THROW(v.data<float>(), std::logic_error);
  EXPECT_THROW(v.setSpacing({1, 0, 1}), std::invalid_argument);
}

TEST(Volume, SetValueSaturatesIntegers) {
  Volume v(PixelType::UInt8, Size3{2, 1, 1});
  v.setValue(0, 0, 0, 0, 300.0);
  v.setValue(1, 0, 0, 0, -4.0);
  EXPECT_EQ(v.value(0, 0, 0), 255);
  EXPECT_EQ(v.value(1, 0, 0), 0);
}

TEST(Volume, IndexToPhysicalUsesSpacingOriginAndDirection) {
  Volume v(PixelType::Float32, Size3{4, 4, 4});
  v.setSpacing({0.5, 2.0, 3.0});
  v.setOrigin({10, 20, 30});
  // Index x runs along physical -y, index y along +x.
  v.setDirection({0, 1, 0, -1, 0, 0, 0, 0, 1});
  const Vec3 p = v.indexToPhysical({2, 1, 1});
  EXPECT_DOUBLE_EQ(p[0], 10 + 2.0);
  EXPECT_DOUBLE_EQ(p[1], 20 - 1.0);
  EXPECT_DOUBLE_EQ(p[2], 30 + 3.0);
}

TEST(Volume, ValueRangeIgnoresNaN) {
  Volume v(PixelType::Float32, Size3{3, 1, 1});
  v.data<float>()[0] = std::numeric_limits<float>::quiet_NaN();
  v.data<float>()[1] = 2.5f;
  v.data<float>()[2] = -1.0f;
  EXPECT_EQ(v.valueRange().min, -1.0);
  EXPECT_EQ(v.valueRange().max, 2.5);
}
