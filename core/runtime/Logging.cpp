#include "runtime/Logging.h"

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>

namespace al {

std::string userDataDir() {
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) return std::string(xdg) + "/AnomalyLens";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.local/share/AnomalyLens";
  return (std::filesystem::temp_directory_path() / "AnomalyLens").string();
}

std::string initLogging(const LoggingOptions& options) {
  static std::mutex mutex;
  static std::string logFile;
  static bool done = false;
  std::lock_guard<std::mutex> lock(mutex);
  if (done) return logFile;
  done = true;
  std::vector<spdlog::sink_ptr> sinks;
  auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  console->set_level(options.verbose ? spdlog::level::debug : spdlog::level::warn);
  sinks.push_back(console);
  if (options.toFile) {
    const std::filesystem::path dir = std::filesystem::path(userDataDir()) / "logs";
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (!ec) {
      try {
        logFile = (dir / (options.appName + ".log")).string();
        auto file = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(logFile, 5 * 1024 * 1024, 3);
        file->set_level(spdlog::level::debug);
        sinks.push_back(file);
      } catch (const spdlog::spdlog_ex&) {
        logFile.clear();  // an unwritable log folder must not stop the program
      }
    }
  }
  auto logger = std::make_shared<spdlog::logger>(options.appName, sinks.begin(), sinks.end());
  logger->set_level(spdlog::level::debug);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  return logFile;
}

}  // namespace al
