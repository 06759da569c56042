#include "wizard/PlaneImage.h"

#include <algorithm>

#include "render/Raster.h"

namespace al::ui {

std::vector<float> planeOf(const Volume& v, std::int64_t z, int channel) {
  const Size3 s = v.size();
  std::vector<float> out(static_cast<std::size_t>(s.x * s.y));
  for (std::int64_t y = 0; y < s.y; ++y)
    for (std::int64_t x = 0; x < s.x; ++x)
      out[static_cast<std::size_t>(y * s.x + x)] = static_cast<float>(v.value(x, y, z, channel));
  return out;
}

std::pair<float, float> percentileWindow(std::vector<float> values, double lo, double hi) {
  if (values.empty()) return {0.f, 1.f};
  auto at = [&](double p) {
    const auto k = static_cast<std::ptrdiff_t>(p / 100.0 * static_cast<double>(values.size() - 1));
    std::nth_element(values.begin(), values.begin() + k, values.end());
    return values[static_cast<std::size_t>(k)];
  };
  const float a = at(lo), b = at(hi);
  return {a, b};
}

QImage greyImage(const std::vector<float>& plane, int width, int height, float lo, float hi) {
  QImage img(width, height, QImage::Format_RGB32);
  for (int y = 0; y < height; ++y) {
    auto* line = reinterpret_cast<QRgb*>(img.scanLine(y));
    for (int x = 0; x < width; ++x) {
      const float v = plane[static_cast<std::size_t>(y) * width + x];
      const int g = hi > lo ? std::clamp(static_cast<int>(255.f * (v - lo) / (hi - lo)), 0, 255) : 0;
      line[x] = qRgb(g, g, g);
    }
  }
  return img;
}

QImage infernoImage(const std::vector<float>& plane, int width, int height, float hi) {
  QImage img(width, height, QImage::Format_RGB32);
  const float top = std::max(hi, 1e-12f);
  for (int y = 0; y < height; ++y) {
    auto* line = reinterpret_cast<QRgb*>(img.scanLine(y));
    for (int x = 0; x < width; ++x) {
      const auto c = render::colormap(render::Colormap::Inferno, std::clamp(plane[static_cast<std::size_t>(y) * width + x] / top, 0.f, 1.f));
      line[x] = qRgb(c[0], c[1], c[2]);
    }
  }
  return img;
}

}  // namespace al::ui
