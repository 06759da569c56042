#include "training/Evaluation.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>

#include "errors/Error.h"
#include "eval/Metrics.h"
#include "training/Trainer.h"

namespace al::training {

std::vector<double> Scored::scores() const {
  std::vector<double> out;
  for (const auto& i : images)
    if (i.label >= 0) out.push_back(i.score);
  return out;
}

std::vector<int> Scored::labels() const {
  std::vector<int> out;
  for (const auto& i : images)
    if (i.label >= 0) out.push_back(i.label);
  return out;
}

Scored scoreCases(const models::AnomalyModel& model, const std::vector<Prepared>& cases,
                  const std::vector<std::vector<int>>& selection, const ScoreOptions& options) {
  Scored out;
  long total = 0, done = 0;
  for (std::size_t c = 0; c < cases.size(); ++c)
    total += selection.empty() ? cases[c].images.size().z : static_cast<long>(selection[c].size());
  const std::string mapName = model.mapNames().empty() ? std::string() : model.mapNames().front();
  for (std::size_t c = 0; c < cases.size(); ++c) {
    const Prepared& p = cases[c];
    std::vector<int> pick;
    if (selection.empty()) {
      for (int i = 0; i < p.images.size().z; ++i) pick.push_back(i);
    } else {
      pick = selection[c];
    }
    if (pick.empty()) continue;
    const Volume images = selectImages(p.images, pick);
    const Volume valid = selectImages(p.valid, pick);
    models::RunOptions run = options.run;
    const long before = done;
    const long count = static_cast<long>(pick.size());
    if (options.progress)
      run.progress = [&](double f) { return options.progress((before + f * count) / std::max(1L, total)); };
    const models::Analysis a = model.analyse(images, &valid, run);
    done += count;
    for (std::size_t k = 0; k < pick.size(); ++k) {
      ImageScore s;
      s.caseId = p.id;
      s.image = pick[k];
      s.slice = p.sliceIndex[static_cast<std::size_t>(pick[k])];
      s.score = a.scores[k];
      s.label = p.sliceLabels[static_cast<std::size_t>(pick[k])];
      s.className = p.className;
      for (const auto& [name, values] : a.scoreVariants) s.variants[name] = values[k];
      out.images.push_back(s);
    }
    if (!options.pixels || mapName.empty()) continue;
    const Volume& map = a.maps.at(mapName);
    std::optional<Volume> lesions;
    if (p.lesions) {
      lesions = selectImages(*p.lesions, pick);
      out.hasLesionMasks = true;
    }
    const std::int64_t plane = map.size().x * map.size().y;
    const float* m = map.data<float>();
    const std::uint8_t* v = valid.data<std::uint8_t>();
    long counter = 0;
    for (std::size_t k = 0; k < pick.size(); ++k) {
      const int label = p.sliceLabels[static_cast<std::size_t>(pick[k])];
      // Images that do not count (a manifest's other part of the scan, too few lesion voxels to
      // call the image abnormal) give no pixels either: pixel and image metrics see one set.
      if (label < 0) continue;
      std::vector<std::uint8_t> away;
      if (label == 1 && p.lesions && options.healthyMarginMm >= 0) away = tissueAwayFromLesions(p, pick[k], options.healthyMarginMm);
      for (std::int64_t i = 0; i < plane; ++i) {
        const std::int64_t idx = static_cast<std::int64_t>(k) * plane + i;
        if (!v[idx] || (counter++ % std::max(1, options.pixelStride))) continue;
        out.pixelValues.push_back(m[idx]);
        out.pixelLesion.push_back(lesions ? (lesions->data<std::uint8_t>()[idx] ? 1 : 0) : 0);
        out.pixelHealthy.push_back(label == 0 || (!away.empty() && away[static_cast<std::size_t>(i)]) ? 1 : 0);
      }
    }
  }
  return out;
}

std::vector<std::vector<int>> balancedSelection(const std::vector<Prepared>& cases, int maxImages, std::uint64_t seed) {
  std::vector<std::pair<int, int>> pos, neg;
  for (std::size_t c = 0; c < cases.size(); ++c)
    for (std::size_t i = 0; i < cases[c].sliceLabels.size(); ++i) {
      const int l = cases[c].sliceLabels[i];
      if (l == 1) pos.emplace_back(static_cast<int>(c), static_cast<int>(i));
      if (l == 0) neg.emplace_back(static_cast<int>(c), static_cast<int>(i));
    }
  std::mt19937_64 rng(seed);
  std::shuffle(pos.begin(), pos.end(), rng);
  std::shuffle(neg.begin(), neg.end(), rng);
  const std::size_t half = static_cast<std::size_t>(std::max(1, maxImages / 2));
  std::size_t nPos = std::min(pos.size(), half), nNeg = std::min(neg.size(), half);
  // Fill up from the other class when one is short.
  if (nPos < half) nNeg = std::min(neg.size(), static_cast<std::size_t>(maxImages) - nPos);
  if (nNeg < half) nPos = std::min(pos.size(), static_cast<std::size_t>(maxImages) - nNeg);
  std::vector<std::vector<int>> out(cases.size());
  for (std::size_t k = 0; k < nPos; ++k) out[static_cast<std::size_t>(pos[k].first)].push_back(pos[k].second);
  for (std::size_t k = 0; k < nNeg; ++k) out[static_cast<std::size_t>(neg[k].first)].push_back(neg[k].second);
  for (auto& v : out) std::sort(v.begin(), v.end());
  return out;
}

std::vector<std::vector<int>> evaluationSelection(const std::vector<Prepared>& cases, int maxImages) {
  if (maxImages <= 0) return {};
  return balancedSelection(cases, maxImages, kEvaluationSeed);
}

Threshold chooseThreshold(const Scored& s, const std::string& method, double targetSensitivity, double healthyPercentile) {
  const auto scores = s.scores();
  const auto labels = s.labels();
  const bool hasPos = std::count(labels.begin(), labels.end(), 1) > 0;
  const bool hasNeg = std::count(labels.begin(), labels.end(), 0) > 0;
  std::string m = method;
  if (m == "auto") m = hasPos && hasNeg ? "youden" : "healthy-percentile";
  if ((m == "youden" && !(hasPos && hasNeg)) || (m == "sensitivity" && !hasPos))
    throw Error("threshold", "the " + m + " threshold needs abnormal validation images; there are none");
  if (m == "youden") return {eval::youdenThreshold(scores, labels), "youden"};
  if (m == "sensitivity") {
    char buf[64];
    std::snprintf(buf, sizeof buf, "sensitivity %.2f", targetSensitivity);
    return {eval::thresholdForSensitivity(scores, labels, targetSensitivity), buf};
  }
  if (m == "best-f1") return {eval::bestF1Threshold(scores, labels), "best F1"};
  if (m == "healthy-percentile") {
    std::vector<double> healthy;
    for (std::size_t i = 0; i < scores.size(); ++i)
      if (labels[i] == 0) healthy.push_back(scores[i]);
    if (healthy.empty()) throw Error("threshold", "no healthy validation images to take a percentile of");
    char buf[64];
    std::snprintf(buf, sizeof buf, "healthy p%g", healthyPercentile);
    return {eval::percentile(healthy, healthyPercentile), buf};
  }
  throw Error("threshold", "unknown method \"" + method + "\" (auto, youden, sensitivity, best-f1, healthy-percentile)");
}

nlohmann::json metricsJson(const Scored& s, double threshold, std::optional<double> pixelThreshold, bool bootstrap) {
  const auto scores = s.scores();
  const auto labels = s.labels();
  const long nPos = std::count(labels.begin(), labels.end(), 1), nNeg = std::count(labels.begin(), labels.end(), 0);
  nlohmann::json j = {{"images", scores.size()}, {"abnormal_images", nPos}, {"healthy_images", nNeg},
                      {"threshold", threshold}};
  if (nPos > 0 && nNeg > 0) {
    j["image_auc"] = eval::auc(scores, labels);
    j["average_precision"] = eval::averagePrecision(scores, labels);
    if (bootstrap) {
      const auto ci = eval::bootstrapCi(scores, labels, [](const auto& a, const auto& b) { return eval::auc(a, b); }, 1000, 1);
      j["image_auc_ci95"] = {ci.low, ci.high};
    }
  }
  // Per abnormal class against the healthy images (image-labelled sets: OCT2017's CNV, DME, DRUSEN).
  std::map<std::string, std::vector<double>> byClass;
  std::vector<double> healthy;
  std::set<std::string> healthyClasses;
  for (const auto& i : s.images) {
    if (i.label == 1 && !i.className.empty()) byClass[i.className].push_back(i.score);
    if (i.label == 0) {
      healthy.push_back(i.score);
      if (!i.className.empty()) healthyClasses.insert(i.className);
    }
  }
  if (!byClass.empty() && !healthy.empty()) {
    nlohmann::json perClass = nlohmann::json::object();
    for (const auto& [name, abnormal] : byClass) {
      std::vector<double> sc = abnormal;
      sc.insert(sc.end(), healthy.begin(), healthy.end());
      std::vector<int> lb(abnormal.size(), 1);
      lb.resize(sc.size(), 0);
      perClass[name] = {{"image_auc", eval::auc(sc, lb)}, {"average_precision", eval::averagePrecision(sc, lb)},
                        {"images", abnormal.size()}, {"healthy_images", healthy.size()}};
    }
    j["per_class"] = perClass;
    if (healthyClasses.size() == 1) j["healthy_class"] = *healthyClasses.begin();
  }
  const eval::Confusion c = eval::confusionAt(scores, labels, threshold);
  j["at_threshold"] = {{"sensitivity", c.sensitivity()}, {"specificity", c.specificity()},
                       {"precision", c.precision()},    {"f1", c.f1()},
                       {"accuracy", c.accuracy()},      {"tp", c.tp}, {"fp", c.fp}, {"tn", c.tn}, {"fn", c.fn}};
  if (s.hasLesionMasks && !s.pixelValues.empty()) {
    const bool both = std::find(s.pixelLesion.begin(), s.pixelLesion.end(), 1) != s.pixelLesion.end() &&
                      std::find(s.pixelLesion.begin(), s.pixelLesion.end(), 0) != s.pixelLesion.end();
    if (both) {
      j["pixel_auc"] = eval::pixelAuc(s.pixelValues, s.pixelLesion, {});
      j["pixels"] = s.pixelValues.size();
      if (pixelThreshold) {
        std::vector<std::uint8_t> pred(s.pixelValues.size());
        for (std::size_t i = 0; i < pred.size(); ++i) pred[i] = s.pixelValues[i] >= *pixelThreshold ? 1 : 0;
        j["pixel_threshold"] = *pixelThreshold;
        j["dice"] = eval::dice(pred, s.pixelLesion, {});
      }
    }
  }
  return j;
}

nlohmann::json calibrationJson(const Scored& s) {
  std::vector<double> healthyScores;
  for (const auto& i : s.images)
    if (i.label == 0) healthyScores.push_back(i.score);
  nlohmann::json j = nlohmann::json::object();
  if (!healthyScores.empty())
    j["healthy_scores"] = {{"median", eval::percentile(healthyScores, 50)},
                           {"p95", eval::percentile(healthyScores, 95)},
                           {"p99", eval::percentile(healthyScores, 99)},
                           {"count", healthyScores.size()}};
  std::vector<double> values;
  for (std::size_t i = 0; i < s.pixelValues.size(); ++i)
    if (s.pixelHealthy[i]) values.push_back(s.pixelValues[i]);
  if (!values.empty())
    j["healthy_map"] = {{"median", eval::percentile(values, 50)},
                        {"p95", eval::percentile(values, 95)},
                        {"p99", eval::percentile(values, 99)},
                        {"pixels", values.size()}};
  return j;
}

}  // namespace al::training
