#pragma once
// Evaluation metrics for anomaly scores: ROC/PR curves, AUC, confusion-matrix rates, operating
// thresholds, pixel-level AUC and Dice, percentiles and bootstrap confidence intervals.
//
// Conventions (chosen to agree with scikit-learn / numpy, which the tests check against a fixture
// in tests/fixtures/metrics made by scikit-learn):
//  * Label 1 is positive (abnormal), 0 negative; any other int label is rejected rather than
//    guessed at (a -1/1 or 1/2 encoding would otherwise silently turn into nonsense). Pixel labels
//    and masks are bytes where nonzero means set.
//  * A higher score means more abnormal; a case is predicted abnormal when score >= threshold.
//  * Ties: cases with equal scores are decided together, so curves have one point per distinct
//    score and AUC counts a tied positive/negative pair as 1/2 (the Mann-Whitney statistic).
//  * Zero division: a rate whose denominator is 0 is 0 (sklearn's zero_division=0), e.g. the
//    precision of a threshold above every score.
//  * Curves run like sklearn's: rocCurve from threshold +inf (point (0,0)) down to the lowest
//    score; prCurve with thresholds ascending and a closing point (precision 1, recall 0) whose
//    threshold is +inf. sklearn < 1.3 puts max(score) + 1 rather than +inf on the ROC's first
//    point; +inf says what it means (nothing is predicted abnormal) whatever the scores' scale.
//  * Thresholds returned by youdenThreshold, thresholdForSensitivity and bestF1Threshold are
//    always one of the scores (never +inf), and ties between equally good operating points go to
//    the highest threshold, i.e. the fewest cases flagged.
//  * A NaN score is an error, not a case to skip: it usually means a broken model output, and
//    sorting with NaNs would give an arbitrary answer.
// Invalid input (mismatched sizes, NaN, a curve that needs a class that is absent) throws
// std::invalid_argument with the reason.

#include <cstdint>
#include <functional>
#include <vector>

namespace al::eval {

struct RocPoint {
  double threshold;
  double fpr;
  double tpr;
};

// sklearn.metrics.roc_curve(drop_intermediate=False). Needs both classes.
std::vector<RocPoint> rocCurve(const std::vector<double>& scores, const std::vector<int>& labels);

// sklearn.metrics.roc_auc_score. Needs both classes.
double auc(const std::vector<double>& scores, const std::vector<int>& labels);

struct PrPoint {
  double threshold;
  double precision;
  double recall;
};

// sklearn.metrics.precision_recall_curve: one point per distinct score, thresholds ascending, then
// the closing point {+inf, 1, 0}. Needs at least one positive.
std::vector<PrPoint> prCurve(const std::vector<double>& scores, const std::vector<int>& labels);

// sklearn.metrics.average_precision_score (the step sum, not the trapezoid). Needs a positive.
double averagePrecision(const std::vector<double>& scores, const std::vector<int>& labels);

struct Confusion {
  long tp = 0, fp = 0, tn = 0, fn = 0;
  double sensitivity() const;  // recall, true positive rate
  double specificity() const;  // true negative rate
  double precision() const;
  double f1() const;
  double accuracy() const;
};

// Predicted abnormal when score >= threshold.
Confusion confusionAt(const std::vector<double>& scores, const std::vector<int>& labels,
                      double threshold);

// The score maximising Youden's J = sensitivity + specificity - 1 (= tpr - fpr). When no
// threshold beats flagging nothing (J <= 0 everywhere, e.g. inverted scores) it is the highest
// score. Needs both classes.
double youdenThreshold(const std::vector<double>& scores, const std::vector<int>& labels);

// The highest score t such that flagging score >= t reaches `targetSensitivity` (in [0, 1]).
// Needs at least one positive.
double thresholdForSensitivity(const std::vector<double>& scores, const std::vector<int>& labels,
                               double targetSensitivity);

// The score maximising F1 of flagging score >= t. Needs at least one positive.
double bestF1Threshold(const std::vector<double>& scores, const std::vector<int>& labels);

// numpy.percentile(values, p) with the default linear interpolation; p in [0, 100].
double percentile(std::vector<double> values, double p);

// Pixel level: scores/labels are flattened images of the same size; `valid` (nonzero = counted)
// selects the pixels, an empty `valid` counts them all. Exact (no histogram binning) and O(n) in
// memory of one 32-bit key per counted pixel plus a scratch buffer, so ~20 million pixels are
// fine. Needs both classes among the counted pixels.
double pixelAuc(const std::vector<float>& scores, const std::vector<std::uint8_t>& labels,
                const std::vector<std::uint8_t>& valid);

// Dice = 2|P & T| / (|P| + |T|) over the valid pixels; 1 when both sets are empty (agreeing that
// there is nothing is a perfect answer).
double dice(const std::vector<std::uint8_t>& predicted, const std::vector<std::uint8_t>& truth,
            const std::vector<std::uint8_t>& valid);

struct Interval {
  double value, low, high;
};

using Metric = std::function<double(const std::vector<double>&, const std::vector<int>&)>;

// Percentile bootstrap CI: `value` is the metric on the data as given; low/high are the
// (1-level)/2 and (1+level)/2 percentiles of the metric over `replicates` resamples. Positives and
// negatives are resampled separately (stratified), each with replacement and at its own size, so
// every replicate has both classes and the same prevalence. Deterministic for a seed on every
// platform: the index draws use std::mt19937_64 with our own unbiased bounded draw rather than
// std::uniform_int_distribution, whose output differs between standard libraries.
Interval bootstrapCi(const std::vector<double>& scores, const std::vector<int>& labels,
                     const Metric& metric, int replicates = 1000, std::uint64_t seed = 1,
                     double level = 0.95);

}  // namespace al::eval
