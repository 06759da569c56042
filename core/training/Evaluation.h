#pragma once
// Scoring prepared cases with a model and turning the scores into the numbers a card, the CLI's
// eval and the ROC panel show. Shared by the training engine (validation, calibration, test)
// and `anomalylens-cli eval`, so a card's AUC is the one eval reproduces.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/AnomalyModel.h"
#include "training/Pipeline.h"

namespace al::training {

struct ImageScore {
  std::string caseId;
  int image = 0;   // index in the prepared case
  int slice = 0;   // B-scan / slice in the scan
  double score = 0;
  int label = -1;  // 1 abnormal, 0 healthy, -1 not counted
  std::string className;  // the case's class in an image-labelled set ("CNV"), or empty
  std::map<std::string, double> variants;  // the model's alternative image scores (ADM)
};

struct Scored {
  std::vector<ImageScore> images;
  // Pixel level, over valid pixels (retina, brain) of the scored images that count (label >= 0),
  // in model space: the first map's values and whether the pixel is a lesion; `pixelHealthy`
  // marks pixels of healthy images (their values calibrate the overlay).
  std::vector<float> pixelValues;
  std::vector<std::uint8_t> pixelLesion;
  std::vector<std::uint8_t> pixelHealthy;
  bool hasLesionMasks = false;

  std::vector<double> scores() const;  // of images with label >= 0
  std::vector<int> labels() const;
};

struct ScoreOptions {
  models::RunOptions run;
  bool pixels = false;        // collect pixel values (memory: one float per valid pixel)
  int pixelStride = 1;        // keep every n-th valid pixel
  // Negative: healthy pixels (the map's calibration) are those of images without lesions. With a
  // margin (TrainingSpec::lesionMarginMm), also the tissue of images with lesions farther than
  // this from any lesion: healthy tissue defined as in training.
  double healthyMarginMm = -1;
  models::ProgressFn progress;  // over all cases
};

// Scores the listed images of each case (all when `selection` is empty).
Scored scoreCases(const models::AnomalyModel& model, const std::vector<Prepared>& cases,
                  const std::vector<std::vector<int>>& selection, const ScoreOptions& options);

// At most `maxImages` images, half abnormal and half healthy where possible, drawn with `seed`;
// images labelled -1 are never picked. Returns per-case index lists.
std::vector<std::vector<int>> balancedSelection(const std::vector<Prepared>& cases, int maxImages, std::uint64_t seed);

// The one evaluation protocol every model's final validation, test and `eval` use: a balanced
// sample of `maxImages` drawn with a fixed seed that depends on nothing about the model or its
// training, so models scored on the same data with the same cap are scored on the same images
// (all images when `maxImages` <= 0: an empty selection).
constexpr std::uint64_t kEvaluationSeed = 20261207;
std::vector<std::vector<int>> evaluationSelection(const std::vector<Prepared>& cases, int maxImages);

struct Threshold {
  double value = 0;
  std::string method;  // "youden", "sensitivity 0.90", "healthy p99"
};
// "auto": the Youden index when abnormal images exist, else the healthy percentile.
Threshold chooseThreshold(const Scored& s, const std::string& method, double targetSensitivity, double healthyPercentile);

// Image AUC (+ bootstrap 95% CI), average precision, sensitivity/specificity/precision/F1/
// accuracy at `threshold`, counts; pixel AUC and Dice at `pixelThreshold` when masks exist.
// With image classes, "per_class": each abnormal class's images against all healthy images
// ({"CNV": {"image_auc", "average_precision", "images", "healthy_images"}}), as the Sparse-GAN
// paper's Table 1 reports them, and "healthy_class" when the healthy images name one.
nlohmann::json metricsJson(const Scored& s, double threshold, std::optional<double> pixelThreshold, bool bootstrap);

// Healthy calibration: score percentiles and map-value percentiles (median, p95, p99) of the
// healthy images, for the overlay's "calibrated" normalisation.
nlohmann::json calibrationJson(const Scored& s);

}  // namespace al::training
