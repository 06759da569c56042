#include "io/AtomicFile.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "errors/Error.h"

namespace al {

namespace fs = std::filesystem;

void writeAtomically(const std::string& path, const std::function<void(const std::string& tmpPath)>& write) {
  static std::atomic<unsigned> counter{0};
  const fs::path target(path);
  const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) throw FileError(path, "the folder " + folder.string() + " does not exist");
  const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
  const fs::path tmp = folder / (".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(stamp % 1000000) + "-" +
                                 std::to_string(counter++) + "-" + target.filename().string());
  try {
    write(tmp.string());
    // Flush the data to disk before the rename makes it visible under the real name.
    if (FILE* f = std::fopen(tmp.c_str(), "rb")) {
      ::fsync(fileno(f));
      std::fclose(f);
    }
    fs::rename(tmp, target, ec);
    if (ec) throw FileError(path, "cannot move the finished file into place: " + ec.message());
  } catch (...) {
    fs::remove(tmp, ec);
    throw;
  }
}

void writeFileAtomically(const std::string& path, const std::string& bytes) {
  writeAtomically(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw FileError(path, std::string("cannot create: ") + std::strerror(errno));
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) throw FileError(path, "write failed (disk full?)");
  });
}

}  // namespace al
