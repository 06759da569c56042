// libFuzzer target: data-set manifests, JSON and CSV (the training wizard, `train`, `eval`).
// The first byte picks the format. Referenced images need not exist: opening the data set reads
// the manifest only.

#include <cstddef>
#include <cstdint>
#include <string>

#include "FuzzCheck.h"
#include "FuzzInput.h"
#include "training/DataSet.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const bool csv = data[0] & 1;
  const std::string folder = al::fuzz::freshFolder("dataset");
  const std::string path = al::fuzz::writeInput(data + 1, size - 1, csv ? "dataset/manifest.csv" : "dataset/manifest.json");
  try {
    al::training::DataSet ds = al::training::openDataSet(path);
    (void)ds.count(0);
    (void)al::training::keepHealthyImages(ds);
  } catch (const al::Error& e) {
    al::fuzz::requireNamesFile(e, path);
  }
  return 0;
}
