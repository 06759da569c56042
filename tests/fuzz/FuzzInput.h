#pragma once
// Shared by the fuzz targets: most of the product's parsers read files, not memory, so each input
// is written to a file in a private temporary folder (made once per process, removed at exit).
// The memory budget is lowered so that a header's claim is refused by the product's own check,
// not by the fuzzer's allocation limit: a claim the product grants would be a finding.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include "runtime/MemoryBudget.h"

namespace al::fuzz {

inline const std::filesystem::path& scratchFolder() {
  static const std::filesystem::path folder = [] {
    std::string pattern = (std::filesystem::temp_directory_path() / "anomalylens-fuzz-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) std::abort();
    // Removed when the process ends normally (the replay driver, libFuzzer's -runs/-max_total_time).
    static struct Remover {
      std::filesystem::path p;
      ~Remover() {
        std::error_code ec;
        std::filesystem::remove_all(p, ec);
      }
    } remover{pattern};
    return std::filesystem::path(pattern);
  }();
  return folder;
}

// Writes the input to scratchFolder()/name (replacing what was there) and returns its path.
inline std::string writeInput(const std::uint8_t* data, std::size_t size, const std::string& name) {
  const std::filesystem::path p = scratchFolder() / name;
  std::error_code ec;
  std::filesystem::create_directories(p.parent_path(), ec);
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) std::abort();
  return p.string();
}

// An empty folder (removed and made again) inside the scratch folder.
inline std::string freshFolder(const std::string& name) {
  const std::filesystem::path p = scratchFolder() / name;
  std::error_code ec;
  std::filesystem::remove_all(p, ec);
  std::filesystem::create_directories(p, ec);
  return p.string();
}

// 64 MiB: the largest honest input the corpora hold is far smaller; a lie bigger than this must
// be refused by the budget check before anything is allocated.
inline void lowerMemoryBudget() { setMemoryBudgetBytes(std::uint64_t{64} << 20); }

}  // namespace al::fuzz
