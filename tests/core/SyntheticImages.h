#pragma once
// Tiny, fast stand-ins for the phantoms in model tests (the networks must learn them in a few
// hundred CPU steps): OCT-like patches of slightly shifted and tilted bright and dark layers
// with mild multiplicative speckle, and multi-contrast "brain" slices whose contrasts are
// different functions of one tissue map. Lesions: a homogeneous mid-grey pocket interrupting
// the layers (mid-grey, so that the patch's intensity statistics barely change: a dark pocket
// is flagged by any untrained network's residual, which proves nothing); a region whose
// contrasts disagree with the tissue (bright in T2/FLAIR only).

#include <cmath>
#include <random>

#include "image/Volume.h"

namespace al::testing {

// [1, n, size, size] in [-1, 1]. `lesionMask`, when given, receives [1, n, size, size] with 1
// inside the lesions; `lesionScale` scales the lesions' radii (the random stream is the same).
inline Volume octPatches(int n, int size, bool lesion, unsigned seed, Volume* lesionMask = nullptr,
                         float lesionScale = 1.f) {
  if (lesionMask) *lesionMask = Volume(PixelType::Float32, {size, size, n}, 1);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  std::gamma_distribution<float> speckle(30.f, 1.f / 30.f);
  Volume v(PixelType::Float32, {size, size, n}, 1);
  float* p = v.data<float>();
  for (int k = 0; k < n; ++k) {
    const float offset = (u(rng) - 0.5f) * size * 0.1f, tilt = (u(rng) - 0.5f) * 0.1f,
                bend = (u(rng) - 0.5f) * 0.004f;
    const float cy = size * (0.3f + 0.4f * u(rng)), cx = size * (0.25f + 0.5f * u(rng));
    const float ry = lesionScale * size * (0.12f + 0.08f * u(rng)), rx = lesionScale * size * (0.18f + 0.1f * u(rng));
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x) {
        const float dx = x - size / 2.f;
        const float depth = y - (size / 2.f + offset + tilt * dx + bend * dx * dx);
        // Layers: dark vitreous above, bright bands with a dark band between, dim below.
        float value = depth < -size * 0.3f ? 0.05f
                    : depth < -size * 0.15f ? 0.75f
                    : depth < 0 ? 0.35f
                    : depth < size * 0.12f ? 0.9f
                    : 0.3f;
        if (lesion) {
          const float e = (y - cy) * (y - cy) / (ry * ry) + (x - cx) * (x - cx) / (rx * rx);
          if (e < 1.f) {
            value = 0.5f;
            if (lesionMask) lesionMask->data<float>()[(static_cast<std::size_t>(k) * size + y) * size + x] = 1.f;
          }
        }
        value = std::min(1.f, value * speckle(rng));
        p[(static_cast<std::size_t>(k) * size + y) * size + x] = value * 2.f - 1.f;
      }
  }
  return v;
}

struct BrainSlices {
  Volume images;  // [4, n, size, size]: T1, T1c, T2, FLAIR, z-scored inside the mask
  Volume mask;    // [1, n, size, size]
  Volume lesion;  // [1, n, size, size]: 1 inside the lesion
};

inline BrainSlices brainSlices(int n, int size, bool lesion, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  std::normal_distribution<float> noise(0.f, 0.04f);
  BrainSlices s{Volume(PixelType::Float32, {size, size, n}, 4), Volume(PixelType::Float32, {size, size, n}, 1),
                Volume(PixelType::Float32, {size, size, n}, 1)};
  const std::size_t plane = static_cast<std::size_t>(size) * size, per = plane * n;
  float* img = s.images.data<float>();
  float* m = s.mask.data<float>();
  float* les = s.lesion.data<float>();
  for (int k = 0; k < n; ++k) {
    const float r = size * (0.38f + 0.06f * u(rng)), ph = u(rng) * 6.28f;
    const float ly = size * (0.35f + 0.3f * u(rng)), lx = size * (0.35f + 0.3f * u(rng)), lr = size * (0.1f + 0.05f * u(rng));
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x) {
        const std::size_t i = static_cast<std::size_t>(k) * plane + static_cast<std::size_t>(y) * size + x;
        const float dy = y - size / 2.f, dx = x - size / 2.f, d = std::sqrt(dy * dy + dx * dx);
        const bool inside = d < r;
        m[i] = inside;
        // Tissue: white matter inside, grey matter ring, CSF at the centre and in folds.
        const float fold = 0.5f + 0.5f * std::sin(std::atan2(dy, dx) * 5 + ph);
        float wm = d < 0.15f * r ? 0.f : d < 0.7f * r ? 1.f : 0.f;
        float gm = d >= 0.7f * r && d < r ? 1.f - 0.6f * fold : 0.f;
        float csf = inside ? 1.f - wm - gm : 0.f;
        const bool isLesion = lesion && inside && (y - ly) * (y - ly) + (x - lx) * (x - lx) < lr * lr;
        les[i] = isLesion;
        float t1 = 0.8f * wm + 0.55f * gm + 0.15f * csf, t1c = t1, t2 = 0.35f * wm + 0.5f * gm + 0.95f * csf,
              flair = 0.4f * wm + 0.55f * gm + 0.1f * csf;
        if (isLesion) { t1 *= 0.7f; t2 = 0.85f; flair = 0.95f; }
        const float values[4] = {t1, t1c, t2, flair};
        for (int c = 0; c < 4; ++c) img[c * per + i] = inside ? values[c] + noise(rng) : 0.f;
      }
  }
  // z-score each contrast over the brain (all slices), as the preprocessing does.
  for (int c = 0; c < 4; ++c) {
    double sum = 0, sq = 0, count = 0;
    for (std::size_t i = 0; i < per; ++i)
      if (m[i]) { sum += img[c * per + i]; sq += img[c * per + i] * img[c * per + i]; ++count; }
    const double mean = sum / count, sd = std::sqrt(std::max(1e-12, sq / count - mean * mean));
    for (std::size_t i = 0; i < per; ++i) img[c * per + i] = m[i] ? static_cast<float>((img[c * per + i] - mean) / sd) : 0.f;
  }
  return s;
}

// Area under the ROC curve (Mann-Whitney, ties count half).
inline double auc(const std::vector<double>& negatives, const std::vector<double>& positives) {
  double wins = 0;
  for (double p : positives)
    for (double q : negatives) wins += p > q ? 1.0 : p == q ? 0.5 : 0.0;
  return wins / (static_cast<double>(positives.size()) * negatives.size());
}

}  // namespace al::testing
