#include "io/AtomicFile.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>

#include "errors/Error.h"

namespace al {

namespace fs = std::filesystem;

namespace {

// A writer killed between its temporary file and the rename leaves ".tmp-PID-..." behind. The
// first write of a process into a folder removes those of processes that no longer run (once
// per folder and process: a folder of thousands of DICOM files is listed once, not per file).
void removeStaleTemporaries(const fs::path& folder) {
  static std::mutex mutex;
  static std::set<std::string> cleaned;
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (!cleaned.insert(fs::absolute(folder).string()).second) return;
  }
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind(".tmp-", 0) != 0) continue;
    const std::size_t dash = name.find('-', 5);
    if (dash == std::string::npos || dash == 5 || dash - 5 > 9) continue;
    const std::string digits = name.substr(5, dash - 5);
    if (digits.find_first_not_of("0123456789") != std::string::npos) continue;
    const long pid = std::stol(digits);
    if (pid <= 0 || pid == static_cast<long>(::getpid())) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // running, or not ours to judge
    std::error_code rec;
    fs::remove(it->path(), rec);
  }
}

}  // namespace

void writeAtomically(const std::string& path, const std::function<void(const std::string& tmpPath)>& write) {
  static std::atomic<unsigned> counter{0};
  const fs::path target(path);
  const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) throw FileError(path, "the folder " + folder.string() + " does not exist");
  removeStaleTemporaries(folder);
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
