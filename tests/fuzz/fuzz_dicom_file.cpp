// libFuzzer target: one DICOM file, read as the viewer and `info` read it. The header goes
// through the nesting guard and DCMTK, then the pixels through whichever decoder the transfer
// syntax asks for (native, RLE, JPEG baseline/extended/lossless, JPEG-LS through CharLS or DCMTK,
// JPEG 2000 and HTJ2K through OpenJPEG, deflate), and the header is described as `info --json`
// prints it. Seeds: tests/fuzz/make_corpora.sh (the project's DICOM writers) plus, under ctest,
// the public samples of every transfer syntax.

#include <cstddef>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "FuzzCheck.h"
#include "FuzzInput.h"
#include "io/DicomSeriesReader.h"
#include "io/VolumeInfo.h"
#include "io/VolumeReader.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  al::fuzz::lowerMemoryBudget();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = al::fuzz::writeInput(data, size, "input.dcm");
  try {
    const al::DicomFileHeader h = al::readDicomHeader(path);
    (void)h;
  } catch (const al::Error& e) {
    al::fuzz::requireNamesFile(e, path);
  }
  try {
    const al::Volume v = al::readVolume(path);
    (void)al::describeVolume(v).dump();
  } catch (const al::Error& e) {
    al::fuzz::requireNamesFile(e, path);
  }
  return 0;
}
