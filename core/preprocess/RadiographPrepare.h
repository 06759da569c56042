#pragma once
// 2D radiographs (DICOM CR, DX or DR; PNG or JPEG exports) for the single-channel GANs, as the
// A2B-GAN paper's chest X-rays are prepared: each image windowed by its own intensity
// percentiles to [-1, 1] (exposures and detectors differ from image to image, so one window
// per data set would not fit), then resized to a square keeping its aspect ratio, the shorter
// side padded with -1 (black). The valid mask is the image area, so padding is never scored.
//
// MONOCHROME1 (bone dark) is inverted by the DICOM reader already (io/DicomPixels.cpp, and the
// volume says so in its warnings); PNG and JPEG carry no photometric tag and are taken as
// they display. Nothing here inverts a second time.
//
// Invertible: a map on the square goes back onto the radiograph's own grid.

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "image/Volume.h"

namespace al {

struct RadiographPrepareOptions {
  int size = 256;                // side of the square image
  double lowPercentile = 0.5;    // intensity mapped to -1
  double highPercentile = 99.5;  // intensity mapped to +1

  nlohmann::json toJson() const;
  static RadiographPrepareOptions fromJson(const nlohmann::json& j);  // missing keys keep defaults
};

struct RadiographPrepared {
  Volume images;  // float32 [1, Z, size, size] in [-1, 1], -1 in the padding
  Volume valid;   // uint8 same size: 1 over the image area
  double scale = 1;      // square pixels per original pixel (x; y follows the pixel aspect)
  double scaleY = 1;
  double offsetX = 0, offsetY = 0;  // square position of the original's corner (pixel edges)
  Size3 original;
  Vec3 originalSpacing{1, 1, 1};
  RadiographPrepareOptions options;
  std::vector<std::string> warnings;
};

// `image`: one channel, one or more radiographs (z). Throws al::Error naming the file when it
// is empty, has several channels, or an image is constant.
RadiographPrepared prepareRadiograph(const Volume& image, const RadiographPrepareOptions& options = {});

// A square map [1, Z, size, size] back onto the original grid [1, Z, Y, X] (bilinear).
Volume unprepareRadiograph(const RadiographPrepared& prep, const Volume& map);

// Labels on the original grid onto the square (nearest neighbour; 0 in the padding).
Volume prepareRadiographLabels(const RadiographPrepared& prep, const Volume& labels);

}  // namespace al
