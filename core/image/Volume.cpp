#include "image/Volume.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace al {

const char* pixelTypeName(PixelType type) {
  switch (type) {
    case PixelType::UInt8: return "uint8";
    case PixelType::Int16: return "int16";
    case PixelType::Float32: return "float32";
  }
  return "unknown";
}

std::size_t pixelTypeSize(PixelType type) {
  switch (type) {
    case PixelType::UInt8: return 1;
    case PixelType::Int16: return 2;
    case PixelType::Float32: return 4;
  }
  return 0;
}

Volume::Volume(PixelType type, Size3 size, int channels)
    : type_(type), size_(size), channels_(channels) {
  if (size.x <= 0 || size.y <= 0 || size.z <= 0 || channels <= 0) {
    throw std::invalid_argument("Volume: size and channel count must be positive");
  }
  // Checked arithmetic: a header's dimensions must not wrap around into a small allocation.
  std::uint64_t total = pixelTypeSize(type);
  for (std::int64_t factor : {size.x, size.y, size.z, static_cast<std::int64_t>(channels)}) {
    if (__builtin_mul_overflow(total, static_cast<std::uint64_t>(factor), &total) ||
        total > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      throw std::invalid_argument("Volume: too many voxels");
    }
  }
  voxels_.resize(static_cast<std::size_t>(total));
  channelNames_.resize(static_cast<std::size_t>(channels));
}

void Volume::setSpacing(const Vec3& spacing) {
  for (double s : spacing) {
    if (!(s > 0.0) || !std::isfinite(s)) {
      throw std::invalid_argument("Volume: spacing must be positive and finite");
    }
  }
  spacing_ = spacing;
}

void Volume::setChannelNames(std::vector<std::string> names) {
  if (static_cast<int>(names.size()) != channels_) {
    throw std::invalid_argument("Volume: one name per channel expected");
  }
  channelNames_ = std::move(names);
}

void Volume::checkType(PixelType expected) const {
  if (expected != type_) {
    throw std::logic_error(std::string("Volume: pixel type is ") + pixelTypeName(type_) +
                           ", accessed as " + pixelTypeName(expected));
  }
}

double Volume::value(std::int64_t x, std::int64_t y, std::int64_t z, int c) const {
  const auto i = static_cast<std::size_t>(linearIndex(x, y, z, c));
  switch (type_) {
    case PixelType::UInt8: return reinterpret_cast<const std::uint8_t*>(voxels_.data())[i];
    case PixelType::Int16: return reinterpret_cast<const std::int16_t*>(voxels_.data())[i];
    case PixelType::Float32: return reinterpret_cast<const float*>(voxels_.data())[i];
  }
  return 0.0;
}

namespace {
template <typename T> T saturate(double v) {
  if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(v);
  } else {
    const double r = std::round(v);
    return static_cast<T>(std::clamp(r, static_cast<double>(std::numeric_limits<T>::lowest()),
                                     static_cast<double>(std::numeric_limits<T>::max())));
  }
}
}  // namespace

void Volume::setValue(std::int64_t x, std::int64_t y, std::int64_t z, int c, double v) {
  const auto i = static_cast<std::size_t>(linearIndex(x, y, z, c));
  switch (type_) {
    case PixelType::UInt8: reinterpret_cast<std::uint8_t*>(voxels_.data())[i] = saturate<std::uint8_t>(v); return;
    case PixelType::Int16: reinterpret_cast<std::int16_t*>(voxels_.data())[i] = saturate<std::int16_t>(v); return;
    case PixelType::Float32: reinterpret_cast<float*>(voxels_.data())[i] = saturate<float>(v); return;
  }
}

ValueRange Volume::valueRange(int channel) const {
  if (empty()) return {};
  const std::int64_t n = voxelsPerChannel();
  const std::int64_t first = channel < 0 ? 0 : n * channel;
  const std::int64_t count = channel < 0 ? n * channels_ : n;
  return visitVoxels(*this, [&](const auto* p, std::int64_t) {
    double lo = std::numeric_limits<double>::infinity();
    double hi = -std::numeric_limits<double>::infinity();
    for (std::int64_t i = first; i < first + count; ++i) {
      const double v = static_cast<double>(p[i]);
      if (std::isnan(v)) continue;  // NaN carries no range; a NaN-only volume reports {0, 0}
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    if (lo > hi) return ValueRange{0.0, 0.0};
    return ValueRange{lo, hi};
  });
}

Vec3 Volume::indexToPhysical(const Vec3& index) const {
  Vec3 p = origin_;
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) p[r] += direction_[r * 3 + c] * spacing_[c] * index[c];
  }
  return p;
}

}  // namespace al
