#pragma once
// A synthetic retinal OCT volume with known lesions: the demo study and the test data when no
// real scans exist. Layer order and relative reflectivities follow the normal retina
// (vitreous dark; NFL, OPL, ellipsoid zone and RPE bright; nuclear layers dark).

#include <cstdint>

#include "image/Volume.h"

namespace al {

struct OctPhantomOptions {
  int width = 512;     // A-scans per B-scan (x)
  int depth = 496;     // pixels per A-scan (y, top = vitreous)
  int bscans = 49;     // B-scans (z)
  std::uint32_t seed = 1;
  int drusen = 3;      // RPE elevations
  int cysts = 2;       // intraretinal fluid
  double speckle = 0.45;  // multiplicative speckle strength
  double noise = 0.02;    // additive noise, fraction of full scale
};

struct OctPhantom {
  Volume image;  // uint8 B-scans, x = lateral, y = axial (depth), z = B-scan index
  Volume mask;   // uint8, 1 on lesion pixels
};

OctPhantom makeOctPhantom(const OctPhantomOptions& options);

}  // namespace al
