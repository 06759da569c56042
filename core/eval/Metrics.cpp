#include "eval/Metrics.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>

namespace al::eval {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

[[noreturn]] void fail(const char* fn, const std::string& reason) {
  throw std::invalid_argument(std::string(fn) + ": " + reason);
}

// The checks every case-level metric shares. Counts the classes on the way.
void validateCases(const char* fn, const std::vector<double>& scores, const std::vector<int>& labels,
                   std::int64_t* positives = nullptr, std::int64_t* negatives = nullptr) {
  if (scores.size() != labels.size())
    fail(fn, "scores and labels differ in size (" + std::to_string(scores.size()) + " scores, " +
                 std::to_string(labels.size()) + " labels)");
  if (scores.empty()) fail(fn, "no cases");
  std::int64_t p = 0;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    if (std::isnan(scores[i])) fail(fn, "score " + std::to_string(i) + " is NaN");
    if (labels[i] != 0 && labels[i] != 1)
      fail(fn, "label " + std::to_string(i) + " is " + std::to_string(labels[i]) +
                   "; labels must be 0 (normal) or 1 (abnormal)");
    p += labels[i];
  }
  if (positives) *positives = p;
  if (negatives) *negatives = static_cast<std::int64_t>(scores.size()) - p;
}

std::string classCounts(std::int64_t p, std::int64_t n) {
  return "(" + std::to_string(p) + " positives, " + std::to_string(n) + " negatives)";
}

void requireBothClasses(const char* fn, std::int64_t p, std::int64_t n) {
  if (p == 0 || n == 0)
    fail(fn, "only one class present " + classCounts(p, n) + "; it needs both");
}

void requirePositives(const char* fn, std::int64_t p, std::int64_t n) {
  if (p == 0) fail(fn, "no positive (label 1) cases " + classCounts(p, n) + "; it needs one");
}

// Cumulative counts at each distinct score, highest score first: flagging score >= thresholds[i]
// gives tp[i] true and fp[i] false positives. Everything curve-shaped is read off this.
struct Counts {
  std::vector<double> thresholds;
  std::vector<std::int64_t> tp, fp;
  std::int64_t positives = 0, negatives = 0;
};

Counts countsByThreshold(const char* fn, const std::vector<double>& scores,
                         const std::vector<int>& labels) {
  Counts c;
  validateCases(fn, scores, labels, &c.positives, &c.negatives);
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
  std::int64_t tp = 0, fp = 0;
  for (std::size_t i = 0; i < order.size(); ++i) {
    const std::size_t k = order[i];
    tp += labels[k];
    fp += 1 - labels[k];
    // One point per distinct score: the group ends where the next score differs (== also merges
    // -0.0 and +0.0, as numpy's diff does).
    if (i + 1 == order.size() || scores[order[i + 1]] != scores[k]) {
      c.thresholds.push_back(scores[k]);
      c.tp.push_back(tp);
      c.fp.push_back(fp);
    }
  }
  return c;
}

// Twice the Mann-Whitney U over positives * negatives, from the cumulative counts: the trapezoid
// rule on the integer ROC. Kept in integers so auc() and pixelAuc() agree to the last bit.
double aucFromCounts(const Counts& c) {
  std::uint64_t twiceArea = 0;
  std::int64_t prevTp = 0, prevFp = 0;
  for (std::size_t i = 0; i < c.tp.size(); ++i) {
    twiceArea += static_cast<std::uint64_t>(c.fp[i] - prevFp) *
                 static_cast<std::uint64_t>(c.tp[i] + prevTp);
    prevTp = c.tp[i];
    prevFp = c.fp[i];
  }
  return static_cast<double>(twiceArea) /
         (2.0 * static_cast<double>(c.positives) * static_cast<double>(c.negatives));
}

double ratio(std::int64_t num, std::int64_t den) {
  return den == 0 ? 0.0 : static_cast<double>(num) / static_cast<double>(den);
}

// An unbiased draw in [0, n): rejecting the 2^64 mod n lowest outputs leaves a multiple of n
// values. Written out because std::uniform_int_distribution differs between standard libraries,
// and the bootstrap must give the same interval for a seed everywhere.
std::size_t drawBelow(std::mt19937_64& rng, std::size_t n) {
  const std::uint64_t bound = static_cast<std::uint64_t>(n);
  const std::uint64_t reject = (0 - bound) % bound;
  for (;;) {
    const std::uint64_t x = rng();
    if (x >= reject) return static_cast<std::size_t>(x % bound);
  }
}

// A float's bits rearranged so that unsigned order is numeric order (negatives flipped, positives
// above them). -0 is folded into +0 first since they are the same score.
std::uint32_t orderedKey(float f) {
  if (f == 0.0f) f = 0.0f;
  std::uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

// LSD radix sort, 3 passes of 11 bits: linear time, which matters at ~20 million pixels where
// std::sort's log factor costs a second or more.
void radixSort(std::vector<std::uint32_t>& keys) {
  constexpr int kBits = 11;
  constexpr std::size_t kBuckets = std::size_t{1} << kBits;
  std::vector<std::uint32_t> scratch(keys.size());
  for (int shift = 0; shift < 32; shift += kBits) {
    std::array<std::size_t, kBuckets> count{};
    for (std::uint32_t k : keys) ++count[(k >> shift) & (kBuckets - 1)];
    // A pass where every key has the same digit would only copy.
    if (std::any_of(count.begin(), count.end(), [&](std::size_t n) { return n == keys.size(); }))
      continue;
    std::size_t sum = 0;
    for (std::size_t& n : count) {
      const std::size_t here = n;
      n = sum;
      sum += here;
    }
    for (std::uint32_t k : keys) scratch[count[(k >> shift) & (kBuckets - 1)]++] = k;
    keys.swap(scratch);
  }
}

}  // namespace

std::vector<RocPoint> rocCurve(const std::vector<double>& scores, const std::vector<int>& labels) {
  const Counts c = countsByThreshold("rocCurve", scores, labels);
  requireBothClasses("rocCurve", c.positives, c.negatives);
  std::vector<RocPoint> curve;
  curve.reserve(c.thresholds.size() + 1);
  curve.push_back({kInf, 0.0, 0.0});
  const double p = static_cast<double>(c.positives), n = static_cast<double>(c.negatives);
  for (std::size_t i = 0; i < c.thresholds.size(); ++i)
    curve.push_back({c.thresholds[i], static_cast<double>(c.fp[i]) / n,
                     static_cast<double>(c.tp[i]) / p});
  return curve;
}

double auc(const std::vector<double>& scores, const std::vector<int>& labels) {
  const Counts c = countsByThreshold("auc", scores, labels);
  requireBothClasses("auc", c.positives, c.negatives);
  return aucFromCounts(c);
}

std::vector<PrPoint> prCurve(const std::vector<double>& scores, const std::vector<int>& labels) {
  const Counts c = countsByThreshold("prCurve", scores, labels);
  requirePositives("prCurve", c.positives, c.negatives);
  std::vector<PrPoint> curve;
  curve.reserve(c.thresholds.size() + 1);
  for (std::size_t i = c.thresholds.size(); i-- > 0;)
    curve.push_back({c.thresholds[i], ratio(c.tp[i], c.tp[i] + c.fp[i]),
                     ratio(c.tp[i], c.positives)});
  curve.push_back({kInf, 1.0, 0.0});
  return curve;
}

double averagePrecision(const std::vector<double>& scores, const std::vector<int>& labels) {
  const Counts c = countsByThreshold("averagePrecision", scores, labels);
  requirePositives("averagePrecision", c.positives, c.negatives);
  // Precision at each threshold weighted by the recall it adds; the same float operations as
  // sklearn's -sum(diff(recall) * precision[:-1]) so the two agree to rounding.
  double ap = 0.0, prevRecall = 0.0;
  for (std::size_t i = 0; i < c.thresholds.size(); ++i) {
    const double recall = ratio(c.tp[i], c.positives);
    ap += (recall - prevRecall) * ratio(c.tp[i], c.tp[i] + c.fp[i]);
    prevRecall = recall;
  }
  return ap;
}

double Confusion::sensitivity() const { return ratio(tp, tp + fn); }
double Confusion::specificity() const { return ratio(tn, tn + fp); }
double Confusion::precision() const { return ratio(tp, tp + fp); }
double Confusion::f1() const { return ratio(2 * tp, 2 * tp + fp + fn); }
double Confusion::accuracy() const { return ratio(tp + tn, tp + fp + tn + fn); }

Confusion confusionAt(const std::vector<double>& scores, const std::vector<int>& labels,
                      double threshold) {
  validateCases("confusionAt", scores, labels);
  if (std::isnan(threshold)) fail("confusionAt", "threshold is NaN");
  Confusion c;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    const bool flagged = scores[i] >= threshold;
    if (labels[i] == 1)
      (flagged ? c.tp : c.fn)++;
    else
      (flagged ? c.fp : c.tn)++;
  }
  return c;
}

double youdenThreshold(const std::vector<double>& scores, const std::vector<int>& labels) {
  const Counts c = countsByThreshold("youdenThreshold", scores, labels);
  requireBothClasses("youdenThreshold", c.positives, c.negatives);
  // J * P * N = tp * N - fp * P, compared in integers so that two operating points with the same
  // J are a tie (first wins) rather than whichever tpr - fpr happened to round higher.
  std::int64_t best = 0;  // the +inf point, flagging nothing
  std::size_t bestIndex = 0;
  for (std::size_t i = 0; i < c.thresholds.size(); ++i) {
    const std::int64_t j = c.tp[i] * c.negatives - c.fp[i] * c.positives;
    if (j > best) {
      best = j;
      bestIndex = i;
    }
  }
  return c.thresholds[bestIndex];  // index 0 also covers "nothing beats +inf": the highest score
}

double thresholdForSensitivity(const std::vector<double>& scores, const std::vector<int>& labels,
                               double targetSensitivity) {
  if (!(targetSensitivity >= 0.0 && targetSensitivity <= 1.0))
    fail("thresholdForSensitivity",
         "target sensitivity " + std::to_string(targetSensitivity) + " is not in [0, 1]");
  const Counts c = countsByThreshold("thresholdForSensitivity", scores, labels);
  requirePositives("thresholdForSensitivity", c.positives, c.negatives);
  // Sensitivity as a double, compared like the caller's own tp / P would be: tp * target could
  // round 0.8 * 15 just above 12 and miss the threshold that reaches exactly 80 %.
  for (std::size_t i = 0; i < c.thresholds.size(); ++i)
    if (ratio(c.tp[i], c.positives) >= targetSensitivity) return c.thresholds[i];
  return c.thresholds.back();  // unreachable: the lowest score flags every positive
}

double bestF1Threshold(const std::vector<double>& scores, const std::vector<int>& labels) {
  const Counts c = countsByThreshold("bestF1Threshold", scores, labels);
  requirePositives("bestF1Threshold", c.positives, c.negatives);
  // F1 = 2tp / (2tp + fp + fn) with fn = P - tp: one correctly rounded division of integers, so
  // equal F1s are equal doubles and the first (highest) threshold keeps the tie.
  double best = -1.0;
  std::size_t bestIndex = 0;
  for (std::size_t i = 0; i < c.thresholds.size(); ++i) {
    const double f1 = ratio(2 * c.tp[i], c.tp[i] + c.fp[i] + c.positives);
    if (f1 > best) {
      best = f1;
      bestIndex = i;
    }
  }
  return c.thresholds[bestIndex];
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) fail("percentile", "no values");
  if (!(p >= 0.0 && p <= 100.0)) fail("percentile", "p = " + std::to_string(p) + " is not in [0, 100]");
  for (std::size_t i = 0; i < values.size(); ++i)
    if (std::isnan(values[i])) fail("percentile", "value " + std::to_string(i) + " is NaN");
  // numpy's "linear" method step for step: virtual index (n - 1) * q, then its _lerp, which
  // interpolates from the nearer end so that gamma = 1 gives b exactly.
  const double q = p / 100.0;
  const double index = static_cast<double>(values.size() - 1) * q;
  const std::size_t lo = static_cast<std::size_t>(std::floor(index));
  const std::size_t hi = std::min(lo + 1, values.size() - 1);
  const double gamma = index - static_cast<double>(lo);
  // Selection, not a sort: the value at lo, then the smallest of what nth_element left above it.
  const auto at = [&](std::size_t i) { return values.begin() + static_cast<std::ptrdiff_t>(i); };
  std::nth_element(values.begin(), at(lo), values.end());
  const double a = values[lo];
  const double b = hi == lo ? a : *std::min_element(at(hi), values.end());
  const double diff = b - a;
  return gamma >= 0.5 ? b - diff * (1.0 - gamma) : a + diff * gamma;
}

double pixelAuc(const std::vector<float>& scores, const std::vector<std::uint8_t>& labels,
                const std::vector<std::uint8_t>& valid) {
  if (labels.size() != scores.size())
    fail("pixelAuc", "scores and labels differ in size (" + std::to_string(scores.size()) +
                         " scores, " + std::to_string(labels.size()) + " labels)");
  if (!valid.empty() && valid.size() != scores.size())
    fail("pixelAuc", "the valid mask has " + std::to_string(valid.size()) + " pixels, the scores " +
                         std::to_string(scores.size()));
  const bool all = valid.empty();
  std::size_t positives = 0, negatives = 0;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    if (!all && !valid[i]) continue;
    if (std::isnan(scores[i])) fail("pixelAuc", "score of pixel " + std::to_string(i) + " is NaN");
    (labels[i] ? positives : negatives)++;
  }
  requireBothClasses("pixelAuc", static_cast<std::int64_t>(positives),
                     static_cast<std::int64_t>(negatives));

  // Each class sorted on its own: AUC only needs, for each positive, how many negatives score
  // below it and how many tie, and a merge of two sorted runs answers that without carrying a
  // label next to every score.
  std::vector<std::uint32_t> pos, neg;
  pos.reserve(positives);
  neg.reserve(negatives);
  for (std::size_t i = 0; i < scores.size(); ++i) {
    if (!all && !valid[i]) continue;
    (labels[i] ? pos : neg).push_back(orderedKey(scores[i]));
  }
  radixSort(pos);
  radixSort(neg);

  std::uint64_t twiceU = 0;  // 2 * (pairs ranked right + half the ties): exact in integers
  std::size_t below = 0;
  for (std::size_t i = 0; i < pos.size();) {
    const std::uint32_t v = pos[i];
    std::size_t group = 0;
    for (; i < pos.size() && pos[i] == v; ++i) ++group;
    while (below < neg.size() && neg[below] < v) ++below;
    std::size_t tiedEnd = below;
    while (tiedEnd < neg.size() && neg[tiedEnd] == v) ++tiedEnd;
    twiceU += static_cast<std::uint64_t>(group) * (2 * below + (tiedEnd - below));
  }
  return static_cast<double>(twiceU) /
         (2.0 * static_cast<double>(positives) * static_cast<double>(negatives));
}

double dice(const std::vector<std::uint8_t>& predicted, const std::vector<std::uint8_t>& truth,
            const std::vector<std::uint8_t>& valid) {
  if (predicted.size() != truth.size())
    fail("dice", "predicted and truth differ in size (" + std::to_string(predicted.size()) +
                     " and " + std::to_string(truth.size()) + " pixels)");
  if (!valid.empty() && valid.size() != truth.size())
    fail("dice", "the valid mask has " + std::to_string(valid.size()) + " pixels, the masks " +
                     std::to_string(truth.size()));
  std::size_t both = 0, nPredicted = 0, nTruth = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) {
    if (!valid.empty() && !valid[i]) continue;
    const bool p = predicted[i] != 0, t = truth[i] != 0;
    both += p && t;
    nPredicted += p;
    nTruth += t;
  }
  if (nPredicted + nTruth == 0) return 1.0;
  return 2.0 * static_cast<double>(both) / static_cast<double>(nPredicted + nTruth);
}

Interval bootstrapCi(const std::vector<double>& scores, const std::vector<int>& labels,
                     const Metric& metric, int replicates, std::uint64_t seed, double level) {
  std::int64_t p = 0, n = 0;
  validateCases("bootstrapCi", scores, labels, &p, &n);
  requireBothClasses("bootstrapCi", p, n);
  if (!metric) fail("bootstrapCi", "no metric given");
  if (replicates < 1) fail("bootstrapCi", "replicates = " + std::to_string(replicates) + "; needs >= 1");
  if (!(level > 0.0 && level < 1.0))
    fail("bootstrapCi", "level = " + std::to_string(level) + " is not in (0, 1)");

  std::vector<std::size_t> positives, negatives;
  for (std::size_t i = 0; i < labels.size(); ++i) (labels[i] ? positives : negatives).push_back(i);

  Interval out{metric(scores, labels), 0.0, 0.0};
  std::mt19937_64 rng(seed);
  std::vector<double> values(static_cast<std::size_t>(replicates));
  std::vector<double> s(scores.size());
  std::vector<int> y(labels.size());
  for (double& value : values) {
    std::size_t k = 0;
    for (const auto* group : {&positives, &negatives})
      for (std::size_t draw = 0; draw < group->size(); ++draw, ++k) {
        const std::size_t i = (*group)[drawBelow(rng, group->size())];
        s[k] = scores[i];
        y[k] = labels[i];
      }
    value = metric(s, y);
  }
  const double low = (1.0 - level) / 2.0 * 100.0, high = (1.0 + level) / 2.0 * 100.0;
  out.low = percentile(values, low);
  out.high = percentile(std::move(values), high);
  return out;
}

}  // namespace al::eval
