#pragma once
// Multi-contrast MRI: tell a study's series apart as T1, T1c, T2, FLAIR, PD or DWI from their
// tags (description, protocol, TE/TR/TI, contrast agent, b-value), let the user override that,
// and bring the contrasts onto one grid: identical grids are stacked as they are, others are
// co-registered to a reference contrast with ITK (rigid, Mattes mutual information) and
// resampled. BraTS-style NIfTI sets (*_t1, *_t1ce, *_t2, *_flair; BraTS 2023's *-t1n, *-t1c,
// *-t2w, *-t2f) load the same way.

#include <map>
#include <string>
#include <vector>

#include "image/Volume.h"
#include "io/DicomSeriesReader.h"

namespace al {

enum class MriContrast { T1, T1c, T2, Flair, PD, DWI, Unknown };
const char* mriContrastName(MriContrast c);
MriContrast parseMriContrast(const std::string& name);  // "T1", "t1ce", "FLAIR", ...; Unknown otherwise

struct ContrastGuess {
  MriContrast contrast = MriContrast::Unknown;
  std::string reason;  // which tag decided it, for the user to check
};

// From the first file's header of a series.
ContrastGuess classifyMriSeries(const DicomFileHeader& header);

struct ContrastChoice {
  MriContrast contrast;
  const DicomSeriesEntry* series;
  std::string reason;
};

// One series per contrast from a study's series (MR only; the one with most images wins a tie).
// `overrides` maps SeriesInstanceUID to the contrast the user says it is.
std::vector<ContrastChoice> groupMriContrasts(const std::vector<DicomSeriesEntry>& series,
                                              const std::map<std::string, MriContrast>& overrides = {});

struct RegistrationReport {
  std::string contrast;
  bool registered = false;      // false: already on the reference grid
  double translationMm = 0;     // of the rigid transform found
  double rotationDegrees = 0;
  double finalMetric = 0;       // Mattes MI (lower is better)
};

// Stacks the contrasts into one multi-channel float32 volume on the grid of `reference` (its
// index into `volumes`), registering those whose grid differs. Channel names: the contrasts'.
Volume coregisterContrasts(const std::vector<Volume>& volumes, const std::vector<std::string>& names, int reference,
                           std::vector<RegistrationReport>* reports = nullptr);

// The contrasts of a BraTS-style folder or case prefix (files ending in _t1, _t1ce/_t1c/_t1gd,
// _t2/_t2w, _flair/_t2f, _pd, or BraTS 2023's -t1n, -t1c, -t2w, -t2f, with .nii, .nii.gz or
// .mha), stacked as above on the T1 grid (or the first contrast found). Throws FileError when none is found.
Volume loadContrastSet(const std::string& folder, std::vector<RegistrationReport>* reports = nullptr);

}  // namespace al
