// libFuzzer target: a model file, the trust boundary of a shared model. The first byte picks
// the part: the weights (safetensors: header length, JSON header, dtypes, shapes, offsets) or
// the card (bounded JSON, then every field the card reads).

#include <cstddef>
#include <cstdint>
#include <string>

#include "FuzzCheck.h"
#include "FuzzInput.h"
#include "models/ModelFile.h"
#include "models/SafeTensors.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  al::fuzz::lowerMemoryBudget();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const bool weights = data[0] & 1;
  const std::string path = al::fuzz::writeInput(data + 1, size - 1, weights ? "input.safetensors" : "input.json");
  try {
    if (weights) {
      (void)al::models::readSafeTensors(path);
    } else {
      (void)al::models::readModelCard(path);
    }
  } catch (const al::Error& e) {
    al::fuzz::requireNamesFile(e, path);
  }
  return 0;
}
