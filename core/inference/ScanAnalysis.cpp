#include "inference/ScanAnalysis.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "errors/Error.h"
#include "eval/Metrics.h"
#include "io/mri/MriContrasts.h"
#include "io/oct/ImageStackReader.h"
#include "training/DataSet.h"
#include "training/Pipeline.h"

#include <filesystem>

namespace al::inference {

bool ScanAnalysis::sliceAbove(int z) const {
  if (!threshold || z < 0 || z >= static_cast<int>(sliceScores.size())) return false;
  const double s = sliceScores[static_cast<std::size_t>(z)];
  return !std::isnan(s) && s >= *threshold;
}

std::vector<int> ScanAnalysis::slicesAbove() const {
  std::vector<int> out;
  for (int z = 0; z < static_cast<int>(sliceScores.size()); ++z)
    if (sliceAbove(z)) out.push_back(z);
  return out;
}

const nlohmann::json& trainedSpec(const models::ModelCard& card) {
  static const nlohmann::json none = nlohmann::json::object();
  return card.trainingData.contains("spec") ? card.trainingData["spec"] : none;
}

ScanAnalysis::Range calibratedMapRange(const models::ModelCard& card, bool firstMap, const Volume& map) {
  if (firstMap && card.calibration.contains("healthy_map")) {
    const double med = card.calibration["healthy_map"].value("median", 0.0);
    const double p99 = card.calibration["healthy_map"].value("p99", 1.0);
    return {p99, p99 + 2 * std::max(1e-6, p99 - med), true};
  }
  std::vector<double> v;
  const float* m = map.data<float>();
  const std::int64_t step = std::max<std::int64_t>(1, map.voxelsPerChannel() / 200000);
  for (std::int64_t i = 0; i < map.voxelsPerChannel(); i += step)
    if (m[i] != 0.0f) v.push_back(m[i]);
  if (v.empty()) return {0.0, 1.0, false};
  const double lo = eval::percentile(v, 90), hi = eval::percentile(v, 99.9);
  return {lo, std::max(hi, lo + 1e-6), false};
}

CaseMasks masksFor(const std::string& scanPath) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path scan = fs::weakly_canonical(scanPath, ec);
  if (ec) return {};
  auto fromCase = [](const training::DataCase& c) {
    CaseMasks m{c.mask, c.brainMask, {}};
    for (std::size_t i = 0; i < c.imageLabels.size(); ++i)
      if (c.imageLabels[i] >= 0) m.imageLabels[static_cast<int>(i)] = c.imageLabels[i];
    if (c.imageLabels.empty() && !c.className.empty() && c.label >= 0) m.imageLabels[0] = c.label;  // one B-scan of a class folder
    return m;
  };
  for (fs::path dir = scan.parent_path(); !dir.empty(); dir = dir.parent_path()) {
    for (const char* name : {"manifest.json", "manifest.csv"}) {
      if (!fs::is_regular_file(dir / name, ec)) continue;
      try {
        for (const auto& c : training::openDataSet((dir / name).string()).cases)
          if (fs::weakly_canonical(c.image, ec) == scan) return fromCase(c);
      } catch (const Error&) {
        // An unreadable manifest gives no labels; the scan itself is unaffected.
      }
      return {};
    }
    if (dir == scan.parent_path().parent_path() || dir == dir.root_path()) break;
  }
  if (fs::is_directory(scan, ec) || isImageFileName(scan.string())) {  // a contrast set, or ROOT/test/CNV/x.jpeg
    try {
      const auto ds = training::openDataSet(scan.string());
      if (ds.cases.size() == 1) return fromCase(ds.cases.front());
    } catch (const Error&) {
      // Not a data set folder: no masks.
    }
  }
  return {};
}

namespace {

std::string compatibilityOf(const models::ModelCard& card, const Volume& scan) {
  const models::InputSpec spec = [&] {
    models::InputSpec s;
    s.channels = card.input.value("channels", 1);
    s.channelNames = card.input.value("channel_names", std::vector<std::string>{});
    return s;
  }();
  const std::string modality = card.preprocessing.value("modality", std::string());
  const std::string& m = scan.metadata().modality;
  if (modality == "CR") {  // a single-channel GAN trained on radiographs
    if (scan.channels() != 1) return "takes single-channel radiographs; this scan has " + std::to_string(scan.channels()) + " channels";
    if (!m.empty() && m != "CR" && m != "DX" && m != "DR" && m != "RG" && m != "MG" && m != "PX" && m != "OT")
      return "was trained on radiographs; this scan's modality is " + m;
    return "";
  }
  if ((modality == "MR" || modality == "MRI") && spec.channelNames.empty()) {  // a GAN on one MRI contrast
    if (!m.empty() && m != "MR") return "was trained on MRI; this scan's modality is " + m;
    const auto wanted = card.preprocessing.value("contrasts", std::vector<std::string>{});
    if (scan.channels() > 1) {
      if (wanted.empty()) return "takes one MRI contrast; this scan has " + std::to_string(scan.channels());
      for (const auto& have : scan.channelNames())
        if (parseMriContrast(have) == parseMriContrast(wanted.front())) return "";
      return "needs the MRI contrast " + wanted.front();
    }
    return "";
  }
  if (modality == "MRI" || modality == "MR" || !spec.channelNames.empty()) {
    std::string missing;
    for (const auto& want : spec.channelNames) {
      bool found = false;
      for (const auto& have : scan.channelNames())
        if (parseMriContrast(have) == parseMriContrast(want)) found = true;
      if (!found) missing += (missing.empty() ? "" : ", ") + want;
    }
    if (!missing.empty())
      return "needs the MRI contrasts " + missing + " (open a study's contrasts together: its folder, or a BraTS set)";
    return "";
  }
  if (scan.channels() != 1) return "takes one-channel OCT B-scans; this scan has " + std::to_string(scan.channels()) + " channels";
  if (!m.empty() && m != "OPT" && m != "OCT")
    return "was trained on OCT B-scans; this scan's modality is " + m;
  if (scan.size().y < 32 || scan.size().x < 32) return "the B-scans are too small (under 32 pixels)";
  return "";
}

}  // namespace

std::string compatibility(const models::ModelCard& card, const Volume& scan) {
  // A card that parses as JSON but holds the wrong types (a hand-edited one) must not crash.
  try {
    return compatibilityOf(card, scan);
  } catch (const nlohmann::json::exception& e) {
    return "has a damaged card (" + std::string(e.what()) + ")";
  }
}

ScanAnalysis analyseScan(const models::LoadedModel& loaded, const Volume& scan, const ScanAnalysisOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const models::ModelCard& card = loaded.card;
  const std::string source = scan.metadata().sourcePath.empty() ? std::string("the scan") : scan.metadata().sourcePath;
  if (const std::string why = compatibility(card, scan); !why.empty()) throw Error(source, card.name + " " + why);
  auto report = [&](double f, const std::string& stage) {
    if (options.progress && !options.progress(f, stage)) throw models::Cancelled();
  };
  report(0.0, "preparing");
  const training::Pipeline pipeline = training::Pipeline::fromJson(card.preprocessing, loaded.model->input());
  training::Prepared p = pipeline.prepare(scan, options.lesionMask, options.brainMask, source);
  // Preparation is a small share of the run; the networks take the rest.
  constexpr double kPrepared = 0.08;
  report(kPrepared, "analysing");

  models::RunOptions run;
  run.windowOverlap = trainedSpec(card).value("window_overlap", run.windowOverlap);
  run.progress = [&](double f) {
    return !options.progress || options.progress(kPrepared + (0.97 - kPrepared) * f, "analysing");
  };
  const models::Analysis a = loaded.model->analyse(p.images, &p.valid, run);
  report(0.97, "mapping back onto the scan");

  ScanAnalysis out;
  out.modelName = card.name;
  out.modelKind = models::toString(card.kind);
  out.threshold = card.threshold;
  out.thresholdMethod = card.thresholdMethod;
  out.warnings = p.warnings;
  const std::size_t z = static_cast<std::size_t>(scan.size().z);
  out.sliceScores.assign(z, std::numeric_limits<double>::quiet_NaN());
  for (std::size_t i = 0; i < a.scores.size() && i < p.sliceIndex.size(); ++i) {
    const auto s = static_cast<std::size_t>(p.sliceIndex[i]);
    if (s < z) out.sliceScores[s] = a.scores[i];
    out.scanScore = std::max(out.scanScore, a.scores[i]);
  }
  if (options.lesionMask) {
    out.sliceLabels.assign(z, -1);
    for (std::size_t i = 0; i < p.sliceLabels.size() && i < p.sliceIndex.size(); ++i)
      if (static_cast<std::size_t>(p.sliceIndex[i]) < z) out.sliceLabels[static_cast<std::size_t>(p.sliceIndex[i])] = p.sliceLabels[i];
  }
  const std::vector<std::string> mapNames = loaded.model->mapNames();
  for (const auto& name : mapNames) {
    auto it = a.maps.find(name);
    if (it == a.maps.end()) continue;
    Volume onScan = pipeline.toScan(p, it->second);
    onScan.setSpacing(scan.spacing());
    onScan.setOrigin(scan.origin());
    onScan.setDirection(scan.direction());
    // The card's healthy calibration was measured on the model's first map only.
    out.ranges[name] = calibratedMapRange(card, name == mapNames.front(), onScan);
    out.maps.emplace(name, std::move(onScan));
    out.mapNames.push_back(name);
  }
  if (options.lesionMask && !out.mapNames.empty() && options.lesionMask->size() == scan.size()) {
    // The scored tissue on the scan's grid: the model's valid pixels mapped back like a map.
    Volume validF(PixelType::Float32, p.valid.size(), 1);
    std::transform(p.valid.data<std::uint8_t>(), p.valid.data<std::uint8_t>() + p.valid.voxelsPerChannel(), validF.data<float>(),
                   [](std::uint8_t v) { return v ? 1.0f : 0.0f; });
    const Volume tissue = pipeline.toScan(p, validF);
    const Volume& map = out.maps.at(out.mapNames.front());
    ScanAnalysis::Findings f;
    f.colourFrom = out.ranges.at(out.mapNames.front()).lo;
    const float* m = map.data<float>();
    const float* t = tissue.data<float>();
    const Volume& lesions = *options.lesionMask;
    const std::int64_t n = std::min(map.voxelsPerChannel(), tissue.voxelsPerChannel());
    const std::int64_t plane = static_cast<std::int64_t>(map.size().x) * map.size().y;
    for (std::int64_t i = 0; i < n; ++i) {
      if (t[i] < 0.5f) continue;
      const auto zi = static_cast<std::size_t>(i / plane);
      if (zi < out.sliceLabels.size() && out.sliceLabels[zi] < 0) continue;  // a slice that does not count
      const std::int64_t r = i % plane;
      const bool lesion = lesions.value(r % map.size().x, r / map.size().x, static_cast<std::int64_t>(zi)) > 0;
      const bool coloured = m[i] > f.colourFrom;
      (lesion ? f.lesionVoxels : f.healthyVoxels) += 1;
      (lesion ? f.lesionColoured : f.healthyColoured) += coloured ? 1 : 0;
    }
    for (std::size_t zi = 0; zi < out.sliceLabels.size(); ++zi) {
      if (out.sliceLabels[zi] < 0) continue;
      const bool flagged = out.sliceAbove(static_cast<int>(zi));
      f.flagged += flagged;
      f.lesionSlices += out.sliceLabels[zi] == 1;
      f.flaggedWithLesion += flagged && out.sliceLabels[zi] == 1;
    }
    out.findings = f;
  }
  if (a.reconstruction && a.reconstruction->channels() >= 1) {
    // The model's healthy version of the scan, channel by channel, back on the scan's grid.
    const Volume& r = *a.reconstruction;
    const Size3 s = r.size();
    Volume first(PixelType::Float32, s, 1);
    std::copy_n(r.data<float>(), r.voxelsPerChannel(), first.data<float>());
    Volume onScan = pipeline.toScan(p, first);
    onScan.setSpacing(scan.spacing());
    onScan.setOrigin(scan.origin());
    onScan.setDirection(scan.direction());
    out.maps.emplace("reconstruction", std::move(onScan));
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  report(1.0, "done");
  return out;
}

}  // namespace al::inference
