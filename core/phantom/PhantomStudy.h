#pragma once
// Writes sets of phantom studies to disk, as a user or a test asks for them on the command line:
// N healthy and M anomalous cases in DICOM, NIfTI, MetaImage or PNG, with lesion masks and a manifest
// (manifest.json, and a flat manifest.csv: file, label, mask, split) that assigns each case to
// the train, validation or test split. Healthy cases are split 70/15/15; anomalous cases never
// go to training (the models learn what healthy looks like) and are split evenly between
// validation and test.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace al {

enum class PhantomKind { Oct, Mri };
enum class PhantomFormat { Dicom, Nifti, Mha, Png };

PhantomFormat parsePhantomFormat(const std::string& name);  // "dicom", "nifti", "mha", "png"; throws
const char* phantomFormatName(PhantomFormat format);

struct PhantomRequest {
  PhantomKind kind = PhantomKind::Oct;
  int healthy = 0;
  int anomalous = 1;
  std::uint64_t seed = 1;
  std::string outDir;
  PhantomFormat format = PhantomFormat::Nifti;
  int bscans = 49;  // OCT only
  // Progress: cases done, cases in all. Return false to cancel (the manifest then lists only
  // the finished cases).
  std::function<bool(int done, int total)> progress;
};

struct PhantomCase {
  std::string id;
  int label = 0;  // 1 = has lesions
  std::string split;  // "train", "val", "test"
  std::string image;  // relative to outDir: a file (NIfTI, DICOM OPT) or a folder (PNG stack, DICOM series)
  std::vector<std::pair<std::string, std::string>> contrasts;  // MRI: (contrast name, path)
  std::string mask;       // lesion labels (NIfTI; PNG stack for the PNG format)
  std::string brainMask;  // MRI only
};

// Writes the studies and the manifests; returns the cases written. Throws al::Error.
std::vector<PhantomCase> writePhantomStudies(const PhantomRequest& request);

// The split for case `index` of `count` of one label, deterministic.
std::string phantomSplit(int label, int index, int count);

}  // namespace al
