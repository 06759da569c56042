// libFuzzer target: a folder of 2D images read as a stack of B-scans (PNG, JPEG, TIFF, BMP),
// and a single image file read as a one-B-scan volume. The first byte picks the file's
// extension; the input is written as two B-scans, the second cut short, so that differing sizes
// and truncation are exercised too.

#include <cstddef>
#include <cstdint>
#include <string>

#include "FuzzCheck.h"
#include "FuzzInput.h"
#include "io/VolumeReader.h"
#include "io/oct/ImageStackReader.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  al::fuzz::lowerMemoryBudget();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  static const char* const extensions[] = {".png", ".jpg", ".tif", ".bmp"};
  const std::string ext = extensions[data[0] % 4];
  const std::string folder = al::fuzz::freshFolder("bscans");
  const std::string first = al::fuzz::writeInput(data + 1, size - 1, "bscans/bscan_001" + ext);
  try {
    (void)al::readImageFile(first);
  } catch (const al::Error& e) {
    al::fuzz::requireNamesFile(e, first);
  }
  (void)al::fuzz::writeInput(data + 1, (size - 1) / 2, "bscans/bscan_002" + ext);
  try {
    (void)al::readImageStack(folder);
  } catch (const al::Error&) {
    // A folder's error names the folder or the B-scan that failed.
  }
  return 0;
}
