#include "phantom/OctArtifacts.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "phantom/PhantomRandom.h"

namespace al {
namespace {

Volume like(const Volume& scan, Size3 size) {
  Volume out(scan.pixelType(), size, 1);
  out.setSpacing(scan.spacing());
  out.setOrigin(scan.origin());
  out.setDirection(scan.direction());
  out.metadata() = scan.metadata();
  return out;
}

}  // namespace

Volume resampledWithoutSpacing(const Volume& scan, int columns, bool labels) {
  const Size3 s = scan.size();
  Volume out = like(scan, {columns, s.y, s.z});
  out.setSpacing({1.0, 1.0, 1.0});
  const double step = static_cast<double>(s.x) / columns;
  for (std::int64_t z = 0; z < s.z; ++z)
    for (std::int64_t y = 0; y < s.y; ++y)
      for (int u = 0; u < columns; ++u) {
        const double x = std::clamp((u + 0.5) * step - 0.5, 0.0, static_cast<double>(s.x - 1));
        if (labels) {
          out.setValue(u, y, z, 0, scan.value(std::lround(x), y, z));
          continue;
        }
        const auto x0 = static_cast<std::int64_t>(x);
        const std::int64_t x1 = std::min<std::int64_t>(x0 + 1, s.x - 1);
        const double f = x - static_cast<double>(x0);
        out.setValue(u, y, z, 0, std::round(scan.value(x0, y, z) * (1 - f) + scan.value(x1, y, z) * f));
      }
  return out;
}

Volume withPadding(const Volume& scan, PaddingSide side, double fraction, double value) {
  const Size3 s = scan.size();
  Volume out = scan;
  const auto rows = static_cast<std::int64_t>(std::lround(fraction * static_cast<double>(s.y)));
  const auto cols = static_cast<std::int64_t>(std::lround(fraction * static_cast<double>(s.x)));
  for (std::int64_t z = 0; z < s.z; ++z)
    for (std::int64_t y = 0; y < s.y; ++y)
      for (std::int64_t x = 0; x < s.x; ++x) {
        const bool in = (side == PaddingSide::Top && y < rows) || (side == PaddingSide::Bottom && y >= s.y - rows) ||
                        (side == PaddingSide::Left && x < cols) || (side == PaddingSide::Right && x >= s.x - cols);
        if (in) out.setValue(x, y, z, 0, value);
      }
  return out;
}

Volume withCornerWedge(const Volume& scan, double fraction, double value) {
  const Size3 s = scan.size();
  Volume out = scan;
  const double a = fraction * static_cast<double>(s.x);
  for (std::int64_t z = 0; z < s.z; ++z)
    for (std::int64_t y = 0; y < s.y; ++y)
      for (std::int64_t x = 0; x < s.x; ++x)
        if (static_cast<double>(x) + static_cast<double>(y) < a) out.setValue(x, y, z, 0, value);
  return out;
}

Volume tilted(const Volume& scan, double slope) {
  const Size3 s = scan.size();
  Volume out = like(scan, s);
  for (std::int64_t z = 0; z < s.z; ++z)
    for (std::int64_t x = 0; x < s.x; ++x) {
      const auto shift = static_cast<std::int64_t>(std::lround(slope * static_cast<double>(x - s.x / 2)));
      for (std::int64_t y = 0; y < s.y; ++y) {
        const std::int64_t from = y - shift;
        out.setValue(x, y, z, 0, from >= 0 && from < s.y ? scan.value(x, from, z) : 0);
      }
    }
  return out;
}

Volume lowContrast(const Volume& scan, double factor, double noise, std::uint64_t seed) {
  const Size3 s = scan.size();
  std::vector<double> v;
  for (std::int64_t i = 0; i < scan.voxelsPerChannel(); i += 7) v.push_back(scan.value(i % s.x, (i / s.x) % s.y, i / (s.x * s.y)));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  const double med = v[v.size() / 2];
  Volume out(PixelType::UInt8, s, 1);
  out.setSpacing(scan.spacing());
  out.metadata() = scan.metadata();
  PhantomRandom rng(seed);
  for (std::int64_t z = 0; z < s.z; ++z)
    for (std::int64_t y = 0; y < s.y; ++y)
      for (std::int64_t x = 0; x < s.x; ++x) {
        const double a = med + factor * (scan.value(x, y, z) - med) + noise * 255.0 * rng.normal();
        out.setValue(x, y, z, 0, std::clamp(std::round(a), 0.0, 255.0));
      }
  return out;
}

Volume withSaturatedReflex(const Volume& scan, int x, int width) {
  const Size3 s = scan.size();
  Volume out = scan;
  for (std::int64_t z = 0; z < s.z; ++z)
    for (std::int64_t y = 0; y < s.y; ++y)
      for (std::int64_t c = std::max<std::int64_t>(0, x - width / 2); c < std::min<std::int64_t>(s.x, x - width / 2 + width); ++c)
        out.setValue(c, y, z, 0, 255);
  return out;
}

}  // namespace al
