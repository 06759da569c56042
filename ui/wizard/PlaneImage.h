#pragma once
// One image of a Volume as a QImage for the wizard's thumbnails, previews and training samples
// (made in workers: QImage is safe off the GUI thread).

#include <QImage>
#include <cstdint>
#include <utility>
#include <vector>

#include "image/Volume.h"

namespace al::ui {

// Image `z` of channel `channel` as floats, row-major.
std::vector<float> planeOf(const Volume& v, std::int64_t z, int channel = 0);
// The values at the lo-th and hi-th percentiles: a window that shows any modality.
std::pair<float, float> percentileWindow(std::vector<float> values, double lo = 1, double hi = 99);
// Grey levels from lo (black) to hi (white).
QImage greyImage(const std::vector<float>& plane, int width, int height, float lo, float hi);
// The inferno colormap from 0 to hi.
QImage infernoImage(const std::vector<float>& plane, int width, int height, float hi);

}  // namespace al::ui
