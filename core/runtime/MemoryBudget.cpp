#include "runtime/MemoryBudget.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "errors/Error.h"

namespace al {

namespace {

std::atomic<std::uint64_t> g_budget{0};

// The budget that ANOMALYLENS_MEMORY_BUDGET_MB sets, or 0 when it sets none.
std::uint64_t budgetFromEnvironment() {
  if (const char* env = std::getenv("ANOMALYLENS_MEMORY_BUDGET_MB")) {
    char* end = nullptr;
    const unsigned long long mb = std::strtoull(env, &end, 10);
    if (end != env && *end == '\0' && mb > 0) return static_cast<std::uint64_t>(std::min(mb, 1ull << 40)) << 20;
  }
  return 0;
}

std::uint64_t defaultBudget() {
  if (const std::uint64_t env = budgetFromEnvironment()) return env;
  const long pages = sysconf(_SC_PHYS_PAGES), pageSize = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || pageSize <= 0) return std::uint64_t{4} << 30;  // unknown: a modest 4 GiB
  return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(pageSize) / 2;
}

}  // namespace

std::uint64_t memoryBudgetBytes() {
  const std::uint64_t set = g_budget.load();
  return set ? set : defaultBudget();
}

void setMemoryBudgetBytes(std::uint64_t bytes) {
  g_budget = bytes;
}

std::string formatBytes(std::uint64_t bytes) {
  char text[64];
  if (bytes >= (std::uint64_t{1} << 30))
    std::snprintf(text, sizeof text, "%.1f GiB", static_cast<double>(bytes) / (1 << 30));
  else if (bytes >= (std::uint64_t{1} << 20))
    std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  else if (bytes >= 1024)
    std::snprintf(text, sizeof text, "%.1f KiB", static_cast<double>(bytes) / 1024);
  else
    std::snprintf(text, sizeof text, "%llu bytes", static_cast<unsigned long long>(bytes));
  return text;
}

void checkMemoryBudget(const std::string& path, std::uint64_t bytes, const std::string& what) {
  const std::uint64_t budget = memoryBudgetBytes();
  if (bytes <= budget) return;
  const char* origin = g_budget.load() ? " (set by the program)"
                       : budgetFromEnvironment() ? " (set by ANOMALYLENS_MEMORY_BUDGET_MB)"
                                                 : " (half the physical memory; ANOMALYLENS_MEMORY_BUDGET_MB sets it)";
  throw FileError(path, what + " claims " + formatBytes(bytes) + ", more than the memory budget of " + formatBytes(budget) + origin +
                            ": refused before allocating");
}

std::uint64_t imageBytes(std::uint64_t columns, std::uint64_t rows, std::uint64_t frames, std::uint64_t samples,
                         std::uint64_t bytesPerSample) {
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t total = 1;
  for (const std::uint64_t f : {columns, rows, frames, samples, bytesPerSample}) {
    if (f != 0 && total > kMax / f) return kMax;
    total *= f;
  }
  return total;
}

}  // namespace al
