#pragma once
// The fundus of a DICOM OCT (Ophthalmic Tomography) series: the Ophthalmic Photography image its
// frames reference (Ophthalmic Frame Location: the referenced SOP instance and each B-scan's
// start and end on it), found among the same study's series.

#include <optional>
#include <vector>

#include "image/Volume.h"
#include "io/DicomSeriesReader.h"
#include "io/oct/HeidelbergVolReader.h"

namespace al {

struct OptFundus {
  Volume fundus;                         // grey (colour photographs are converted to luminance)
  std::vector<OctBScanInfo> bscanLines;  // one per frame, in mm on the fundus
};

// Nothing when the OPT file references no image, or the referenced image is not in `study`.
std::optional<OptFundus> findOptFundus(const DicomSeriesEntry& opt, const std::vector<DicomSeriesEntry>& study);

}  // namespace al
