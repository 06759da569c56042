#pragma once
// The p-th percentile (0-100, linear interpolation between order statistics) of float samples,
// reordering them in place (nth_element: linear time, no copy). 0 for no samples. Shared by the
// intensity windows of the OCT and radiograph preprocessing.

#include <algorithm>
#include <cstddef>
#include <vector>

namespace al {

inline double percentileInPlace(std::vector<float>& v, double p) {
  if (v.empty()) return 0.0;
  const double pos = p / 100.0 * static_cast<double>(v.size() - 1);
  const auto k = static_cast<std::size_t>(pos);
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  const double a = v[k];
  if (k + 1 >= v.size()) return a;
  const double b = *std::min_element(v.begin() + static_cast<std::ptrdiff_t>(k) + 1, v.end());
  return a + (pos - static_cast<double>(k)) * (b - a);
}

}  // namespace al
