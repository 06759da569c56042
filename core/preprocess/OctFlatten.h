#pragma once
// OCT preprocessing as f-AnoGAN's data section describes it, made to survive scans from other
// devices: intensities to [-1, 1] per volume (robust percentiles, not min/max, so a saturated
// reflex does not squash the retina), the ILM (top) and RPE (bottom) found per A-scan, the
// retina flattened with the RPE as the fixed boundary, and the B-scan resampled to fixed
// physical pixel sizes so a Cirrus (2 µm axial) and a Spectralis (3.9 µm) scan look alike.
//
// The RPE is fitted per B-scan by a robust quadratic (tilt and curvature of the eye), not
// followed column by column: a drusen bump or a pigment epithelial detachment then stays a bump
// in the flattened band, where a model can see it, instead of being ironed flat.
//
// Where the retina is taller than the band above the RPE (macular oedema, fluid under a lifted
// retina), its thickness is normalised, as f-AnoGAN's data section asks: the rows above the RPE
// of those A-scans are compressed until the ILM fits under the band's top margin, so the inner
// layers stay in view instead of being cut off (`normalise_thickness`; a model card written before
// it existed keeps it off, as it was measured). Rows below the RPE are never compressed.
//
// Every step is invertible: unflatten() puts a map computed on the band back on the B-scan, so
// overlays and pixel-level metrics live in the scan's own geometry.
//
// One lateral scale for every device: a file with pixel spacing (DICOM, .vol, NIfTI) is
// resampled to `lateralUm` per column; a file without (JPEG, PNG, TIFF exports, as OCT2017 and
// most public sets ship) is taken to span `fieldMm` (6 mm: the macular scan of Spectralis,
// Cirrus, Topcon and Optovue alike), so 512, 768, 1024 and 1536 A-scans all become the same
// 256 band columns instead of bands of four widths.
//
// What real exports do to a B-scan is handled, not ironed over: constant padding (black or
// white bands and wedges touching the border, from rotation or cropping) is neither retina nor
// background, so it is left out of the intensity percentiles, the boundary search and the
// scored region; a saturated reflex (a column far brighter than the rest over most of its
// depth) is left out of the percentiles and the boundary search. A B-scan whose boundaries do
// not hold together (too few A-scans show a retina, the RPE detections follow no smooth curve,
// the fitted RPE leaves the image) is not flattened: a volume borrows a neighbour's boundaries
// for a minority of such B-scans and says so; a single B-scan, or a volume where most fail, is
// refused with al::Error naming the file and the reason, so training and evaluation leave the
// case out instead of learning from a mis-flattened band.

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "image/Volume.h"

namespace al {

struct OctFlattenOptions {
  int bandHeight = 128;     // rows of the flattened band
  int rpeRow = 100;         // band row of the fitted RPE (rows below show the choroid)
  double axialUm = 3.9;     // band pixel height, when the scan's spacing is known
  double lateralUm = 23.4;  // band pixel width (6 mm over 256 columns), when known
  double lowPercentile = 1.0;    // intensity mapped to -1
  double highPercentile = 99.9;  // intensity mapped to +1
  int marginAboveIlm = 8;   // band rows above the ILM still counted as retina
  int marginBelowRpe = 16;  // and below the RPE (the RPE/choroid complex)
  double fieldMm = 6.0;     // lateral field assumed when the file has no pixel spacing
  bool normaliseThickness = true;  // compress a retina taller than the band above the RPE
  double maxCompression = 4.0;     // at most (a taller "retina" is a boundary error)

  nlohmann::json toJson() const;
  static OctFlattenOptions fromJson(const nlohmann::json& j);  // missing keys keep defaults
};

struct OctFlattened {
  Volume band;    // float32 [1, Z, bandHeight, bandWidth], intensities in [-1, 1]
  Volume retina;  // uint8 same size: 1 between the ILM (less a margin) and below the RPE
  // Per B-scan z and original column x, in original pixel rows: the fitted RPE and the ILM.
  std::vector<std::vector<float>> rpe;
  std::vector<std::vector<float>> ilm;
  // Per B-scan z and original column x: how many original rows above the RPE one band row spans,
  // relative to below it (1 where the retina fits; > 1 where its thickness is normalised).
  std::vector<std::vector<float>> compression;
  double axialScale = 1.0;  // band rows per original row
  Size3 original;
  Vec3 originalSpacing{1, 1, 1};
  OctFlattenOptions options;
  bool spacingAssumed = false;  // the file had no spacing: fieldMm and axialUm were assumed
  std::vector<std::string> warnings;  // B-scans where the boundaries could not be found
};

// `volume`: one channel; x = A-scan, y = depth (top = vitreous), z = B-scan. Any pixel type.
// Throws al::Error naming the file when the volume is empty, or when its retinal boundaries
// cannot be found on a single B-scan or on most B-scans of a volume (the reason included).
OctFlattened flattenOct(const Volume& volume, const OctFlattenOptions& options = {});

// A band-space map [1, Z, bandHeight, bandWidth] back on the B-scans [1, Z, Y, X] (float32,
// bilinear; 0 where the band does not reach).
Volume unflattenOct(const OctFlattened& flat, const Volume& bandMap);

// A label volume (e.g. a lesion mask, same grid as the scan) into the band (nearest neighbour).
Volume flattenOctLabels(const OctFlattened& flat, const Volume& labels);

}  // namespace al
