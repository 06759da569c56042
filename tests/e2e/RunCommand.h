#pragma once
// Runs a program for end-to-end tests and captures what it printed.

#include <array>
#include <cstdio>
#include <string>
#include <sys/wait.h>

namespace al {

struct CommandResult {
  int exitCode = -1;
  std::string output;  // stdout, and stderr when asked for
};

inline std::string shellQuote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

inline CommandResult runCommand(const std::string& command, bool withStderr = false) {
  CommandResult r;
  FILE* pipe = ::popen((command + (withStderr ? " 2>&1" : " 2>/dev/null")).c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buffer{};
  std::size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) r.output.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace al
