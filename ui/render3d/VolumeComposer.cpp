#include "render3d/VolumeComposer.h"

#include <algorithm>
#include <cmath>

namespace al::ui {

Volume composeRgba(const Volume& scan, const ComposeOptions& o) {
  const Size3 in = scan.size();
  const int maxSize = std::max(8, o.maxSize);
  const std::int64_t sx = (in.x + maxSize - 1) / maxSize, sy = (in.y + maxSize - 1) / maxSize, sz = (in.z + maxSize - 1) / maxSize;
  const Size3 out{(in.x + sx - 1) / sx, (in.y + sy - 1) / sy, (in.z + sz - 1) / sz};
  Volume rgba(PixelType::UInt8, out, 4);
  rgba.setSpacing({scan.spacing()[0] * static_cast<double>(sx), scan.spacing()[1] * static_cast<double>(sy),
                   scan.spacing()[2] * static_cast<double>(sz)});
  const bool withMap = o.map && o.map->size() == in;
  const double lo = o.level - o.window / 2, gScale = 1.0 / std::max(1e-9, o.window);
  const double mScale = 1.0 / std::max(1e-9, o.mapHi - o.mapLo);
  const std::int64_t n = rgba.voxelsPerChannel();
  std::uint8_t* dst = rgba.data<std::uint8_t>();
  const float* map = withMap ? o.map->data<float>() : nullptr;
  for (std::int64_t z = 0; z < out.z; ++z)
    for (std::int64_t y = 0; y < out.y; ++y)
      for (std::int64_t x = 0; x < out.x; ++x) {
        double sum = 0, peak = -std::numeric_limits<double>::infinity();
        int count = 0;
        for (std::int64_t k = z * sz; k < std::min(in.z, (z + 1) * sz); ++k)
          for (std::int64_t j = y * sy; j < std::min(in.y, (y + 1) * sy); ++j)
            for (std::int64_t i = x * sx; i < std::min(in.x, (x + 1) * sx); ++i) {
              sum += scan.value(i, j, k, o.channel);
              ++count;
              if (map) peak = std::max(peak, static_cast<double>(map[(k * in.y + j) * in.x + i]));
            }
        const double g = std::clamp((sum / std::max(1, count) - lo) * gScale, 0.0, 1.0);
        const double t = map ? (peak - o.mapLo) * mScale : -1.0;
        const std::int64_t v = (z * out.y + y) * out.x + x;
        if (t > 0 && t >= o.hideBelow) {
          const auto c = render::overlayColour(o.colormap, t);
          dst[v] = c[0];
          dst[n + v] = c[1];
          dst[2 * n + v] = c[2];
          dst[3 * n + v] = static_cast<std::uint8_t>(std::lround(255 * (0.35 + 0.65 * std::min(1.0, t))));
        } else {
          const auto grey = static_cast<std::uint8_t>(std::lround(255 * g));
          dst[v] = dst[n + v] = dst[2 * n + v] = grey;
          // Background and faint tissue transparent; bright structures a light haze.
          const double a = g < 0.25 ? 0.0 : std::pow((g - 0.25) / 0.75, 1.5) * 0.15;
          dst[3 * n + v] = static_cast<std::uint8_t>(std::lround(255 * a));
        }
      }
  return rgba;
}

}  // namespace al::ui
