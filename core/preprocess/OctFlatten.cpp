#include "preprocess/OctFlatten.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include <nlohmann/json.hpp>

#include "errors/Error.h"
#include "image/Percentile.h"

namespace al {
namespace {

// A scan read from PNG or TIFF carries no spacing: ITK reports 1 mm, which no OCT has.
bool spacingKnown(const Vec3& s) { return s[0] > 0 && s[1] > 0 && !(s[0] == 1.0 && s[1] == 1.0); }

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

// Box filter along one axis of a row-major H x W image, radius r (edges use the shorter window).
void boxFilter(std::vector<float>& img, int h, int w, int r, bool alongRows) {
  if (r <= 0) return;
  std::vector<float> line, out;
  const int n = alongRows ? w : h, lines = alongRows ? h : w;
  line.resize(static_cast<std::size_t>(n) + 1);
  for (int l = 0; l < lines; ++l) {
    auto at = [&](int i) -> float& {
      return alongRows ? img[static_cast<std::size_t>(l) * w + i] : img[static_cast<std::size_t>(i) * w + l];
    };
    line[0] = 0;
    for (int i = 0; i < n; ++i) line[static_cast<std::size_t>(i) + 1] = line[static_cast<std::size_t>(i)] + at(i);
    for (int i = 0; i < n; ++i) {
      const int a = std::max(0, i - r), b = std::min(n - 1, i + r);
      at(i) = (line[static_cast<std::size_t>(b) + 1] - line[static_cast<std::size_t>(a)]) / static_cast<float>(b - a + 1);
    }
  }
}

// Weighted least-squares quadratic through (t, y), t in [-1, 1]; false when singular.
bool fitQuadratic(const std::vector<double>& t, const std::vector<double>& y, const std::vector<char>& use,
                  double coef[3]) {
  double m[3][4] = {};
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (!use[i]) continue;
    const double p[3] = {1.0, t[i], t[i] * t[i]};
    for (int r = 0; r < 3; ++r) {
      for (int c = 0; c < 3; ++c) m[r][c] += p[r] * p[c];
      m[r][3] += p[r] * y[i];
    }
  }
  for (int c = 0; c < 3; ++c) {  // Gauss-Jordan with partial pivoting
    int piv = c;
    for (int r = c + 1; r < 3; ++r)
      if (std::abs(m[r][c]) > std::abs(m[piv][c])) piv = r;
    if (std::abs(m[piv][c]) < 1e-9) return false;
    std::swap(m[c], m[piv]);
    for (int r = 0; r < 3; ++r) {
      if (r == c) continue;
      const double f = m[r][c] / m[c][c];
      for (int k = c; k < 4; ++k) m[r][k] -= f * m[c][k];
    }
  }
  for (int c = 0; c < 3; ++c) coef[c] = m[c][3] / m[c][c];
  return true;
}

struct Boundaries {
  std::vector<float> rpe, ilm;
  bool found = false;
  std::string why;  // when not found
};

std::string percentText(double fraction) { return std::to_string(static_cast<int>(std::lround(100.0 * fraction))) + "%"; }

// ILM and RPE of one normalised B-scan (values in [0, 1]). `usable`: per column, 0 for padding
// and saturated columns, which are not searched (the fitted RPE spans them).
Boundaries findBoundaries(std::vector<float> img, int h, int w, double axialUm, const std::vector<char>& usable) {
  // Speckle is multiplicative and strong: average a few A-scans and a few microns of depth.
  boxFilter(img, h, w, std::max(1, w / 128), true);
  const int axialRadius = std::max(1, static_cast<int>(std::lround(6.0 / axialUm)));
  boxFilter(img, h, w, axialRadius, false);
  boxFilter(img, h, w, axialRadius, false);

  const int minThick = std::max(3, static_cast<int>(std::lround(100.0 / axialUm)));
  const int maxThick = std::max(minThick + 3, static_cast<int>(std::lround(900.0 / axialUm)));
  std::vector<double> t(static_cast<std::size_t>(w)), rpeRaw(static_cast<std::size_t>(w)),
      ilmRaw(static_cast<std::size_t>(w));
  std::vector<char> valid(static_cast<std::size_t>(w), 0);
  std::vector<float> profile(static_cast<std::size_t>(h));
  for (int x = 0; x < w; ++x) {
    t[static_cast<std::size_t>(x)] = w > 1 ? 2.0 * x / (w - 1) - 1.0 : 0.0;
    if (!usable[static_cast<std::size_t>(x)]) continue;
    for (int y = 0; y < h; ++y) profile[static_cast<std::size_t>(y)] = img[static_cast<std::size_t>(y) * w + x];
    std::vector<float> sorted = profile;
    const double bg = percentileInPlace(sorted, 20.0);
    const double peak = *std::max_element(profile.begin(), profile.end());
    if (peak - bg < 0.15) continue;  // a vessel shadow or a blank column: no boundary to see
    const double rise = bg + 0.4 * (peak - bg);
    int ilm = -1;
    for (int y = 0; y < h; ++y)
      if (profile[static_cast<std::size_t>(y)] >= rise) { ilm = y; break; }
    if (ilm < 0) continue;
    const int a = std::min(h - 1, ilm + minThick), b = std::min(h - 1, ilm + maxThick);
    if (b <= a) continue;
    const float windowMax = *std::max_element(profile.begin() + a, profile.begin() + b + 1);
    // The RPE is the deepest strong reflector (the nerve fibre layer can be as bright).
    int rpe = -1;
    for (int y = b; y >= a; --y) {
      const float v = profile[static_cast<std::size_t>(y)];
      const bool localMax = (y == 0 || v >= profile[static_cast<std::size_t>(y) - 1]) &&
                            (y == h - 1 || v >= profile[static_cast<std::size_t>(y) + 1]);
      if (localMax && v >= 0.85 * windowMax) { rpe = y; break; }
    }
    if (rpe < 0) continue;
    valid[static_cast<std::size_t>(x)] = 1;
    rpeRaw[static_cast<std::size_t>(x)] = rpe;
    ilmRaw[static_cast<std::size_t>(x)] = ilm;
  }
  Boundaries out;
  const long nValid = std::count(valid.begin(), valid.end(), 1);
  const long nUsable = std::max<long>(1, std::count(usable.begin(), usable.end(), 1));
  if (nValid < std::max<long>(8, nUsable / 4)) {
    out.why = "a retina (a bright RPE under the ILM) shows in only " + percentText(static_cast<double>(nValid) / nUsable) +
              " of the A-scans";
    return out;
  }

  // Robust quadratic by consensus (RANSAC with a fixed, deterministic sampling): curves through
  // one detection from each third of the B-scan, the one most detections agree with wins, and a
  // least-squares fit over its inliers refines it. A detachment or drusen lifting the RPE over a
  // third of the width cannot pull the baseline up the way a least-squares fit would be.
  std::vector<int> cols;
  for (int x = 0; x < w; ++x)
    if (valid[static_cast<std::size_t>(x)]) cols.push_back(x);
  const double tol = std::max(3.0, 12.0 / axialUm);
  auto inliers = [&](const double c[3], std::vector<char>& use) {
    long n = 0;
    for (int x : cols) {
      const double tx = t[static_cast<std::size_t>(x)];
      const bool in = std::abs(rpeRaw[static_cast<std::size_t>(x)] - (c[0] + c[1] * tx + c[2] * tx * tx)) <= tol;
      use[static_cast<std::size_t>(x)] = in;
      n += in;
    }
    return n;
  };
  std::vector<char> use(static_cast<std::size_t>(w), 0), trial(static_cast<std::size_t>(w), 0);
  double coef[3] = {0, 0, 0};
  long bestCount = -1;
  const std::size_t third = cols.size() / 3;
  std::uint64_t state = 0x9E3779B97F4A7C15ull;
  auto next = [&](std::size_t n) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<std::size_t>((state >> 33) % std::max<std::size_t>(1, n));
  };
  for (int k = 0; k < 300 && third > 0; ++k) {
    const int xs[3] = {cols[next(third)], cols[third + next(third)], cols[2 * third + next(cols.size() - 2 * third)]};
    std::vector<double> tt, yy;
    std::vector<char> all(3, 1);
    for (int x : xs) {
      tt.push_back(t[static_cast<std::size_t>(x)]);
      yy.push_back(rpeRaw[static_cast<std::size_t>(x)]);
    }
    double c[3];
    if (!fitQuadratic(tt, yy, all, c)) continue;
    const long n = inliers(c, trial);
    if (n > bestCount) {
      bestCount = n;
      std::copy(c, c + 3, coef);
      use = trial;
    }
  }
  // A B-scan whose RPE detections follow no smooth curve (noise taken for a retina, a scan
  // folded by a wrap-around) would be flattened on a guess: refuse it instead.
  if (bestCount < std::max<long>(8, (nValid * 35 + 99) / 100)) {
    out.why = "the RPE detections follow no smooth curve (only " + percentText(static_cast<double>(std::max(0L, bestCount)) / nValid) +
              " of them agree)";
    return out;
  }
  for (int round = 0; round < 2; ++round) {
    if (!fitQuadratic(t, rpeRaw, use, coef)) {
      out.why = "the RPE fit is singular";
      return out;
    }
    inliers(coef, use);
  }
  long outside = 0;
  for (int x = 0; x < w; ++x) {
    if (!usable[static_cast<std::size_t>(x)]) continue;
    const double tx = t[static_cast<std::size_t>(x)];
    const double r = coef[0] + coef[1] * tx + coef[2] * tx * tx;
    outside += r < 0 || r > h - 1;
  }
  // A retina partly beyond the top or bottom edge is flattened where it shows (off-image band
  // pixels are not retina); beyond a quarter of the width too little of it is left to trust.
  if (outside * 4 > nUsable) {
    out.why = "the fitted RPE leaves the image on " + percentText(static_cast<double>(outside) / nUsable) + " of the A-scans";
    return out;
  }
  out.rpe.resize(static_cast<std::size_t>(w));
  out.ilm.resize(static_cast<std::size_t>(w));
  std::vector<double> thickness;
  for (int x = 0; x < w; ++x) {
    const double tx = t[static_cast<std::size_t>(x)];
    out.rpe[static_cast<std::size_t>(x)] = static_cast<float>(coef[0] + coef[1] * tx + coef[2] * tx * tx);
    if (valid[static_cast<std::size_t>(x)])
      thickness.push_back(out.rpe[static_cast<std::size_t>(x)] - ilmRaw[static_cast<std::size_t>(x)]);
  }
  // The ILM only bounds the region scored; a running median over the valid columns removes
  // single-column misses, and gaps take the B-scan's median thickness.
  const double typical = median(thickness);
  for (int x = 0; x < w; ++x) {
    std::vector<double> near;
    for (int k = std::max(0, x - 4); k <= std::min(w - 1, x + 4); ++k)
      if (valid[static_cast<std::size_t>(k)]) near.push_back(out.rpe[static_cast<std::size_t>(k)] - ilmRaw[static_cast<std::size_t>(k)]);
    const double thick = near.size() >= 3 ? median(near) : typical;
    out.ilm[static_cast<std::size_t>(x)] = static_cast<float>(out.rpe[static_cast<std::size_t>(x)] - thick);
  }
  out.found = true;
  return out;
}

// Constant padding: 4-connected regions of the volume's exact minimum or maximum value that
// touch a B-scan's border and cover at least a column's worth of pixels (black or white bands,
// the wedges a rotation leaves). Speckle never holds one value over so many connected pixels;
// an 8-bit export's clipped vitreous may, and is background either way.
std::vector<char> paddingMask(const std::vector<float>& img, int w, int h, int nz) {
  std::vector<char> pad(img.size(), 0);
  const auto [mnIt, mxIt] = std::minmax_element(img.begin(), img.end());
  const float extremes[2] = {*mnIt, *mxIt};
  const std::size_t plane = static_cast<std::size_t>(w) * h;
  std::vector<char> seen(plane);
  std::vector<std::size_t> region, stack;
  for (int z = 0; z < nz; ++z) {
    const float* p = img.data() + plane * z;
    std::fill(seen.begin(), seen.end(), 0);
    auto grow = [&](std::size_t start) {
      const float v = p[start];
      if (seen[start] || (v != extremes[0] && v != extremes[1])) return;
      region.clear();
      stack.assign(1, start);
      seen[start] = 1;
      while (!stack.empty()) {
        const std::size_t k = stack.back();
        stack.pop_back();
        region.push_back(k);
        const int x = static_cast<int>(k % w), y = static_cast<int>(k / w);
        const std::size_t nb[4] = {x > 0 ? k - 1 : k, x < w - 1 ? k + 1 : k, y > 0 ? k - w : k, y < h - 1 ? k + w : k};
        for (std::size_t n : nb)
          if (!seen[n] && p[n] == v) {
            seen[n] = 1;
            stack.push_back(n);
          }
      }
      if (region.size() >= static_cast<std::size_t>(std::max(h, w)))
        for (std::size_t k : region) pad[plane * z + k] = 1;
    };
    for (int x = 0; x < w; ++x) {
      grow(static_cast<std::size_t>(x));
      grow(static_cast<std::size_t>(h - 1) * w + x);
    }
    for (int y = 0; y < h; ++y) {
      grow(static_cast<std::size_t>(y) * w);
      grow(static_cast<std::size_t>(y) * w + w - 1);
    }
  }
  return pad;
}

// Saturated reflexes: columns whose median over depth is far above the B-scan's typical column
// (most of an A-scan is dark vitreous and choroid; a specular reflex or a saturation streak is
// bright from top to bottom). Marks them 0 in `usable` (per B-scan and column); true when any.
bool markSaturatedColumns(const std::vector<float>& img, const std::vector<char>& padding, int w, int h, int nz, double lo,
                          double hi, std::vector<char>& usable) {
  bool any = false;
  const std::size_t plane = static_cast<std::size_t>(w) * h;
  std::vector<float> column;
  std::vector<double> medians(static_cast<std::size_t>(w));
  std::vector<char> has(static_cast<std::size_t>(w));
  for (int z = 0; z < nz; ++z) {
    std::vector<double> typical;
    for (int x = 0; x < w; ++x) {
      column.clear();
      for (int y = 0; y < h; ++y) {
        const std::size_t k = plane * z + static_cast<std::size_t>(y) * w + x;
        if (!padding[k]) column.push_back(static_cast<float>(std::clamp((img[k] - lo) / (hi - lo), 0.0, 1.0)));
      }
      has[static_cast<std::size_t>(x)] = column.size() * 2 > static_cast<std::size_t>(h);
      medians[static_cast<std::size_t>(x)] = has[static_cast<std::size_t>(x)] ? percentileInPlace(column, 50.0) : 0.0;
      if (has[static_cast<std::size_t>(x)]) typical.push_back(medians[static_cast<std::size_t>(x)]);
    }
    if (typical.empty()) continue;
    const double cut = std::max(0.5, median(typical) + 0.35);
    std::vector<int> flagged;
    for (int x = 0; x < w; ++x)
      if (has[static_cast<std::size_t>(x)] && medians[static_cast<std::size_t>(x)] > cut) flagged.push_back(x);
    if (flagged.empty() || flagged.size() * 4 > typical.size()) continue;  // a quarter bright: that is the image
    for (int x : flagged) usable[static_cast<std::size_t>(z) * w + x] = 0;
    any = true;
  }
  return any;
}

float bilinear(const float* img, int h, int w, double x, double y, float outside) {
  if (y < -0.5 || y > h - 0.5 || x < -0.5 || x > w - 0.5) return outside;
  x = std::clamp(x, 0.0, static_cast<double>(w - 1));
  y = std::clamp(y, 0.0, static_cast<double>(h - 1));
  const int x0 = static_cast<int>(x), y0 = static_cast<int>(y);
  const int x1 = std::min(x0 + 1, w - 1), y1 = std::min(y0 + 1, h - 1);
  const double fx = x - x0, fy = y - y0;
  const double top = img[static_cast<std::size_t>(y0) * w + x0] * (1 - fx) + img[static_cast<std::size_t>(y0) * w + x1] * fx;
  const double bot = img[static_cast<std::size_t>(y1) * w + x0] * (1 - fx) + img[static_cast<std::size_t>(y1) * w + x1] * fx;
  return static_cast<float>(top * (1 - fy) + bot * fy);
}

double interpolate(const std::vector<float>& v, double x) {
  const double c = std::clamp(x, 0.0, static_cast<double>(v.size() - 1));
  const auto i = static_cast<std::size_t>(c);
  const std::size_t j = std::min(i + 1, v.size() - 1);
  return v[i] + (c - static_cast<double>(i)) * (v[j] - v[i]);
}

// Original rows per band row at band row b: compressed above the RPE where the thickness is
// normalised (c > 1), as the scan's own below it.
double rowsPerBandRow(double b, int rpeRow, double rowStep, double c) { return b < rpeRow ? rowStep * c : rowStep; }

// Per original column, the compression that fits the retina (RPE minus ILM, in band rows) into
// `room` band rows: a running maximum and then a running mean over about 2% of the width each
// way, so that it changes gradually from column to column and still covers each column's own
// need; 1 where the retina fits, at most maxCompression.
std::vector<float> thicknessCompression(const std::vector<float>& rpe, const std::vector<float>& ilm, double axialScale,
                                        double room, double maxCompression) {
  const int w = static_cast<int>(rpe.size());
  const int reach = std::max(1, w / 50);
  std::vector<double> need(static_cast<std::size_t>(w)), peak(static_cast<std::size_t>(w));
  for (int x = 0; x < w; ++x)
    need[static_cast<std::size_t>(x)] = std::max(0.0, static_cast<double>(rpe[static_cast<std::size_t>(x)] - ilm[static_cast<std::size_t>(x)])) * axialScale / room;
  for (int x = 0; x < w; ++x) {
    double m = 0;
    for (int k = std::max(0, x - reach); k <= std::min(w - 1, x + reach); ++k) m = std::max(m, need[static_cast<std::size_t>(k)]);
    peak[static_cast<std::size_t>(x)] = m;
  }
  std::vector<float> c(static_cast<std::size_t>(w));
  for (int x = 0; x < w; ++x) {
    double sum = 0;
    int n = 0;
    for (int k = std::max(0, x - reach); k <= std::min(w - 1, x + reach); ++k, ++n) sum += peak[static_cast<std::size_t>(k)];
    c[static_cast<std::size_t>(x)] = static_cast<float>(std::clamp(sum / n, 1.0, maxCompression));
  }
  return c;
}

}  // namespace

nlohmann::json OctFlattenOptions::toJson() const {
  return {{"band_height", bandHeight}, {"rpe_row", rpeRow}, {"axial_um", axialUm},
          {"lateral_um", lateralUm}, {"low_percentile", lowPercentile},
          {"high_percentile", highPercentile}, {"margin_above_ilm", marginAboveIlm},
          {"margin_below_rpe", marginBelowRpe}, {"field_mm", fieldMm},
          {"normalise_thickness", normaliseThickness}, {"max_compression", maxCompression}};
}

OctFlattenOptions OctFlattenOptions::fromJson(const nlohmann::json& j) {
  OctFlattenOptions o;
  o.bandHeight = j.value("band_height", o.bandHeight);
  o.rpeRow = j.value("rpe_row", o.rpeRow);
  o.axialUm = j.value("axial_um", o.axialUm);
  o.lateralUm = j.value("lateral_um", o.lateralUm);
  o.lowPercentile = j.value("low_percentile", o.lowPercentile);
  o.highPercentile = j.value("high_percentile", o.highPercentile);
  o.marginAboveIlm = j.value("margin_above_ilm", o.marginAboveIlm);
  o.marginBelowRpe = j.value("margin_below_rpe", o.marginBelowRpe);
  o.fieldMm = j.value("field_mm", o.fieldMm);
  o.normaliseThickness = j.value("normalise_thickness", o.normaliseThickness);
  o.maxCompression = j.value("max_compression", o.maxCompression);
  if (!(o.maxCompression >= 1.0 && o.maxCompression <= 16.0))
    throw Error("OCT preprocessing", "max_compression must be between 1 and 16");
  return o;
}

OctFlattened flattenOct(const Volume& volume, const OctFlattenOptions& options) {
  const std::string source = volume.metadata().sourcePath.empty() ? "OCT volume" : volume.metadata().sourcePath;
  if (volume.empty()) throw Error(source, "empty volume");
  if (options.bandHeight < 16 || options.rpeRow <= 0 || options.rpeRow >= options.bandHeight)
    throw Error(source, "flattening band: rpe_row must lie inside a band of at least 16 rows");
  if (!(options.fieldMm > 0) || !(options.lateralUm > 0) || !(options.axialUm > 0))
    throw Error(source, "flattening: field_mm, lateral_um and axial_um must be positive");
  const Size3 sz = volume.size();
  const int w = static_cast<int>(sz.x), h = static_cast<int>(sz.y), nz = static_cast<int>(sz.z);
  if (w < 8 || h < 16) throw Error(source, "B-scans of " + std::to_string(w) + "x" + std::to_string(h) + " are too small for OCT");

  std::vector<float> img(static_cast<std::size_t>(sz.count()), 0.f);
  visitVoxels(volume, [&](const auto* p, std::int64_t) {
    for (std::int64_t i = 0; i < sz.count(); ++i) img[static_cast<std::size_t>(i)] = static_cast<float>(p[i]);
  });
  for (float v : img)
    if (!std::isfinite(v)) throw Error(source, "NaN or infinite intensities");
  const std::size_t plane = static_cast<std::size_t>(w) * h;
  const std::vector<char> padding = paddingMask(img, w, h, nz);

  // Intensities to [0, 1] by robust percentiles of the whole volume (channel 0), padding and
  // saturated reflexes left out: a white wedge or a reflex streak would otherwise set the top
  // of the range and darken every retina.
  std::vector<char> usable(static_cast<std::size_t>(w) * nz, 1);  // per B-scan and column
  auto percentiles = [&](double& lo, double& hi) {
    std::vector<float> sample;
    const std::int64_t stride = std::max<std::int64_t>(1, sz.count() / 2000000);
    for (std::int64_t i = 0; i < sz.count(); i += stride) {
      const auto k = static_cast<std::size_t>(i);
      if (padding[k] || !usable[(k / plane) * w + k % w]) continue;
      sample.push_back(img[k]);
    }
    if (sample.size() < 64) throw Error(source, "no image: the B-scans are padding (a constant value) throughout");
    lo = percentileInPlace(sample, options.lowPercentile);
    hi = percentileInPlace(sample, options.highPercentile);
  };
  double lo = 0, hi = 0;
  percentiles(lo, hi);
  if (!(hi > lo)) throw Error(source, "no contrast: the volume is (nearly) constant");
  if (markSaturatedColumns(img, padding, w, h, nz, lo, hi, usable)) percentiles(lo, hi);
  if (!(hi > lo)) throw Error(source, "no contrast: the volume is (nearly) constant");
  for (std::size_t i = 0; i < img.size(); ++i)
    img[i] = padding[i] ? 0.f : static_cast<float>(std::clamp((img[i] - lo) / (hi - lo), 0.0, 1.0));

  OctFlattened out;
  out.options = options;
  out.original = sz;
  out.originalSpacing = volume.spacing();
  const bool known = spacingKnown(volume.spacing());
  out.spacingAssumed = !known;
  // Without spacing the axial pixel is taken to be the band's (the common 3.9 µm of 496-row
  // exports) and the B-scan to span fieldMm: one lateral scale whatever the column count.
  const double axialUmHere = known ? volume.spacing()[1] * 1000.0 : options.axialUm;
  const double lateralUmHere = known ? volume.spacing()[0] * 1000.0 : options.fieldMm * 1000.0 / w;
  out.axialScale = axialUmHere / options.axialUm;
  int bandWidth = static_cast<int>(std::lround(w * lateralUmHere / options.lateralUm));
  bandWidth = std::clamp(bandWidth, 16, 4 * w);
  const int bh = options.bandHeight;

  // Boundaries per B-scan; a B-scan where they cannot be found borrows its neighbour's while
  // most B-scans have theirs.
  out.rpe.resize(static_cast<std::size_t>(nz));
  out.ilm.resize(static_cast<std::size_t>(nz));
  std::vector<char> found(static_cast<std::size_t>(nz), 0);
  std::vector<std::string> why(static_cast<std::size_t>(nz));
  for (int z = 0; z < nz; ++z) {
    std::vector<float> b(img.begin() + static_cast<std::ptrdiff_t>(plane * z),
                         img.begin() + static_cast<std::ptrdiff_t>(plane * (z + 1)));
    const std::vector<char> cols(usable.begin() + static_cast<std::ptrdiff_t>(w) * z,
                                 usable.begin() + static_cast<std::ptrdiff_t>(w) * (z + 1));
    std::vector<char> searchable = cols;
    for (int x = 0; x < w; ++x) {  // a column mostly padding has no A-scan to search
      long pad = 0;
      for (int y = 0; y < h; ++y) pad += padding[plane * z + static_cast<std::size_t>(y) * w + x];
      if (pad * 2 > h) searchable[static_cast<std::size_t>(x)] = 0;
    }
    Boundaries bd = findBoundaries(std::move(b), h, w, axialUmHere, searchable);
    if (bd.found) {
      // The RPE must have tissue under it: a retina running off the image's bottom or into a
      // padding band has lost its RPE, and the deepest reflector left (the ellipsoid zone, the
      // OPL) would be flattened in its place.
      const int below = std::max(4, static_cast<int>(std::lround(40.0 / axialUmHere)));
      long cut = 0, nCols = 0;
      for (int x = 0; x < w; ++x) {
        if (!searchable[static_cast<std::size_t>(x)]) continue;
        ++nCols;
        const long r = std::lround(bd.rpe[static_cast<std::size_t>(x)]);
        bool lost = r + below > h - 1;
        for (long y = std::max(0L, r); y <= std::min<long>(h - 1, r + below) && !lost; ++y)
          lost = padding[plane * z + static_cast<std::size_t>(y) * w + x] != 0;
        cut += lost;
      }
      if (cut * 5 > nCols) {
        bd.found = false;
        bd.why = "the retina runs off the image or into padding below the RPE on " +
                 percentText(static_cast<double>(cut) / std::max(1L, nCols)) + " of the A-scans (cut off)";
      }
    }
    if (bd.found) {
      out.rpe[static_cast<std::size_t>(z)] = std::move(bd.rpe);
      out.ilm[static_cast<std::size_t>(z)] = std::move(bd.ilm);
      found[static_cast<std::size_t>(z)] = 1;
    } else {
      why[static_cast<std::size_t>(z)] = bd.why;
    }
  }
  const long nFound = std::count(found.begin(), found.end(), 1);
  if (nFound == 0 || nFound * 2 < nz) {
    std::string first;
    for (int z = 0; z < nz && first.empty(); ++z)
      if (!found[static_cast<std::size_t>(z)]) first = why[static_cast<std::size_t>(z)];
    if (nz == 1) throw Error(source, "cannot flatten the B-scan: " + first);
    throw Error(source, "cannot flatten: retinal boundaries found in " + std::to_string(nFound) + " of " + std::to_string(nz) +
                            " B-scans (first failure: " + first + ")");
  }
  for (int z = 0; z < nz; ++z) {
    if (found[static_cast<std::size_t>(z)]) continue;
    int nearest = -1;
    for (int d = 1; d < nz && nearest < 0; ++d) {
      if (z - d >= 0 && found[static_cast<std::size_t>(z - d)]) nearest = z - d;
      else if (z + d < nz && found[static_cast<std::size_t>(z + d)]) nearest = z + d;
    }
    out.rpe[static_cast<std::size_t>(z)] = out.rpe[static_cast<std::size_t>(nearest)];
    out.ilm[static_cast<std::size_t>(z)] = out.ilm[static_cast<std::size_t>(nearest)];
    out.warnings.push_back("B-scan " + std::to_string(z) + ": retinal boundaries not found (" + why[static_cast<std::size_t>(z)] +
                           "), using B-scan " + std::to_string(nearest) + "'s");
  }

  // Resample into the band; each band pixel averages the original pixels under its footprint
  // (anti-aliasing when the band is coarser than the scan). Band pixels over padding or off the
  // image are not retina: nothing there for a model to score.
  out.band = Volume(PixelType::Float32, {bandWidth, bh, nz}, 1);
  out.retina = Volume(PixelType::UInt8, {bandWidth, bh, nz}, 1);
  const double colStep = static_cast<double>(w) / bandWidth, rowStep = 1.0 / out.axialScale;
  const int kx = std::max(1, static_cast<int>(std::lround(colStep)));
  float* band = out.band.data<float>();
  std::uint8_t* retina = out.retina.data<std::uint8_t>();
  std::vector<float> notImage(plane);
  const double room = std::max(1, options.rpeRow - options.marginAboveIlm);
  out.compression.assign(static_cast<std::size_t>(nz), std::vector<float>(static_cast<std::size_t>(w), 1.f));
  // B-scans whose retina is taller than the band above the RPE: one warning for all of them
  // (a thick retina over fluid spans many neighbouring B-scans), numbered as the viewer shows.
  std::vector<int> thick;
  double thickest = 0, mostCompressed = 1;
  for (int z = 0; z < nz; ++z) {
    const float* src = img.data() + plane * z;
    for (std::size_t k = 0; k < plane; ++k) notImage[k] = padding[plane * z + k] ? 1.f : 0.f;
    const auto& rpe = out.rpe[static_cast<std::size_t>(z)];
    const auto& ilm = out.ilm[static_cast<std::size_t>(z)];
    auto& comp = out.compression[static_cast<std::size_t>(z)];
    if (options.normaliseThickness) comp = thicknessCompression(rpe, ilm, out.axialScale, room, options.maxCompression);
    long cutOff = 0;
    for (int u = 0; u < bandWidth; ++u) {
      const double xc = (u + 0.5) * colStep - 0.5;
      const double cAt = interpolate(comp, xc);
      const double tall = (interpolate(rpe, xc) - interpolate(ilm, xc)) * out.axialScale;
      const double ilmBand = options.rpeRow - tall / cAt;
      cutOff += options.normaliseThickness ? cAt > 1.0001 : ilmBand < 0;
      mostCompressed = std::max(mostCompressed, cAt);
      for (int b = 0; b < bh; ++b) {
        double acc = 0, off = 0;
        const int ky = std::max(1, static_cast<int>(std::lround(rowsPerBandRow(b, options.rpeRow, rowStep, cAt))));
        for (int i = 0; i < kx; ++i) {
          const double x = xc + ((i + 0.5) / kx - 0.5) * colStep;
          const double step = rowsPerBandRow(b, options.rpeRow, rowStep, interpolate(comp, x));
          const double y0 = interpolate(rpe, x) + (b - options.rpeRow) * step;
          for (int j = 0; j < ky; ++j) {
            const double y = y0 + ((j + 0.5) / ky - 0.5) * step;
            acc += bilinear(src, h, w, x, y, 0.f);
            off += bilinear(notImage.data(), h, w, x, y, 1.f);
          }
        }
        const std::size_t o = (static_cast<std::size_t>(z) * bh + b) * bandWidth + u;
        band[o] = static_cast<float>(2.0 * acc / (kx * ky) - 1.0);
        retina[o] = (b >= ilmBand - options.marginAboveIlm && b <= options.rpeRow + options.marginBelowRpe &&
                     off < 0.5 * kx * ky) ? 1 : 0;
      }
    }
    if (cutOff * 5 > bandWidth) {
      thick.push_back(z + 1);
      thickest = std::max(thickest, static_cast<double>(cutOff) / bandWidth);
    }
  }
  if (!thick.empty()) {
    std::string list;
    for (std::size_t i = 0; i < thick.size();) {
      std::size_t j = i;
      while (j + 1 < thick.size() && thick[j + 1] == thick[j] + 1) ++j;
      list += (list.empty() ? "" : ", ") + std::to_string(thick[i]) + (j > i ? "-" + std::to_string(thick[j]) : "");
      i = j + 1;
    }
    char factor[32];
    std::snprintf(factor, sizeof factor, "%.1f", mostCompressed);
    out.warnings.push_back((thick.size() == 1 ? "B-scan " : "B-scans ") + list + " of " + std::to_string(nz) +
                           ": the retina is thicker than the band above the RPE (on up to " + percentText(thickest) +
                           " of the width); " +
                           (options.normaliseThickness
                                ? "its thickness is normalised there (compressed up to " + std::string(factor) + "x)"
                                : std::string("the inner layers there are cut off")));
  }
  out.band.setSpacing({options.lateralUm / 1000.0, options.axialUm / 1000.0, volume.spacing()[2]});
  out.band.metadata() = volume.metadata();
  return out;
}

Volume unflattenOct(const OctFlattened& flat, const Volume& bandMap) {
  const Size3 bs = bandMap.size();
  if (bandMap.pixelType() != PixelType::Float32 || bs.z != flat.original.z || bs.y != flat.options.bandHeight)
    throw Error("unflatten", "the map does not have the band's geometry");
  const int w = static_cast<int>(flat.original.x), h = static_cast<int>(flat.original.y);
  const int bw = static_cast<int>(bs.x), bh = static_cast<int>(bs.y);
  Volume out(PixelType::Float32, flat.original, 1);
  out.setSpacing(flat.originalSpacing);
  float* dst = out.data<float>();
  const float* src = bandMap.data<float>();
  for (std::int64_t z = 0; z < flat.original.z; ++z) {
    const auto& rpe = flat.rpe[static_cast<std::size_t>(z)];
    const std::vector<float>* comp = flat.compression.size() > static_cast<std::size_t>(z) ? &flat.compression[static_cast<std::size_t>(z)] : nullptr;
    const float* plane = src + static_cast<std::size_t>(z) * bw * bh;
    for (int x = 0; x < w; ++x) {
      const double u = (x + 0.5) * bw / w - 0.5;
      const double c = comp ? (*comp)[static_cast<std::size_t>(x)] : 1.0;
      for (int y = 0; y < h; ++y) {
        const double above = y < rpe[static_cast<std::size_t>(x)] ? c : 1.0;  // the inverse of the flattening's compression
        const double b = (y - rpe[static_cast<std::size_t>(x)]) * flat.axialScale / above + flat.options.rpeRow;
        dst[(static_cast<std::size_t>(z) * h + y) * w + x] = bilinear(plane, bh, bw, u, b, 0.f);
      }
    }
  }
  return out;
}

Volume flattenOctLabels(const OctFlattened& flat, const Volume& labels) {
  if (!(labels.size() == flat.original)) throw Error("flatten labels", "the mask does not match the scan's size");
  const int w = static_cast<int>(flat.original.x), h = static_cast<int>(flat.original.y);
  const int bw = static_cast<int>(flat.band.size().x), bh = flat.options.bandHeight;
  Volume out(PixelType::UInt8, flat.band.size(), 1);
  std::uint8_t* dst = out.data<std::uint8_t>();
  const double colStep = static_cast<double>(w) / bw, rowStep = 1.0 / flat.axialScale;
  const int kx = std::max(1, static_cast<int>(std::lround(colStep)));
  const std::vector<float> none(static_cast<std::size_t>(w), 1.f);
  for (std::int64_t z = 0; z < flat.original.z; ++z) {
    const auto& rpe = flat.rpe[static_cast<std::size_t>(z)];
    const auto& comp = flat.compression.size() > static_cast<std::size_t>(z) ? flat.compression[static_cast<std::size_t>(z)] : none;
    for (int u = 0; u < bw; ++u) {
      const double xc = (u + 0.5) * colStep - 0.5;
      const double cAt = interpolate(comp, xc);
      for (int b = 0; b < bh; ++b) {
        double best = 0;  // a band pixel takes the largest label under its footprint
        const int ky = std::max(1, static_cast<int>(std::lround(rowsPerBandRow(b, flat.options.rpeRow, rowStep, cAt))));
        for (int i = 0; i < kx; ++i) {
          const long x = std::lround(xc + ((i + 0.5) / kx - 0.5) * colStep);
          if (x < 0 || x >= w) continue;
          const double step = rowsPerBandRow(b, flat.options.rpeRow, rowStep, comp[static_cast<std::size_t>(x)]);
          for (int j = 0; j < ky; ++j) {
            const long y = std::lround(rpe[static_cast<std::size_t>(x)] + (b - flat.options.rpeRow) * step +
                                       ((j + 0.5) / ky - 0.5) * step);
            if (y >= 0 && y < h) best = std::max(best, labels.value(x, y, z));
          }
        }
        dst[(static_cast<std::size_t>(z) * bh + b) * bw + u] = static_cast<std::uint8_t>(std::clamp(best, 0.0, 255.0));
      }
    }
  }
  return out;
}

}  // namespace al
