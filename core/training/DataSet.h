#pragma once
// Where training and evaluation data come from: a manifest (the phantom's manifest.json or
// manifest.csv, or one a user writes), a folder holding one, a folder of scans, or one scan.
//
// Manifest CSV: a header naming at least `file`; optional `label` (0 healthy, 1 abnormal),
// `mask` (lesion labels on the scan's grid), `brain_mask`, `split` (train/val/test), `id`.
// Paths are relative to the manifest. manifest.json: {"cases": [{"id", "image" | "contrasts":
// {"T1": path, ...}, "label", "mask", "brain_mask", "split"}]}.
//
// A folder without a manifest: each volume file (NIfTI, MetaImage, DICOM file, .vol) and each
// subfolder is one case; a folder of 2D images or DICOM slices alone is one case.

#include <string>
#include <utility>
#include <vector>

namespace al::training {

struct DataCase {
  std::string id;
  std::string image;  // absolute: a file or a folder (DICOM series, B-scan stack, contrast set)
  std::vector<std::pair<std::string, std::string>> contrasts;  // MRI: (name, absolute path)
  std::string mask;       // lesion labels, absolute, or empty
  std::string brainMask;  // MRI, absolute, or empty
  int label = -1;         // 0 healthy, 1 abnormal, -1 unknown
  std::string split;      // "train", "val", "test" or empty
};

struct DataSet {
  std::string source;  // what the user named
  std::vector<DataCase> cases;
  int count(int label) const;
};

// `split`: keep only cases of that split when the manifest assigns splits ("" keeps all).
// `defaultLabel`: the label of cases the source does not label (e.g. 0 for a healthy folder).
// Throws al::FileError naming the path and the reason (missing, unreadable manifest, no cases).
DataSet openDataSet(const std::string& path, const std::string& split = "", int defaultLabel = -1);

// The cases of several sources as one data set (each read as openDataSet reads it); ids made
// unique. Throws al::FileError for the first source that cannot be read.
DataSet combineDataSets(const std::vector<std::string>& paths, const std::string& split = "", int defaultLabel = -1);

// Writes `ds` as a manifest.json (absolute paths, no splits) that openDataSet reads back to the
// same cases; atomically.
void writeManifest(const std::string& path, const DataSet& ds);

}  // namespace al::training
