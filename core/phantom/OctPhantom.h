#pragma once
// A synthetic retinal OCT volume with known lesions: the demo study, the models' training data
// and the tests' ground truth when no real scans are at hand. The retina is built per A-scan
// from Bruch's membrane upwards: RPE, photoreceptor outer segments, ellipsoid zone, myoid zone,
// ELM, ONL, OPL, INL, GCL+IPL, NFL, with typical thicknesses (a foveal pit where the inner layers
// vanish, a thicker parafoveal ring, a nasal NFL) and relative reflectivities. Each volume gets
// its own curvature, tilt and vertical offset; intensities carry multiplicative speckle and
// additive noise, and retinal vessels cast shadows.

#include <cstdint>
#include <string>
#include <vector>

#include "image/Volume.h"

namespace al {

// Mask labels. 0 is healthy tissue or background.
enum class OctLesion : std::uint8_t {
  Drusen = 1,                        // RPE elevations with moderately reflective deposit
  IntraretinalFluid = 2,             // dark cysts in the INL/ONL
  SubretinalFluid = 3,               // dark space lifting the neurosensory retina off the RPE
  PigmentEpithelialDetachment = 4,   // a larger dome of RPE over a hyporeflective space
  HyperreflectiveFoci = 5,           // small bright dots in the nuclear layers
};
const char* octLesionName(OctLesion lesion);

struct OctLesionOptions {
  int drusen = 0;
  int intraretinalFluid = 0;
  int subretinalFluid = 0;
  int pigmentEpithelialDetachment = 0;
  int hyperreflectiveFoci = 0;
  double size = 1.0;  // scales every lesion's extent
  int total() const {
    return drusen + intraretinalFluid + subretinalFluid + pigmentEpithelialDetachment + hyperreflectiveFoci;
  }
  // A random mix of one to three lesion kinds, as the phantom's "anomalous" studies use.
  static OctLesionOptions randomMix(std::uint64_t seed);
};

struct OctPhantomOptions {
  int width = 512;   // A-scans per B-scan (x)
  int depth = 496;   // pixels per A-scan (y, top = vitreous)
  int bscans = 49;   // B-scans (z)
  double scanWidthMm = 6.0;   // lateral field (x)
  double scanHeightMm = 5.8;  // distance from the first to the last B-scan (z)
  double depthMm = 1.92;      // axial range (y)
  std::uint64_t seed = 1;
  OctLesionOptions lesions;
  int speckleLooks = 3;   // speckle averaging: fewer looks, grainier image
  double noise = 0.025;   // additive noise, fraction of full scale
  std::string laterality = "R";
};

struct OctLesionRecord {
  OctLesion kind;
  double xMm, zMm;  // centre on the fundus
  double radiusMm;  // lateral extent
};

struct OctPhantom {
  Volume image;  // uint8; x = lateral, y = axial (depth), z = B-scan index
  Volume mask;   // uint8 OctLesion labels
  std::vector<OctLesionRecord> lesions;
  bool anomalous() const { return !lesions.empty(); }
};

OctPhantom makeOctPhantom(const OctPhantomOptions& options);

}  // namespace al
