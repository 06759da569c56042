#pragma once
// One logger for the whole program (spdlog): stderr, plus a log file under the user's data
// folder for the viewer, so that a user can send what happened.

#include <string>

namespace al {

struct LoggingOptions {
  std::string appName = "anomalylens";
  bool verbose = false;
  bool toFile = false;  // ~/.local/share/AnomalyLens/logs/<appName>.log, rotated
};

// Idempotent; returns the log file path, or an empty string when none is written.
std::string initLogging(const LoggingOptions& options);

// The user's data folder for AnomalyLens ($XDG_DATA_HOME/AnomalyLens or ~/.local/share/AnomalyLens).
std::string userDataDir();

}  // namespace al
