#pragma once
// The en-face view of an OCT volume when the device gave no fundus image: the mean intensity of
// each A-scan (along depth), one row per B-scan, so vessels and lesions show from above.

#include "image/Volume.h"

namespace al {

// `oct`: x = A-scan, y = depth, z = B-scan. Returns a float32 image of x by z (one slice), with
// spacing (x spacing, B-scan distance).
Volume octEnFaceProjection(const Volume& oct, int channel = 0);

}  // namespace al
