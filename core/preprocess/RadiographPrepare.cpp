#include "preprocess/RadiographPrepare.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "errors/Error.h"
#include "image/Bilinear.h"
#include "image/Percentile.h"

namespace al {

nlohmann::json RadiographPrepareOptions::toJson() const {
  return {{"size", size}, {"low_percentile", lowPercentile}, {"high_percentile", highPercentile},
          {"window", "per image, percentiles to [-1, 1]"},
          {"resize", "aspect ratio kept, padded with -1 to a square; padding not scored"}};
}

RadiographPrepareOptions RadiographPrepareOptions::fromJson(const nlohmann::json& j) {
  RadiographPrepareOptions o;
  o.size = j.value("size", o.size);
  o.lowPercentile = j.value("low_percentile", o.lowPercentile);
  o.highPercentile = j.value("high_percentile", o.highPercentile);
  return o;
}

RadiographPrepared prepareRadiograph(const Volume& image, const RadiographPrepareOptions& options) {
  const std::string source = image.metadata().sourcePath.empty() ? "radiograph" : image.metadata().sourcePath;
  if (image.empty()) throw Error(source, "empty image");
  if (image.channels() != 1)
    throw Error(source, "has " + std::to_string(image.channels()) + " channels: a radiograph has one (colour images are not radiographs)");
  if (options.size < 16) throw Error(source, "radiograph size must be at least 16");
  if (!(options.highPercentile > options.lowPercentile)) throw Error(source, "radiograph window: high_percentile must exceed low_percentile");
  const Size3 s = image.size();
  const int w = static_cast<int>(s.x), h = static_cast<int>(s.y), n = options.size;
  if (w < 8 || h < 8) throw Error(source, "an image of " + std::to_string(w) + "x" + std::to_string(h) + " is too small for a radiograph");

  RadiographPrepared out;
  out.options = options;
  out.original = s;
  out.originalSpacing = image.spacing();
  // Physical aspect: a detector with non-square pixels keeps its true shape.
  const double sx = image.spacing()[0] > 0 ? image.spacing()[0] : 1.0, sy = image.spacing()[1] > 0 ? image.spacing()[1] : 1.0;
  const double widthMm = w * sx, heightMm = h * sy;
  const double mmPerPixel = std::max(widthMm, heightMm) / n;
  out.scale = sx / mmPerPixel;
  out.scaleY = sy / mmPerPixel;
  out.offsetX = 0.5 * (n - w * out.scale);
  out.offsetY = 0.5 * (n - h * out.scaleY);

  out.images = Volume(PixelType::Float32, {n, n, s.z}, 1);
  out.valid = Volume(PixelType::UInt8, {n, n, s.z}, 1);
  out.images.setSpacing({mmPerPixel, mmPerPixel, image.spacing()[2]});
  out.images.metadata() = image.metadata();
  float* dst = out.images.data<float>();
  std::uint8_t* valid = out.valid.data<std::uint8_t>();
  std::vector<float> plane(static_cast<std::size_t>(w) * h);
  const int kx = std::max(1, static_cast<int>(std::ceil(1.0 / out.scale - 1e-9)));
  const int ky = std::max(1, static_cast<int>(std::ceil(1.0 / out.scaleY - 1e-9)));
  for (std::int64_t z = 0; z < s.z; ++z) {
    visitVoxels(image, [&](const auto* p, std::int64_t) {
      for (std::size_t i = 0; i < plane.size(); ++i) plane[i] = static_cast<float>(p[z * w * h + static_cast<std::int64_t>(i)]);
    });
    std::vector<float> sample;
    const std::size_t stride = std::max<std::size_t>(1, plane.size() / 500000);
    for (std::size_t i = 0; i < plane.size(); i += stride) {
      if (!std::isfinite(plane[i])) throw Error(source, "NaN or infinite intensities");
      sample.push_back(plane[i]);
    }
    std::vector<float> copy = sample;
    const double lo = percentileInPlace(sample, options.lowPercentile), hi = percentileInPlace(copy, options.highPercentile);
    if (!(hi > lo)) throw Error(source, "image " + std::to_string(z) + " has no contrast (nearly constant)");
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < n; ++i) {
        const std::size_t o = (static_cast<std::size_t>(z) * n + j) * n + i;
        // The square pixel's footprint on the original, averaged when shrinking.
        const double x0 = (i - out.offsetX) / out.scale, y0 = (j - out.offsetY) / out.scaleY;
        const double cx = (i + 0.5 - out.offsetX) / out.scale, cy = (j + 0.5 - out.offsetY) / out.scaleY;
        if (cx < 0 || cy < 0 || cx > w || cy > h) {
          dst[o] = -1.f;
          valid[o] = 0;
          continue;
        }
        double acc = 0;
        for (int b = 0; b < ky; ++b)
          for (int a = 0; a < kx; ++a)
            acc += sampleBilinearClamped(plane.data(), h, w, x0 + (a + 0.5) / (kx * out.scale) - 0.5, y0 + (b + 0.5) / (ky * out.scaleY) - 0.5);
        const double v = (acc / (kx * ky) - lo) / (hi - lo);
        dst[o] = static_cast<float>(std::clamp(2.0 * v - 1.0, -1.0, 1.0));
        valid[o] = 1;
      }
  }
  return out;
}

Volume unprepareRadiograph(const RadiographPrepared& prep, const Volume& map) {
  const int n = prep.options.size;
  if (map.pixelType() != PixelType::Float32 || map.size().x != n || map.size().y != n || map.size().z != prep.original.z)
    throw Error("unprepare", "the map does not have the prepared radiographs' geometry");
  const Size3 s = prep.original;
  const int w = static_cast<int>(s.x), h = static_cast<int>(s.y);
  Volume out(PixelType::Float32, s, 1);
  out.setSpacing(prep.originalSpacing);
  float* dst = out.data<float>();
  for (std::int64_t z = 0; z < s.z; ++z) {
    const float* src = map.data<float>() + z * n * n;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        dst[(z * h + y) * w + x] = sampleBilinearClamped(src, n, n, (x + 0.5) * prep.scale + prep.offsetX - 0.5,
                                                  (y + 0.5) * prep.scaleY + prep.offsetY - 0.5);
  }
  return out;
}

Volume prepareRadiographLabels(const RadiographPrepared& prep, const Volume& labels) {
  if (!(labels.size() == prep.original)) throw Error("labels", "the mask's grid differs from the image's");
  const int n = prep.options.size;
  const Size3 s = prep.original;
  Volume out(PixelType::UInt8, {n, n, s.z}, 1);
  std::uint8_t* dst = out.data<std::uint8_t>();
  for (std::int64_t z = 0; z < s.z; ++z)
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < n; ++i) {
        const auto x = static_cast<std::int64_t>(std::floor((i + 0.5 - prep.offsetX) / prep.scale));
        const auto y = static_cast<std::int64_t>(std::floor((j + 0.5 - prep.offsetY) / prep.scaleY));
        dst[(z * n + j) * n + i] = labels.contains(x, y, z) ? static_cast<std::uint8_t>(std::clamp(labels.value(x, y, z), 0.0, 255.0)) : 0;
      }
  return out;
}

}  // namespace al
