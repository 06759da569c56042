// libFuzzer target for the Heidelberg .vol parser. Any input must end in a parsed study or an
// al::Error: never a crash, a hang, an out-of-bounds read or an unbounded allocation.
// Build and run with clang (see tests/fuzz/CMakeLists.txt):
//   cmake -S tests/fuzz -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ && cmake --build build-fuzz
//   build-fuzz/fuzz_heidelberg_vol -max_total_time=60 tests/fuzz/corpus/heidelberg_vol

#include <cstddef>
#include <cstdint>

#include "errors/Error.h"
#include "io/oct/HeidelbergVolReader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const al::OctStudy study = al::parseHeidelbergVol(data, size, "fuzz input");
    // Touch what was parsed, so the sanitizers see every byte written.
    volatile std::uint8_t sink = study.bscans.empty() ? 0 : std::to_integer<std::uint8_t>(study.bscans.bytes()[study.bscans.byteSize() - 1]);
    (void)sink;
  } catch (const al::Error&) {
  }
  return 0;
}
