#pragma once
// Temporary folders and the location of ../shared/realdata for tests.

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

namespace al {

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("anomalylens-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string path() const { return path_.string(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// The path of a file under shared/realdata, or "" when the folder (or the file) is absent.
// ANOMALYLENS_REALDATA overrides the location compiled in.
inline std::string realDataPath(const std::string& relative) {
  std::string root = ANOMALYLENS_REALDATA_DIR;
  if (const char* env = std::getenv("ANOMALYLENS_REALDATA"); env && *env) root = env;
  const std::filesystem::path p = std::filesystem::path(root) / relative;
  std::error_code ec;
  return std::filesystem::exists(p, ec) ? p.string() : std::string();
}

}  // namespace al
