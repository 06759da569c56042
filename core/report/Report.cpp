#include "report/Report.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <numeric>

#include "errors/Error.h"
#include "eval/Metrics.h"
#include "runtime/Version.h"

namespace al::report {

namespace {

std::string number(double v, int digits = 3) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

std::string utcNow() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<double> metric(const nlohmann::json& metrics, const char* split, const char* name) {
  if (metrics.is_object() && metrics.contains(split) && metrics[split].is_object() && metrics[split].contains(name) &&
      metrics[split][name].is_number())
    return metrics[split][name].get<double>();
  return std::nullopt;
}

std::string trainingSummary(const nlohmann::json& t) {
  if (!t.is_object() || t.empty()) return "not recorded on the model's card";
  std::string s;
  if (t.contains("healthy_cases") && t["healthy_cases"].is_number())
    s += std::to_string(t["healthy_cases"].get<long>()) + " healthy cases";
  if (t.contains("healthy_images") && t["healthy_images"].is_number())
    s += (s.empty() ? "" : " (") + std::to_string(t["healthy_images"].get<long>()) + " images" + (s.empty() ? "" : ")");
  if (t.contains("iterations") && t["iterations"].is_object()) {
    long total = 0;
    for (const auto& [stage, n] : t["iterations"].items())
      if (n.is_number()) total += n.get<long>();
    if (total > 0) s += (s.empty() ? "" : ", ") + std::to_string(total) + " iterations";
  }
  if (t.contains("device") && t["device"].is_string()) s += " on " + t["device"].get<std::string>();
  return s.empty() ? "not recorded on the model's card" : s;
}

}  // namespace

std::string plainReading(double score, std::optional<double> threshold) {
  if (!std::isfinite(score)) return "not scored (no image of this scan could be scored)";
  const std::string values = "score " + number(score) + (threshold ? ", threshold " + number(*threshold) : std::string());
  if (!threshold) return "no threshold on the model's card: the score (" + number(score) + ") cannot be read against a healthy range";
  if (score >= *threshold) return "above the healthy range (" + values + ")";
  return "within the healthy range (" + values + ")";
}

std::vector<KeyImage> proposeKeyImages(const inference::ScanAnalysis* analysis, const std::vector<Annotation>& annotations, int top) {
  std::map<int, KeyImage> chosen;
  const auto scoreOf = [&](int z) {
    return analysis && z >= 0 && z < static_cast<int>(analysis->sliceScores.size()) ? analysis->sliceScores[static_cast<std::size_t>(z)]
                                                                                   : std::nan("");
  };
  if (analysis) {
    std::vector<int> order;
    for (int z = 0; z < static_cast<int>(analysis->sliceScores.size()); ++z)
      if (std::isfinite(analysis->sliceScores[static_cast<std::size_t>(z)])) order.push_back(z);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return scoreOf(a) > scoreOf(b); });
    for (int i = 0; i < std::min<int>(top, static_cast<int>(order.size())); ++i) {
      KeyImage k;
      k.slice = order[static_cast<std::size_t>(i)];
      k.score = scoreOf(k.slice);
      k.topScoring = true;
      chosen[k.slice] = k;
    }
  }
  for (const auto& a : annotations) {
    auto& k = chosen[a.slice];
    k.slice = a.slice;
    k.score = scoreOf(a.slice);
    if (a.kind == AnnotationKind::Flag) k.flagged = true;
    else k.annotated = true;
  }
  std::vector<KeyImage> out;
  for (auto& [z, k] : chosen) out.push_back(k);
  return out;
}

std::pair<double, double> displayWindow(const Volume& scan, int channel) {
  const Size3 s = scan.size();
  const std::int64_t n = s.count();
  std::vector<double> sample;
  sample.reserve(static_cast<std::size_t>(n / 7 + 1));
  for (std::int64_t i = 0; i < n; i += 7) sample.push_back(scan.value(i % s.x, (i / s.x) % s.y, i / (s.x * s.y), channel));
  double lo = eval::percentile(sample, 0.5), hi = eval::percentile(sample, 99.5);
  if (!(hi > lo)) hi = lo + 1;
  return {lo, hi};
}

ModelRunSummary summariseRun(const models::ModelCard& card, const inference::ScanAnalysis& a, const std::map<int, int>& userLabels) {
  ModelRunSummary s;
  s.modelName = card.name;
  s.kind = models::displayName(card.kind);
  s.configName = card.configName;
  s.version = "created " + card.created + (card.libtorchVersion.empty() ? "" : ", LibTorch " + card.libtorchVersion);
  s.trainingData = trainingSummary(card.trainingData);
  s.validationAuc = metric(card.metrics, "validation", "image_auc");
  s.threshold = a.threshold;
  s.thresholdMethod = a.thresholdMethod;
  s.scanScore = a.scanScore;
  for (std::size_t z = 0; z < a.sliceScores.size(); ++z) {
    if (!std::isfinite(a.sliceScores[z])) continue;
    ++s.scoredImages;
    if (a.sliceAbove(static_cast<int>(z))) ++s.imagesAbove;
  }
  s.reading = plainReading(a.scanScore, a.threshold);
  if (!a.mapNames.empty()) {
    s.mapName = a.mapNames.front();
    s.mapRange = a.ranges.count(s.mapName) ? a.ranges.at(s.mapName) : inference::ScanAnalysis::Range{};
  }
  // Labels: the lesion mask's, else the user's marks.
  std::vector<double> scores;
  std::vector<int> labels;
  for (std::size_t z = 0; z < a.sliceScores.size(); ++z) {
    if (!std::isfinite(a.sliceScores[z])) continue;
    int label = -1;
    if (!a.sliceLabels.empty()) label = a.sliceLabels[z];
    else if (auto it = userLabels.find(static_cast<int>(z)); it != userLabels.end()) label = it->second;
    if (label < 0) continue;
    scores.push_back(a.sliceScores[z]);
    labels.push_back(label);
  }
  const bool both = std::count(labels.begin(), labels.end(), 1) > 0 && std::count(labels.begin(), labels.end(), 0) > 0;
  if (both) {
    for (const auto& p : eval::rocCurve(scores, labels)) s.roc.emplace_back(p.fpr, p.tpr);
    s.rocAuc = eval::auc(scores, labels);
    if (a.threshold) {
      const auto c = eval::confusionAt(scores, labels, *a.threshold);
      const double fpr = c.fp + c.tn > 0 ? static_cast<double>(c.fp) / static_cast<double>(c.fp + c.tn) : 0.0;
      const double tpr = c.tp + c.fn > 0 ? static_cast<double>(c.tp) / static_cast<double>(c.tp + c.fn) : 0.0;
      s.operatingPoint = std::make_pair(fpr, tpr);
    }
  }
  return s;
}

Report buildReport(const ReportRequest& request, const Anonymiser& anonymiser) {
  if (!request.scan || request.scan->empty()) throw Error("report", "no scan to report on");
  const Volume& scan = *request.scan;
  Report r;
  r.source = anonymiser.apply(scan.metadata());
  r.scanLabel = anonymiser.enabled() ? std::string() : request.scanLabel;
  if (!anonymiser.enabled() && r.scanLabel.empty() && !scan.metadata().sourcePath.empty())
    r.scanLabel = std::filesystem::path(scan.metadata().sourcePath).filename().string();
  for (const auto& run : request.runs) {
    if (!run.card || !run.analysis) throw Error("report", "a model run without its model card or its results");
    if (!run.analysis->sliceScores.empty() && static_cast<std::int64_t>(run.analysis->sliceScores.size()) != scan.size().z)
      throw Error("report", "the results of " + run.card->name + " are for another scan (" +
                                std::to_string(run.analysis->sliceScores.size()) + " images, the scan has " +
                                std::to_string(scan.size().z) + ")");
    r.runs.push_back(run);
    r.summaries.push_back(summariseRun(*run.card, *run.analysis, request.sliceLabels));
  }
  for (const auto& a : request.annotations) {
    if (a.slice < 0 || a.slice >= scan.size().z)
      throw Error("report", "a " + toString(a.kind) + " annotation is on image " + std::to_string(a.slice + 1) + ", but the scan has images 1 to " +
                                std::to_string(scan.size().z) + " (is the session for another scan?)");
  }
  r.annotations = request.annotations;
  const inference::ScanAnalysis* first = r.runs.empty() ? nullptr : r.runs.front().analysis;
  if (!request.keySlices) {
    r.keyImages = proposeKeyImages(first, r.annotations);
  } else {
    const auto proposed = proposeKeyImages(first, r.annotations);
    for (int z : *request.keySlices) {
      if (z < 0 || z >= scan.size().z)
        throw Error("report", "key image " + std::to_string(z + 1) + " is not an image of the scan (1 to " + std::to_string(scan.size().z) + ")");
      KeyImage k;
      k.slice = z;
      k.score = first && z < static_cast<int>(first->sliceScores.size()) ? first->sliceScores[static_cast<std::size_t>(z)] : std::nan("");
      for (const auto& p : proposed)
        if (p.slice == z) k = p;
      r.keyImages.push_back(k);
    }
    std::sort(r.keyImages.begin(), r.keyImages.end(), [](const KeyImage& a, const KeyImage& b) { return a.slice < b.slice; });
    r.keyImages.erase(std::unique(r.keyImages.begin(), r.keyImages.end(), [](const KeyImage& a, const KeyImage& b) { return a.slice == b.slice; }),
                      r.keyImages.end());
  }
  const Volume* map = first && !first->mapNames.empty() ? &first->maps.at(first->mapNames.front()) : nullptr;
  for (const auto& a : r.annotations) {
    Measurement m;
    m.slice = a.slice;
    m.kind = toString(a.kind);
    m.note = a.note;
    m.annotation = a;
    m.text = describe(scan, a, 0, map);
    if (a.kind == AnnotationKind::Distance) {
      m.lengthMm = measureDistance(scan, a);
    } else if (a.kind == AnnotationKind::Region) {
      const RegionMeasure rm = measureRegion(scan, a, 0, map);
      m.areaMm2 = rm.areaMm2;
      m.mean = rm.mean;
      m.mapMean = rm.mapMean;
    }
    r.measurements.push_back(m);
  }
  for (const auto& [z, label] : request.sliceLabels) r.sliceLabels.emplace_back(z, label);
  r.comment = request.comment;
  r.created = anonymiser.enabled() && !anonymiser.options().keepDates ? std::string() : utcNow();
  r.software = std::string(kProductName) + ' ' + kVersion;
  r.anonymisation = anonymiser.methodDescription();
  return r;
}

nlohmann::json toJson(const Report& r) {
  using nlohmann::json;
  const auto& m = r.source;
  json j = {{"patient", {{"name", m.patientName}, {"id", m.patientId}, {"birth_date", m.patientBirthDate}, {"sex", m.patientSex}}},
            {"study", {{"instance_uid", m.studyInstanceUid}, {"date", m.studyDate}, {"description", m.studyDescription},
                       {"accession_number", m.accessionNumber}}},
            {"series", {{"instance_uid", m.seriesInstanceUid}, {"number", m.seriesNumber}, {"description", m.seriesDescription},
                        {"modality", m.modality}, {"laterality", m.laterality}}},
            {"scan", r.scanLabel}, {"created", r.created}, {"software", r.software}, {"anonymisation", r.anonymisation},
            {"comment", r.comment}, {"statement", kInvestigationalUse}};
  json runs = json::array();
  for (const auto& s : r.summaries) {
    json run = {{"model", s.modelName}, {"kind", s.kind}, {"config", s.configName}, {"version", s.version},
                {"training_data", s.trainingData}, {"score", s.scanScore}, {"reading", s.reading},
                {"scored_images", s.scoredImages}, {"images_above", s.imagesAbove}, {"map", s.mapName},
                {"map_range", {s.mapRange.lo, s.mapRange.hi}}};
    if (s.validationAuc) run["validation_auc"] = *s.validationAuc;
    if (s.threshold) run["threshold"] = *s.threshold;
    run["threshold_method"] = s.thresholdMethod;
    if (s.rocAuc) run["labelled_auc"] = *s.rocAuc;
    runs.push_back(run);
  }
  j["runs"] = runs;
  json keys = json::array();
  for (const auto& k : r.keyImages) {
    json e = {{"slice", k.slice}, {"top_scoring", k.topScoring}, {"flagged", k.flagged}};
    if (std::isfinite(k.score)) e["score"] = k.score;
    keys.push_back(e);
  }
  j["key_images"] = keys;
  json meas = json::array();
  for (const auto& mm : r.measurements) meas.push_back({{"slice", mm.slice}, {"kind", mm.kind}, {"text", mm.text}, {"note", mm.note}});
  j["measurements"] = meas;
  return j;
}

}  // namespace al::report
