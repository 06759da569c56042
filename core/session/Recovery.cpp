#include "session/Recovery.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <filesystem>
#include <system_error>

#include "errors/Error.h"
#include "runtime/Logging.h"

namespace al {

namespace fs = std::filesystem;

std::string recoveryDir() { return (fs::path(userDataDir()) / "recovery").string(); }

std::string recoveryFileFor(long pid) {
  if (pid == 0) pid = static_cast<long>(::getpid());
  return (fs::path(recoveryDir()) / ("reading-" + std::to_string(pid) + ".alsession")).string();
}

bool worthRecovering(const Session& s) { return !s.annotations.empty() || !s.sliceLabels.empty(); }

namespace {

bool processRuns(long pid) {
  if (pid <= 0) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

}  // namespace

std::vector<OrphanedReading> findOrphanedReadings() {
  std::vector<std::pair<fs::file_time_type, OrphanedReading>> found;
  std::error_code ec;
  for (fs::directory_iterator it(recoveryDir(), ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const std::string prefix = "reading-", suffix = ".alsession";
    if (name.size() <= prefix.size() + suffix.size() || name.rfind(prefix, 0) != 0 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    if (digits.empty() || digits.size() > 9 || !std::all_of(digits.begin(), digits.end(), [](unsigned char c) { return std::isdigit(c) != 0; })) continue;
    const long pid = std::stol(digits);
    if (pid == static_cast<long>(::getpid()) || processRuns(pid)) continue;
    OrphanedReading o;
    o.path = it->path().string();
    o.pid = pid;
    try {
      o.session = loadSession(o.path);
    } catch (const Error& e) {
      spdlog::warn("recovery: {}", e.message());
      continue;
    }
    std::error_code tec;
    found.emplace_back(fs::last_write_time(it->path(), tec), std::move(o));
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<OrphanedReading> out;
  for (auto& f : found) out.push_back(std::move(f.second));
  return out;
}

}  // namespace al
