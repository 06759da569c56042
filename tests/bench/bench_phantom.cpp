// Benchmark (not a test): how long the phantom generators take. The goal: one
// 49-B-scan OCT volume in well under a second on one core. Run with `cmake --build build --target bench`.

#include <chrono>
#include <cstdio>

#include "phantom/MriPhantom.h"
#include "phantom/OctPhantom.h"

int main() {
  using Clock = std::chrono::steady_clock;
  auto seconds = [](Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); };
  const int runs = 5;
  double best = 1e9;
  for (int i = 0; i < runs; ++i) {
    al::OctPhantomOptions o;
    o.seed = 100 + static_cast<std::uint64_t>(i);
    o.lesions = al::OctLesionOptions::randomMix(o.seed);
    const auto t0 = Clock::now();
    const auto p = al::makeOctPhantom(o);
    best = std::min(best, seconds(t0, Clock::now()));
    if (p.image.empty()) return 1;
  }
  std::printf("OCT phantom 512x496x49: best of %d %.3f s (%.1f Mvoxel/s), one thread\n", runs, best, 512.0 * 496 * 49 / best / 1e6);
  best = 1e9;
  for (int i = 0; i < 3; ++i) {
    al::MriPhantomOptions o;
    o.seed = 200 + static_cast<std::uint64_t>(i);
    o.lesions = al::MriLesionOptions::randomMix(o.seed);
    const auto t0 = Clock::now();
    const auto p = al::makeMriPhantom(o);
    best = std::min(best, seconds(t0, Clock::now()));
    if (p.image.empty()) return 1;
  }
  std::printf("MRI phantom 128x128x96, 4 contrasts: best of 3 %.3f s, one thread\n", best);
  return 0;
}
