#pragma once
// Bilinear sampling of one float image plane, shared by the preprocessing steps that resample
// slices (MRI crop and resize, radiograph resize).

#include <algorithm>
#include <cstddef>

namespace al {

// The row-major h x w plane `img` at (x, y) in pixel coordinates, clamped to the edge pixels.
inline float sampleBilinearClamped(const float* img, int h, int w, double x, double y) {
  x = std::clamp(x, 0.0, w - 1.0);
  y = std::clamp(y, 0.0, h - 1.0);
  const int x0 = static_cast<int>(x), y0 = static_cast<int>(y);
  const int x1 = std::min(x0 + 1, w - 1), y1 = std::min(y0 + 1, h - 1);
  const double fx = x - x0, fy = y - y0;
  const auto at = [&](int yy, int xx) { return static_cast<double>(img[static_cast<std::size_t>(yy) * w + xx]); };
  return static_cast<float>((at(y0, x0) * (1 - fx) + at(y0, x1) * fx) * (1 - fy) + (at(y1, x0) * (1 - fx) + at(y1, x1) * fx) * fy);
}

}  // namespace al
