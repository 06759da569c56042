#include "preprocess/MriPrepare.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <deque>

#include <nlohmann/json.hpp>

#include "errors/Error.h"
#include "image/Bilinear.h"

namespace al {
namespace {

std::string sourceOf(const Volume& v) {
  return v.metadata().sourcePath.empty() ? "MRI volume" : v.metadata().sourcePath;
}

std::vector<float> channelAsFloat(const Volume& v, int c) {
  std::vector<float> out(static_cast<std::size_t>(v.voxelsPerChannel()));
  const std::int64_t off = v.voxelsPerChannel() * c;
  visitVoxels(v, [&](const auto* p, std::int64_t) {
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(p[off + static_cast<std::int64_t>(i)]);
  });
  return out;
}

// Zero outside the plane (the crop square may reach past the image), bilinear inside.
float sampleBilinear(const float* img, int h, int w, double x, double y) {
  if (x < -0.5 || y < -0.5 || x > w - 0.5 || y > h - 0.5) return 0.f;
  return sampleBilinearClamped(img, h, w, x, y);
}

}  // namespace

nlohmann::json MriPrepareOptions::toJson() const {
  return {{"size", size}, {"margin", margin}, {"min_brain_fraction", minBrainFraction},
          {"normalisation", "z-score per contrast over the brain volume"},
          {"slices", "axial, cropped to the brain's bounding square"}};
}

MriPrepareOptions MriPrepareOptions::fromJson(const nlohmann::json& j) {
  MriPrepareOptions o;
  o.size = j.value("size", o.size);
  o.margin = j.value("margin", o.margin);
  o.minBrainFraction = j.value("min_brain_fraction", o.minBrainFraction);
  return o;
}

MriPrepared prepareMri(const Volume& contrasts, const Volume* brainMask, const MriPrepareOptions& options) {
  const std::string source = sourceOf(contrasts);
  if (contrasts.empty()) throw Error(source, "empty volume");
  const Size3 sz = contrasts.size();
  Volume estimated;
  if (!brainMask) {
    estimated = estimateBrainMask(contrasts);
    brainMask = &estimated;
  }
  if (!(brainMask->size() == sz)) throw Error(source, "the brain mask's grid differs from the image's");
  const int w = static_cast<int>(sz.x), h = static_cast<int>(sz.y), nz = static_cast<int>(sz.z);
  const std::vector<float> brainF = channelAsFloat(*brainMask, 0);

  // Brain bounding box in plane, over all slices.
  int xmin = w, xmax = -1, ymin = h, ymax = -1;
  long brainVoxels = 0;
  for (int z = 0; z < nz; ++z)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        if (brainF[(static_cast<std::size_t>(z) * h + y) * w + x] > 0) {
          xmin = std::min(xmin, x); xmax = std::max(xmax, x);
          ymin = std::min(ymin, y); ymax = std::max(ymax, y);
          ++brainVoxels;
        }
  if (brainVoxels < 100) throw Error(source, "the brain mask is empty (fewer than 100 voxels)");

  MriPrepared out;
  out.options = options;
  out.original = sz;
  out.originalSpacing = contrasts.spacing();
  const int C = contrasts.channels();
  // Physical squares: with anisotropic pixels the crop is square in millimetres.
  const double sx = contrasts.spacing()[0], sy = contrasts.spacing()[1];
  const double extentMm = std::max((xmax - xmin + 1) * sx, (ymax - ymin + 1) * sy) * (1 + 2 * options.margin);
  const double sideX = extentMm / sx, sideY = extentMm / sy;
  const double cx = 0.5 * (xmin + xmax), cy = 0.5 * (ymin + ymax);
  out.side = static_cast<int>(std::lround(sideX));
  out.x0 = static_cast<int>(std::lround(cx - sideX / 2));
  out.y0 = static_cast<int>(std::lround(cy - sideY / 2));
  const int n = options.size;
  const double stepX = sideX / n, stepY = sideY / n;

  // z-score statistics per contrast over the whole brain.
  std::vector<std::vector<float>> channels;
  for (int c = 0; c < C; ++c) {
    channels.push_back(channelAsFloat(contrasts, c));
    double sum = 0, sum2 = 0;
    for (std::size_t i = 0; i < brainF.size(); ++i) {
      if (brainF[i] <= 0) continue;
      const double v = channels.back()[i];
      if (!std::isfinite(v)) throw Error(source, "NaN or infinite intensities in contrast " + std::to_string(c));
      sum += v; sum2 += v * v;
    }
    const double mean = sum / brainVoxels, var = std::max(0.0, sum2 / brainVoxels - mean * mean);
    if (var <= 1e-12 * std::max(1.0, mean * mean)) {
      const std::string name = c < static_cast<int>(contrasts.channelNames().size()) ? contrasts.channelNames()[static_cast<std::size_t>(c)] : std::to_string(c);
      throw Error(source, "contrast " + name + " is constant inside the brain");
    }
    out.mean.push_back(mean);
    out.stddev.push_back(std::sqrt(var));
  }

  // Which slices to keep.
  for (int z = 0; z < nz; ++z) {
    long count = 0;
    for (std::size_t i = 0; i < static_cast<std::size_t>(w) * h; ++i) count += brainF[static_cast<std::size_t>(z) * w * h + i] > 0;
    const double fraction = static_cast<double>(count) / (sideX * sideY);
    if (count > 0 && fraction >= options.minBrainFraction) out.sliceIndex.push_back(z);
  }
  if (out.sliceIndex.empty()) throw Error(source, "no slice has enough brain");
  const int S = static_cast<int>(out.sliceIndex.size());
  out.slices = Volume(PixelType::Float32, {n, n, S}, C);
  out.brain = Volume(PixelType::UInt8, {n, n, S}, 1);
  out.slices.setChannelNames(contrasts.channelNames());
  out.slices.metadata() = contrasts.metadata();
  float* dst = out.slices.data<float>();
  std::uint8_t* bdst = out.brain.data<std::uint8_t>();
  const int kx = std::max(1, static_cast<int>(std::lround(stepX))), ky = std::max(1, static_cast<int>(std::lround(stepY)));
  for (int s = 0; s < S; ++s) {
    const std::size_t planeOff = static_cast<std::size_t>(out.sliceIndex[static_cast<std::size_t>(s)]) * w * h;
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < n; ++i) {
        const double x = out.x0 + (i + 0.5) * stepX - 0.5, y = out.y0 + (j + 0.5) * stepY - 0.5;
        const std::size_t o = (static_cast<std::size_t>(s) * n + j) * n + i;
        const bool inBrain = sampleBilinear(brainF.data() + planeOff, h, w, x, y) >= 0.5f;
        bdst[o] = inBrain ? 1 : 0;
        for (int c = 0; c < C; ++c) {
          double acc = 0;  // footprint average when the slice is coarser than the scan
          for (int a = 0; a < kx; ++a)
            for (int b = 0; b < ky; ++b)
              acc += sampleBilinear(channels[static_cast<std::size_t>(c)].data() + planeOff, h, w,
                                    x + ((a + 0.5) / kx - 0.5) * stepX, y + ((b + 0.5) / ky - 0.5) * stepY);
          const double v = (acc / (kx * ky) - out.mean[static_cast<std::size_t>(c)]) / out.stddev[static_cast<std::size_t>(c)];
          dst[static_cast<std::size_t>(c) * S * n * n + o] = inBrain ? static_cast<float>(v) : 0.f;
        }
      }
  }
  return out;
}

Volume unprepareMri(const MriPrepared& prep, const Volume& sliceMap, const Volume* brainMask) {
  const int n = prep.options.size, S = static_cast<int>(prep.sliceIndex.size());
  if (sliceMap.pixelType() != PixelType::Float32 || sliceMap.size().x != n || sliceMap.size().y != n || sliceMap.size().z != S)
    throw Error("unprepare", "the map does not have the prepared slices' geometry");
  const Size3 sz = prep.original;
  const int w = static_cast<int>(sz.x), h = static_cast<int>(sz.y);
  Volume out(PixelType::Float32, sz, 1);
  out.setSpacing(prep.originalSpacing);
  float* dst = out.data<float>();
  const double sideX = prep.side, stepX = sideX / n;
  const double sideY = sideX * prep.originalSpacing[0] / prep.originalSpacing[1], stepY = sideY / n;
  const float* src = sliceMap.data<float>();
  for (int s = 0; s < S; ++s) {
    const int z = prep.sliceIndex[static_cast<std::size_t>(s)];
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const std::int64_t idx = (static_cast<std::int64_t>(z) * h + y) * w + x;
        if (brainMask && brainMask->value(x, y, z) <= 0) continue;
        const double i = (x - prep.x0 + 0.5) / stepX - 0.5, j = (y - prep.y0 + 0.5) / stepY - 0.5;
        dst[idx] = sampleBilinear(src + static_cast<std::size_t>(s) * n * n, n, n, i, j);
      }
  }
  return out;
}

Volume prepareMriLabels(const MriPrepared& prep, const Volume& labels) {
  if (!(labels.size() == prep.original)) throw Error("labels", "the mask's grid differs from the image's");
  const int n = prep.options.size, S = static_cast<int>(prep.sliceIndex.size());
  const double stepX = static_cast<double>(prep.side) / n;
  const double stepY = stepX * prep.originalSpacing[0] / prep.originalSpacing[1];
  Volume out(PixelType::UInt8, {n, n, S}, 1);
  std::uint8_t* dst = out.data<std::uint8_t>();
  for (int s = 0; s < S; ++s)
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < n; ++i) {
        const long x = std::lround(prep.x0 + (i + 0.5) * stepX - 0.5), y = std::lround(prep.y0 + (j + 0.5) * stepY - 0.5);
        const int z = prep.sliceIndex[static_cast<std::size_t>(s)];
        dst[(static_cast<std::size_t>(s) * n + j) * n + i] =
            labels.contains(x, y, z) ? static_cast<std::uint8_t>(std::clamp(labels.value(x, y, z), 0.0, 255.0)) : 0;
      }
  return out;
}

Volume estimateBrainMask(const Volume& contrasts) {
  const Size3 sz = contrasts.size();
  const int w = static_cast<int>(sz.x), h = static_cast<int>(sz.y), nz = static_cast<int>(sz.z);
  const std::size_t N = static_cast<std::size_t>(sz.count());
  std::vector<float> mean(N, 0.f);
  std::vector<char> anyNonZero(N, 0);
  for (int c = 0; c < contrasts.channels(); ++c) {
    const std::vector<float> ch = channelAsFloat(contrasts, c);
    for (std::size_t i = 0; i < N; ++i) {
      mean[i] += ch[i] / static_cast<float>(contrasts.channels());
      anyNonZero[i] |= ch[i] != 0.f;
    }
  }
  Volume mask(PixelType::UInt8, sz, 1);
  mask.setSpacing(contrasts.spacing());
  std::uint8_t* m = mask.data<std::uint8_t>();
  const double zeroFraction = 1.0 - static_cast<double>(std::count(anyNonZero.begin(), anyNonZero.end(), 1)) / static_cast<double>(N);
  if (zeroFraction > 0.2) {  // skull-stripped already (BraTS, ISLES): the brain is what is not zero
    for (std::size_t i = 0; i < N; ++i) m[i] = anyNonZero[i] ? 1 : 0;
    return mask;
  }
  // Otsu on a 256-bin histogram of the mean contrast.
  const auto [mnIt, mxIt] = std::minmax_element(mean.begin(), mean.end());
  const double mn = *mnIt, mx = *mxIt;
  if (!(mx > mn)) throw Error(sourceOf(contrasts), "constant image: no head to find");
  std::array<double, 256> hist{};
  for (float v : mean) hist[static_cast<std::size_t>(std::min(255.0, (v - mn) / (mx - mn) * 255.0))] += 1;
  double total = static_cast<double>(N), sumAll = 0;
  for (int i = 0; i < 256; ++i) sumAll += i * hist[static_cast<std::size_t>(i)];
  double wB = 0, sumB = 0, best = -1;
  int threshold = 0;
  for (int t = 0; t < 256; ++t) {
    wB += hist[static_cast<std::size_t>(t)];
    if (wB == 0 || wB == total) continue;
    sumB += t * hist[static_cast<std::size_t>(t)];
    const double mB = sumB / wB, mF = (sumAll - sumB) / (total - wB);
    const double between = wB * (total - wB) * (mB - mF) * (mB - mF);
    if (between > best) { best = between; threshold = t; }
  }
  const double cut = mn + (threshold + 0.5) / 255.0 * (mx - mn);
  std::vector<char> fg(N);
  for (std::size_t i = 0; i < N; ++i) fg[i] = mean[i] > cut;
  // Largest 6-connected component.
  std::vector<int> label(N, 0);
  int bestLabel = 0, next = 0;
  long bestSize = 0;
  std::deque<std::size_t> queue;
  for (std::size_t s = 0; s < N; ++s) {
    if (!fg[s] || label[s]) continue;
    ++next;
    long size = 0;
    label[s] = next;
    queue.push_back(s);
    while (!queue.empty()) {
      const std::size_t i = queue.front();
      queue.pop_front();
      ++size;
      const int x = static_cast<int>(i % w), y = static_cast<int>((i / w) % h), z = static_cast<int>(i / (static_cast<std::size_t>(w) * h));
      const int nb[6][3] = {{x - 1, y, z}, {x + 1, y, z}, {x, y - 1, z}, {x, y + 1, z}, {x, y, z - 1}, {x, y, z + 1}};
      for (const auto& p : nb) {
        if (p[0] < 0 || p[1] < 0 || p[2] < 0 || p[0] >= w || p[1] >= h || p[2] >= nz) continue;
        const std::size_t j = (static_cast<std::size_t>(p[2]) * h + p[1]) * w + p[0];
        if (fg[j] && !label[j]) { label[j] = next; queue.push_back(j); }
      }
    }
    if (size > bestSize) { bestSize = size; bestLabel = next; }
  }
  for (std::size_t i = 0; i < N; ++i) m[i] = label[i] == bestLabel ? 1 : 0;
  // Fill holes per slice: background not reachable from the slice border becomes head.
  for (int z = 0; z < nz; ++z) {
    std::vector<char> outside(static_cast<std::size_t>(w) * h, 0);
    std::deque<int> q;
    auto seed = [&](int x, int y) {
      const std::size_t k = static_cast<std::size_t>(y) * w + x;
      if (!outside[k] && !m[static_cast<std::size_t>(z) * w * h + k]) { outside[k] = 1; q.push_back(static_cast<int>(k)); }
    };
    for (int x = 0; x < w; ++x) { seed(x, 0); seed(x, h - 1); }
    for (int y = 0; y < h; ++y) { seed(0, y); seed(w - 1, y); }
    while (!q.empty()) {
      const int k = q.front();
      q.pop_front();
      const int x = k % w, y = k / w;
      if (x > 0) seed(x - 1, y);
      if (x < w - 1) seed(x + 1, y);
      if (y > 0) seed(x, y - 1);
      if (y < h - 1) seed(x, y + 1);
    }
    for (std::size_t k = 0; k < outside.size(); ++k)
      if (!outside[k]) m[static_cast<std::size_t>(z) * w * h + k] = 1;
  }
  // Erode about 8 mm in plane (scalp and skull), one 4-neighbour step per pixel of spacing.
  const int steps = std::max(1, static_cast<int>(std::lround(8.0 / std::max(0.1, contrasts.spacing()[0]))));
  std::vector<std::uint8_t> cur(m, m + N), nxt(N);
  for (int s = 0; s < steps; ++s) {
    for (int z = 0; z < nz; ++z)
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
          const std::size_t i = (static_cast<std::size_t>(z) * h + y) * w + x;
          nxt[i] = cur[i] && x > 0 && x < w - 1 && y > 0 && y < h - 1 && cur[i - 1] && cur[i + 1] && cur[i - w] && cur[i + w];
        }
    std::swap(cur, nxt);
  }
  std::copy(cur.begin(), cur.end(), m);
  mask.metadata().warnings.push_back(
      "brain mask estimated (head threshold eroded by 8 mm), not skull-stripped: supply a brain mask for real studies");
  return mask;
}

}  // namespace al
