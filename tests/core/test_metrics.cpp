// al::eval against scikit-learn / numpy: tests/fixtures/metrics/sklearn_metrics.json holds their
// answers (made by make_metrics_fixture.py next to it), compared here to 1e-12 relative, curves
// point by point. Then what sklearn has no counterpart for: the bootstrap, errors, scale.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <iomanip>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "eval/Metrics.h"

#ifndef ANOMALYLENS_FIXTURES_DIR
#define ANOMALYLENS_FIXTURES_DIR "tests/fixtures"
#endif

using namespace al::eval;
using nlohmann::json;

namespace {

constexpr double kRelTol = 1e-12;
constexpr double kInf = std::numeric_limits<double>::infinity();

const json& fixture() {
  static const json data = [] {
    const std::string path = std::string(ANOMALYLENS_FIXTURES_DIR) + "/metrics/sklearn_metrics.json";
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open the metrics fixture " + path);
    return json::parse(in);
  }();
  return data;
}

// JSON has no infinity: the fixture writes it as the string "inf".
double number(const json& v) {
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s == "inf") return kInf;
    if (s == "-inf") return -kInf;
    throw std::runtime_error("unexpected string in the fixture: " + s);
  }
  return v.get<double>();
}

std::vector<double> numbers(const json& v) {
  std::vector<double> out;
  for (const auto& x : v) out.push_back(number(x));
  return out;
}

// Relative to the expected value; an expected 0 or inf must be met exactly.
::testing::AssertionResult near(double actual, double expected) {
  if (std::isinf(expected) || expected == 0.0) {
    if (actual == expected) return ::testing::AssertionSuccess();
  } else if (std::abs(actual - expected) <= kRelTol * std::abs(expected)) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << std::setprecision(17) << "actual " << actual
                                       << ", expected " << expected << " (relative tolerance "
                                       << kRelTol << ")";
}

struct Case {
  std::string name;
  std::vector<double> scores;
  std::vector<int> labels;
  const json* j;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  for (const auto& c : fixture().at("cases"))
    out.push_back({c.at("name").get<std::string>(), numbers(c.at("scores")),
                   c.at("labels").get<std::vector<int>>(), &c});
  return out;
}

}  // namespace

TEST(MetricsFixture, RecordsItsOrigin) {
  EXPECT_FALSE(fixture().at("sklearn_version").get<std::string>().empty());
  EXPECT_EQ(fixture().at("cases").size(), 6u);
}

TEST(MetricsFixture, RocCurveMatchesSklearnPointByPoint) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    const auto fpr = numbers(c.j->at("roc_fpr")), tpr = numbers(c.j->at("roc_tpr"));
    const auto thr = numbers(c.j->at("roc_thresholds"));
    const auto curve = rocCurve(c.scores, c.labels);
    ASSERT_EQ(curve.size(), fpr.size());
    EXPECT_EQ(curve.front().threshold, kInf);
    for (std::size_t i = 0; i < curve.size(); ++i) {
      SCOPED_TRACE("point " + std::to_string(i));
      EXPECT_TRUE(near(curve[i].threshold, thr[i]));
      EXPECT_TRUE(near(curve[i].fpr, fpr[i]));
      EXPECT_TRUE(near(curve[i].tpr, tpr[i]));
    }
  }
}

TEST(MetricsFixture, AucMatchesRocAucScore) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    EXPECT_TRUE(near(auc(c.scores, c.labels), c.j->at("roc_auc").get<double>()));
  }
}

TEST(MetricsFixture, PrCurveMatchesSklearnPointByPoint) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    const auto precision = numbers(c.j->at("precision")), recall = numbers(c.j->at("recall"));
    const auto thr = numbers(c.j->at("pr_thresholds"));
    const auto curve = prCurve(c.scores, c.labels);
    ASSERT_EQ(curve.size(), precision.size());
    ASSERT_EQ(thr.size() + 1, curve.size());  // sklearn's closing point has no threshold
    EXPECT_EQ(curve.back().threshold, kInf);
    for (std::size_t i = 0; i < curve.size(); ++i) {
      SCOPED_TRACE("point " + std::to_string(i));
      if (i < thr.size()) {
        EXPECT_TRUE(near(curve[i].threshold, thr[i]));
      }
      EXPECT_TRUE(near(curve[i].precision, precision[i]));
      EXPECT_TRUE(near(curve[i].recall, recall[i]));
    }
  }
}

TEST(MetricsFixture, AveragePrecisionMatchesSklearn) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    EXPECT_TRUE(near(averagePrecision(c.scores, c.labels), c.j->at("average_precision").get<double>()));
  }
}

TEST(MetricsFixture, ConfusionAtThresholdMatchesSklearn) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    const Confusion m = confusionAt(c.scores, c.labels, c.j->at("threshold").get<double>());
    const json& e = c.j->at("confusion");
    EXPECT_EQ(m.tp, e.at("tp").get<long>());
    EXPECT_EQ(m.fp, e.at("fp").get<long>());
    EXPECT_EQ(m.tn, e.at("tn").get<long>());
    EXPECT_EQ(m.fn, e.at("fn").get<long>());
    EXPECT_TRUE(near(m.precision(), c.j->at("precision_at").get<double>()));
    EXPECT_TRUE(near(m.sensitivity(), c.j->at("recall_at").get<double>()));
    EXPECT_TRUE(near(m.f1(), c.j->at("f1_at").get<double>()));
    EXPECT_TRUE(near(m.accuracy(), c.j->at("accuracy_at").get<double>()));
    EXPECT_TRUE(near(m.specificity(), c.j->at("specificity_at").get<double>()));
  }
}

TEST(MetricsFixture, OperatingThresholdsMatchTheFixture) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    EXPECT_TRUE(near(youdenThreshold(c.scores, c.labels), c.j->at("youden_threshold").get<double>()));
    EXPECT_TRUE(near(bestF1Threshold(c.scores, c.labels), c.j->at("best_f1_threshold").get<double>()));
    for (const auto& [target, expected] : c.j->at("sensitivity_thresholds").items()) {
      SCOPED_TRACE("target sensitivity " + target);
      EXPECT_TRUE(near(thresholdForSensitivity(c.scores, c.labels, std::stod(target)),
                       expected.get<double>()));
    }
  }
}

TEST(MetricsFixture, PercentileMatchesNumpy) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    EXPECT_TRUE(near(percentile(c.scores, 50), c.j->at("percentile_50").get<double>()));
    EXPECT_TRUE(near(percentile(c.scores, 99), c.j->at("percentile_99").get<double>()));
  }
}

TEST(MetricsFixture, PixelAucAndDiceMatchSklearn) {
  const json& p = fixture().at("pixel");
  std::vector<float> scores;
  for (double v : numbers(p.at("scores"))) scores.push_back(static_cast<float>(v));
  const auto labels = p.at("labels").get<std::vector<std::uint8_t>>();
  const auto valid = p.at("valid").get<std::vector<std::uint8_t>>();
  ASSERT_EQ(scores.size(),
            static_cast<std::size_t>(p.at("width").get<int>() * p.at("height").get<int>()));

  EXPECT_TRUE(near(pixelAuc(scores, labels, valid), p.at("auc").get<double>()));
  EXPECT_TRUE(near(pixelAuc(scores, labels, {}), p.at("auc_all_pixels").get<double>()));

  const float t = static_cast<float>(p.at("dice_threshold").get<double>());
  std::vector<std::uint8_t> predicted(scores.size());
  for (std::size_t i = 0; i < scores.size(); ++i) predicted[i] = scores[i] >= t;
  EXPECT_TRUE(near(dice(predicted, labels, valid), p.at("dice").get<double>()));
}

TEST(Metrics, PixelAucEqualsCaseAucOnTheSameData) {
  const json& p = fixture().at("pixel");
  std::vector<float> scores;
  for (double v : numbers(p.at("scores"))) scores.push_back(static_cast<float>(v));
  const auto labels = p.at("labels").get<std::vector<std::uint8_t>>();
  const auto valid = p.at("valid").get<std::vector<std::uint8_t>>();
  std::vector<double> s;
  std::vector<int> y;
  for (std::size_t i = 0; i < scores.size(); ++i)
    if (valid[i]) {
      s.push_back(scores[i]);
      y.push_back(labels[i] ? 1 : 0);
    }
  // Both count 2U in integers and divide once, so they agree exactly, not just closely.
  EXPECT_EQ(pixelAuc(scores, labels, valid), auc(s, y));
}

TEST(Metrics, TiesCountHalf) {
  EXPECT_EQ(auc({1.0, 1.0}, {0, 1}), 0.5);
  EXPECT_EQ(auc({0.0, 1.0, 1.0, 2.0}, {0, 0, 1, 1}), 0.875);
  // -0 and +0 are the same score.
  EXPECT_EQ(pixelAuc({-0.0f, 0.0f}, {0, 1}, {}), 0.5);
  EXPECT_EQ(rocCurve({-0.0, 0.0}, {0, 1}).size(), 2u);
}

TEST(Metrics, ZeroDivisionGivesZero) {
  const std::vector<double> s{0.1, 0.2, 0.3};
  const std::vector<int> y{0, 1, 1};
  const Confusion none = confusionAt(s, y, 5.0);  // nothing predicted abnormal
  EXPECT_EQ(none.tp + none.fp, 0);
  EXPECT_EQ(none.precision(), 0.0);
  EXPECT_EQ(none.f1(), 0.0);
  EXPECT_EQ(none.sensitivity(), 0.0);
  EXPECT_EQ(none.specificity(), 1.0);
  EXPECT_EQ(Confusion{}.accuracy(), 0.0);
  EXPECT_EQ(Confusion{}.specificity(), 0.0);
  // The boundary: a score equal to the threshold is flagged.
  EXPECT_EQ(confusionAt(s, y, 0.2).tp, 2);
}

TEST(Metrics, PercentileMatchesNumpyByHand) {
  EXPECT_EQ(percentile({4, 1, 3, 2}, 50), 2.5);
  EXPECT_EQ(percentile({4, 1, 3, 2}, 0), 1.0);
  EXPECT_EQ(percentile({4, 1, 3, 2}, 100), 4.0);
  EXPECT_EQ(percentile({7}, 37), 7.0);
  EXPECT_DOUBLE_EQ(percentile({0, 10}, 25), 2.5);
  EXPECT_THROW(percentile({1, 2}, 101), std::invalid_argument);
  EXPECT_THROW(percentile({}, 50), std::invalid_argument);
}

TEST(Metrics, DiceEdgeCases) {
  EXPECT_EQ(dice({0, 0}, {0, 0}, {}), 1.0);
  EXPECT_EQ(dice({1, 0}, {0, 1}, {}), 0.0);
  EXPECT_EQ(dice({1, 1, 0}, {1, 0, 0}, {}), 2.0 / 3.0);
  EXPECT_EQ(dice({1, 1, 0}, {1, 0, 0}, {1, 0, 1}), 1.0);  // the disagreement is outside `valid`
  EXPECT_THROW(dice({1}, {1, 0}, {}), std::invalid_argument);
}

TEST(Metrics, ErrorsNameTheReason) {
  auto message = [](auto&& call) -> std::string {
    try {
      call();
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "(no exception)";
  };
  EXPECT_NE(message([] { auc({0.1, 0.2, 0.3}, {1, 1, 1}); }).find("one class"), std::string::npos);
  EXPECT_NE(message([] { auc({0.1, NAN, 0.3}, {0, 1, 1}); }).find("NaN"), std::string::npos);
  EXPECT_NE(message([] { auc({0.1, 0.2}, {0, 1, 1}); }).find("size"), std::string::npos);
  EXPECT_NE(message([] { auc({0.1, 0.2}, {0, 2}); }).find("label"), std::string::npos);
  EXPECT_NE(message([] { pixelAuc({0.1f, 0.2f}, {1, 1}, {}); }).find("one class"), std::string::npos);
  EXPECT_NE(message([] { pixelAuc({0.1f, NAN}, {0, 1}, {}); }).find("NaN"), std::string::npos);
  EXPECT_THROW(rocCurve({0.1, 0.2}, {0, 0}), std::invalid_argument);
  EXPECT_THROW(averagePrecision({0.1, 0.2}, {0, 0}), std::invalid_argument);
  EXPECT_THROW(thresholdForSensitivity({0.1, 0.2}, {0, 1}, 1.5), std::invalid_argument);
  EXPECT_THROW(confusionAt({0.1}, {1}, NAN), std::invalid_argument);
  // A NaN outside the valid mask is not counted, so it is not an error.
  EXPECT_EQ(pixelAuc({0.1f, NAN, 0.9f}, {0, 1, 1}, {1, 0, 1}), 1.0);
}

namespace {

// Cases whose scores separate the classes moderately (AUC around 0.76).
void makeCases(int n, std::uint64_t seed, std::vector<double>& s, std::vector<int>& y) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise;
  s.clear();
  y.clear();
  for (int i = 0; i < n; ++i) {
    y.push_back(i % 3 == 0);
    s.push_back(noise(rng) + (y.back() ? 1.0 : 0.0));
  }
}

}  // namespace

TEST(Metrics, BootstrapCiContainsTheEstimateAndNarrowsWithN) {
  std::vector<double> s;
  std::vector<int> y;
  makeCases(50, 7, s, y);
  const Interval small = bootstrapCi(s, y, auc);
  makeCases(2000, 7, s, y);
  const Interval large = bootstrapCi(s, y, auc);
  for (const Interval& ci : {small, large}) {
    EXPECT_LE(ci.low, ci.value);
    EXPECT_GE(ci.high, ci.value);
    EXPECT_LT(ci.low, ci.high);
  }
  EXPECT_LT(large.high - large.low, small.high - small.low);
}

TEST(Metrics, BootstrapIsDeterministicForASeedAndStratified) {
  std::vector<double> s;
  std::vector<int> y;
  makeCases(60, 3, s, y);
  const int positives = static_cast<int>(std::count(y.begin(), y.end(), 1));
  const Interval a = bootstrapCi(s, y, averagePrecision, 200, 42);
  const Interval b = bootstrapCi(s, y, averagePrecision, 200, 42);
  EXPECT_EQ(a.value, b.value);
  EXPECT_EQ(a.low, b.low);
  EXPECT_EQ(a.high, b.high);
  const Interval c = bootstrapCi(s, y, averagePrecision, 200, 43);
  EXPECT_TRUE(a.low != c.low || a.high != c.high);

  int replicates = 0;
  bootstrapCi(s, y,
              [&](const std::vector<double>& rs, const std::vector<int>& ry) {
                ++replicates;
                EXPECT_EQ(rs.size(), s.size());
                EXPECT_EQ(std::count(ry.begin(), ry.end(), 1), positives);
                return 0.0;
              },
              25, 1);
  EXPECT_EQ(replicates, 26);  // the point estimate and 25 resamples
}

TEST(Metrics, PixelAucOnFiveMillionPixels) {
  // Scores on a grid of 1000 exactly representable values (negatives and both zeros included) so
  // the expected AUC can be counted independently with a histogram.
  const std::size_t n = 5'000'000;
  std::vector<float> scores(n);
  std::vector<std::uint8_t> labels(n), valid(n);
  std::mt19937_64 rng(11);
  std::vector<std::uint64_t> pos(1000), neg(1000);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t r = rng();
    const bool abnormal = (r & 15) == 0;
    int bin = static_cast<int>((r >> 8) % 700) + (abnormal ? 300 : 0);
    scores[i] = bin == 500 && (r & 16) ? -0.0f : static_cast<float>(bin - 500) / 8.0f;
    labels[i] = abnormal ? 255 : 0;
    valid[i] = (r >> 40) % 10 != 0;
    if (valid[i]) (abnormal ? pos : neg)[bin]++;
  }
  double twiceU = 0, below = 0, p = 0, q = 0;
  for (int b = 0; b < 1000; ++b) {
    twiceU += static_cast<double>(pos[b]) * (2 * below + static_cast<double>(neg[b]));
    below += static_cast<double>(neg[b]);
    p += static_cast<double>(pos[b]);
    q += static_cast<double>(neg[b]);
  }
  const double expected = twiceU / (2.0 * p * q);
  EXPECT_TRUE(near(pixelAuc(scores, labels, valid), expected));
}
