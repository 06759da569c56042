#pragma once
// Multi-contrast brain MRI preprocessing for the slice models (ADM): the brain mask (given, or
// estimated), each contrast z-scored over the brain of its whole volume (never per slice: a
// slice full of tumour must not be normalised into looking normal), and axial slices cropped
// to the brain's in-plane bounding square and resized to the model's size. Cropping to the
// brain rather than resampling to 1 mm makes heads from scanners with different fields of view
// fill the slice alike. Invertible: a map on the slices goes back onto the volume's grid.

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "image/Volume.h"

namespace al {

struct MriPrepareOptions {
  int size = 128;                 // slice rows and columns
  double margin = 0.04;           // around the brain's bounding square, fraction of its side
  // Slices whose brain covers less of the square are dropped: a sliver of brain at the top of
  // the head is mostly partial volume and edge, and its energy map would be all false alarms.
  double minBrainFraction = 0.1;

  nlohmann::json toJson() const;
  static MriPrepareOptions fromJson(const nlohmann::json& j);
};

struct MriPrepared {
  Volume slices;  // float32 [C, S, size, size], z-scored, 0 outside the brain
  Volume brain;   // uint8 [1, S, size, size]
  std::vector<int> sliceIndex;  // original z of each kept slice
  int x0 = 0, y0 = 0;          // the crop square's corner (original pixels; may lie outside)
  int side = 1;                 // and side
  Size3 original;
  Vec3 originalSpacing{1, 1, 1};
  std::vector<double> mean, stddev;  // per contrast, over the brain
  MriPrepareOptions options;
};

// `contrasts`: [C, Z, Y, X], co-registered, any pixel type. `brainMask`: [1, Z, Y, X] or null
// (then estimateBrainMask). Throws al::Error naming the problem (empty brain, constant contrast).
MriPrepared prepareMri(const Volume& contrasts, const Volume* brainMask, const MriPrepareOptions& options = {});

// A slice-space map [1, S, size, size] back onto the volume's grid [1, Z, Y, X] (bilinear; 0 on
// dropped slices and outside the brain).
Volume unprepareMri(const MriPrepared& prep, const Volume& sliceMap, const Volume* brainMask);

// Labels on the volume's grid into slice space (nearest neighbour).
Volume prepareMriLabels(const MriPrepared& prep, const Volume& labels);

// Without a brain mask: a skull-stripped volume (zero background) is its nonzero voxels;
// otherwise the head by Otsu's threshold, its largest connected part, holes filled per slice,
// and eroded by about 8 mm so scalp and skull fall away. The latter is a coarse stand-in for a
// real skull stripper and says so in the volume's warnings.
Volume estimateBrainMask(const Volume& contrasts);

}  // namespace al
