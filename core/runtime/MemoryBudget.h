#pragma once
// The memory a single image may claim. Readers compute the bytes a header implies and check them
// here before allocating, so a header that lies about its size gets a clear refusal instead of
// std::bad_alloc or a machine swapped to death.

#include <cstdint>
#include <string>

namespace al {

// Half of the physical memory, or ANOMALYLENS_MEMORY_BUDGET_MB when set (a positive number of
// MiB), or what setMemoryBudgetBytes() set last.
std::uint64_t memoryBudgetBytes();
void setMemoryBudgetBytes(std::uint64_t bytes);  // 0: back to the default

// "1.5 GiB", "320 MiB", "12 KiB", "80 bytes".
std::string formatBytes(std::uint64_t bytes);

// Throws FileError(path, "<what> claims <size>, more than the memory budget of <limit> ...")
// when `bytes` exceeds the budget. `what` names the thing ("the image (512 x 512 x 4000 x 2
// bytes)").
void checkMemoryBudget(const std::string& path, std::uint64_t bytes, const std::string& what);

// rows * columns * frames * samples * bytesPerSample without overflow (saturating at 2^64-1).
std::uint64_t imageBytes(std::uint64_t columns, std::uint64_t rows, std::uint64_t frames, std::uint64_t samples,
                         std::uint64_t bytesPerSample);

}  // namespace al
