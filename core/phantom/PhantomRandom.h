#pragma once
// The phantoms' random numbers: xoshiro256** seeded through splitmix64, with our own uniform,
// normal and speckle draws. The standard library's distributions are implementation-defined,
// so a seed would give other phantoms with another C++ library; these give the same bits
// everywhere.

#include <cmath>
#include <cstdint>

namespace al {

class PhantomRandom {
 public:
  explicit PhantomRandom(std::uint64_t seed) {
    std::uint64_t x = seed;
    for (auto& s : state_) {
      x += 0x9e3779b97f4a7c15ull;  // splitmix64
      std::uint64_t z = x;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      s = z ^ (z >> 31);
    }
  }

  std::uint64_t next() {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // Uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  int integer(int lo, int hi) { return lo + static_cast<int>(uniform() * (hi - lo + 1)); }  // [lo, hi]

  // Standard normal (Box-Muller, both values used).
  double normal() {
    if (hasSpare_) {
      hasSpare_ = false;
      return spare_;
    }
    double u = 0.0;
    while (u <= 1e-300) u = uniform();
    const double r = std::sqrt(-2.0 * std::log(u));
    const double a = 6.283185307179586 * uniform();
    spare_ = r * std::sin(a);
    hasSpare_ = true;
    return r * std::cos(a);
  }

  // Speckle intensity averaged over `looks` independent looks: gamma(looks, 1/looks), mean 1.
  // A single look is the exponential intensity of fully developed speckle.
  double speckle(int looks) {
    double product = 1.0;
    for (int i = 0; i < looks; ++i) product *= 1.0 - uniform();  // (0, 1]
    return -std::log(product) / looks;
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t state_[4];
  double spare_ = 0.0;
  bool hasSpare_ = false;
};

}  // namespace al
