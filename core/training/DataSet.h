#pragma once
// Where training and evaluation data come from: a manifest (the phantom's manifest.json or
// manifest.csv, or one a user writes), a folder holding one, a folder of scans, or one scan.
//
// Manifest CSV: a header naming at least `file`; optional `label` (0 healthy, 1 abnormal),
// `mask` (lesion labels on the scan's grid), `brain_mask`, `split` (train/val/test), `id`.
// Paths are relative to the manifest. manifest.json: {"cases": [{"id", "image" | "contrasts":
// {"T1": path, ...}, "label", "mask", "brain_mask", "split"}]}.
//
// Both manifests may label single images: `class` (a class name, e.g. "CNV": healthy when it is
// the healthy class, else abnormal, and kept for per-class metrics) and, in manifest.json,
// `labels`: one label per B-scan / slice of the case (0, 1, or null for not counted).
//
// A folder without a manifest: each volume file (NIfTI, MetaImage, DICOM file, .vol) and each
// subfolder is one case; a folder of 2D images or DICOM slices alone is one case. A BraTS
// contrast set (CASE_t1, _t1ce, _t2, _flair, _seg; BraTS 2023's CASE-t1n, -t1c, -t2w, -t2f,
// -seg) is one case with its label map as the lesion mask.
//
// The class-folder layout of image-labelled data sets (OCT2017, OCTDL, chest X-ray sets):
//   ROOT/{train,val,test}/{NORMAL,CNV,DME,DRUSEN,...}/*.jpeg|png|tif
// Every image is one case. The split comes from the split folder and the class from the class
// folder: the healthy class (NORMAL unless told otherwise) is label 0, every other class 1. The
// layout is recognised by its healthy class folder, and opens from ROOT (splits selectable), from
// one split folder (ROOT/test), from one class folder (ROOT/train/NORMAL) or from one image.

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
  std::string className;  // image-labelled sets: the class ("NORMAL", "CNV"), else empty
  std::vector<int> imageLabels;  // per B-scan / slice when a manifest gives them (1, 0, -1)
};

// The class-folder layout's healthy class when none is named.
inline constexpr const char* kDefaultHealthyClass = "NORMAL";

struct DataSet {
  std::string source;  // what the user named
  std::vector<DataCase> cases;
  int count(int label) const;
};

// `split`: keep only cases of that split when the manifest (or a class-folder ROOT) assigns
// splits ("" keeps all). `defaultLabel`: the label of cases the source does not label (e.g. 0
// for a healthy folder). `healthyClass`: the class that is healthy (case-insensitive; a
// manifest.json's "healthy_class" overrides it for its own cases).
// Throws al::FileError naming the path and the reason (missing, unreadable manifest, no cases,
// an empty class folder).
DataSet openDataSet(const std::string& path, const std::string& split = "", int defaultLabel = -1,
                    const std::string& healthyClass = kDefaultHealthyClass);

// The cases of several sources as one data set (each read as openDataSet reads it); ids made
// unique. Throws al::FileError for the first source that cannot be read.
DataSet combineDataSets(const std::vector<std::string>& paths, const std::string& split = "", int defaultLabel = -1,
                        const std::string& healthyClass = kDefaultHealthyClass);

// Healthy training data from an image-labelled set (ROOT of a class-folder layout, or a
// manifest with classes): removes the images of abnormal classes, which a model of healthy
// anatomy must not see. Returns how many images of each class were removed.
std::vector<std::pair<std::string, int>> keepHealthyImages(DataSet& ds);

// Writes `ds` as a manifest.json (absolute paths, no splits) that openDataSet reads back to the
// same cases; atomically.
void writeManifest(const std::string& path, const DataSet& ds);

}  // namespace al::training
