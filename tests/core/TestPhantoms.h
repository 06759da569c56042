#pragma once
// Small phantom studies for tests, with their manifest and splits.

#include <cstdint>
#include <string>

#include "phantom/PhantomStudy.h"

namespace al {

// Writes `healthy` + `anomalous` cases into `outDir` and returns it. OCT volumes have `bscans`
// B-scans (small, for speed).
inline std::string writeTestPhantoms(const std::string& outDir, PhantomKind kind, int healthy, int anomalous,
                                     std::uint64_t seed, int bscans = 4, PhantomFormat format = PhantomFormat::Nifti) {
  PhantomRequest r;
  r.kind = kind;
  r.healthy = healthy;
  r.anomalous = anomalous;
  r.seed = seed;
  r.bscans = bscans;
  r.format = format;
  r.outDir = outDir;
  writePhantomStudies(r);
  return outDir;
}

}  // namespace al
