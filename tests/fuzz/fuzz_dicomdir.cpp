// libFuzzer target: the DICOMDIR indexer. The input is a DICOMDIR in an otherwise empty folder:
// its records, their nesting and their referenced file IDs (which may point anywhere) must give
// an index with errors or a FileError, never a read outside the folder or a crash.

#include <cstddef>
#include <cstdint>

#include "FuzzCheck.h"
#include "FuzzInput.h"
#include "io/DicomSeriesReader.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  al::fuzz::lowerMemoryBudget();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string folder = al::fuzz::freshFolder("dicomdir");
  const std::string path = al::fuzz::writeInput(data, size, "dicomdir/DICOMDIR");
  try {
    if (al::isDicomDir(path)) {
      const al::DicomFolderIndex index = al::indexDicomDir(path);
      for (const auto& s : index.series) (void)al::planDicomSeries(s);
    }
  } catch (const al::Error& e) {
    al::fuzz::requireNamesFile(e, path);
  }
  return 0;
}
