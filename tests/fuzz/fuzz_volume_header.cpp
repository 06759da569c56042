// libFuzzer target: the ITK-read formats, whose headers the project validates before ITK
// allocates: NIfTI-1/2 (plain and gzip), Analyze, MetaImage and NRRD. The first byte picks the
// file name the rest is written under, so one corpus covers every format.

#include <cstddef>
#include <cstdint>
#include <string>

#include "FuzzCheck.h"
#include "FuzzInput.h"
#include "io/VolumeReader.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  al::fuzz::lowerMemoryBudget();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  static const char* const names[] = {"input.nii", "input.nii.gz", "input.hdr", "input.mha", "input.nrrd"};
  const std::string name = names[data[0] % 5];
  const std::string path = al::fuzz::writeInput(data + 1, size - 1, name);
  if (name == "input.hdr") {
    // Analyze: the header and an image file beside it (the same bytes, so sizes vary too).
    (void)al::fuzz::writeInput(data + 1, size - 1, "input.img");
  }
  try {
    (void)al::readVolume(path);
  } catch (const al::Error& e) {
    al::fuzz::requireNamesFile(e, path);
  }
  return 0;
}
