// libFuzzer target: a saved reading session (.alsession JSON: annotations, flags, comment, view).
// A session file comes from a colleague or a crash; any content must load or be refused with
// the file named.

#include <cstddef>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "FuzzCheck.h"
#include "FuzzInput.h"
#include "session/Session.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = al::fuzz::writeInput(data, size, "input.alsession");
  try {
    const al::Session s = al::loadSession(path);
    (void)al::toJson(s).dump();
  } catch (const al::Error& e) {
    al::fuzz::requireNamesFile(e, path);
  }
  return 0;
}
