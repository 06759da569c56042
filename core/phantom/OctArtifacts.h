#pragma once
// What other devices and image exports do to B-scans, applied to a phantom so that flattening
// can be tested against each of them: other column counts without pixel spacing (JPEG/PNG
// exports of 512- to 1536-column scanners), constant padding bands, tilt, low contrast and a
// saturated reflex. Each returns a new volume; the phantom's geometry is otherwise kept.

#include <cstdint>

#include "image/Volume.h"

namespace al {

// The B-scans resampled to `columns` A-scans (linear; nearest for labels), with the pixel
// spacing dropped (1 x 1 mm, as ITK reports for a PNG).
Volume resampledWithoutSpacing(const Volume& scan, int columns, bool labels = false);

enum class PaddingSide { Top, Bottom, Left, Right };
// A constant band (0: black, 255: white) over `fraction` of every B-scan on one side.
Volume withPadding(const Volume& scan, PaddingSide side, double fraction, double value);
// A constant triangle in the top-left corner, `fraction` of the width on each leg (the wedge a
// rotated export leaves).
Volume withCornerWedge(const Volume& scan, double fraction, double value);

// Every A-scan shifted down by slope * (x - centre) pixels (labels: use on the mask alike).
Volume tilted(const Volume& scan, double slope);

// Contrast scaled by `factor` towards the volume's median, plus Gaussian noise with a standard
// deviation of `noise` (fraction of 255); uint8 out.
Volume lowContrast(const Volume& scan, double factor, double noise, std::uint64_t seed);

// A saturated streak of `width` columns centred at column `x`, over the full depth (255).
Volume withSaturatedReflex(const Volume& scan, int x, int width);

}  // namespace al
