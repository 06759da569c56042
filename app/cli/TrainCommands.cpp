#include "TrainCommands.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <thread>

#include <unistd.h>

#include "errors/Error.h"
#include "eval/Metrics.h"
#include "io/AtomicFile.h"
#include "io/PngStackWriter.h"
#include "io/VolumeReader.h"
#include "inference/ModelCatalog.h"
#include "inference/ScanAnalysis.h"
#include "io/VolumeWriter.h"
#include "models/ModelFile.h"
#include "render/Raster.h"
#include "training/DataSet.h"
#include "training/Evaluation.h"
#include "training/Pipeline.h"
#include "training/Trainer.h"

namespace al::cli {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

volatile std::sig_atomic_t interrupted = 0;
extern "C" void onInterrupt(int) {
  interrupted = 1;
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process at once
}

std::string duration(double s) {
  if (!(s >= 0) || !std::isfinite(s)) return "--";
  const long t = std::lround(s);
  char buf[32];
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  return buf;
}

// A bar with ETA on a terminal; plain lines (every 5% or 30 s) in a log.
class ProgressPrinter {
 public:
  ProgressPrinter() : terminal_(::isatty(STDERR_FILENO) != 0) {}
  void training(const training::TrainingProgress& p) {
    if (p.phase != "training") {
      if (p.phase != lastPhase_) line(p.phase + "...");
      lastPhase_ = p.phase;
      return;
    }
    lastPhase_ = p.phase;
    const double f = p.total > 0 ? static_cast<double>(p.done) / p.total : 0;
    std::ostringstream losses;
    for (const auto& [k, v] : p.losses) losses << ' ' << k << '=' << std::setprecision(4) << v;
    std::ostringstream text;
    text << p.stage << ' ' << p.iteration << '/' << p.stageIterations << " (" << std::lround(f * 100) << "%) ETA "
         << duration(p.etaSeconds) << losses.str();
    const auto now = std::chrono::steady_clock::now();
    if (terminal_) {
      if (now - lastDraw_ < std::chrono::milliseconds(100) && p.done != p.total) return;
      lastDraw_ = now;
      const int width = 24, filled = static_cast<int>(f * width);
      std::cerr << "\r[" << std::string(static_cast<std::size_t>(filled), '#') << std::string(static_cast<std::size_t>(width - filled), '.')
                << "] " << text.str().substr(0, 100) << "\033[K" << std::flush;
      dirty_ = true;
    } else {
      const int bucket = static_cast<int>(f * 20);
      if (bucket != lastBucket_ || now - lastDraw_ > std::chrono::seconds(30) || p.done == p.total) {
        lastBucket_ = bucket;
        lastDraw_ = now;
        std::cerr << "progress: " << text.str() << '\n';
      }
    }
  }
  void fraction(const std::string& what, double f) {
    const auto now = std::chrono::steady_clock::now();
    if (now - lastDraw_ < std::chrono::milliseconds(terminal_ ? 100 : 10000) && f < 1.0) return;
    lastDraw_ = now;
    if (terminal_) {
      std::cerr << '\r' << what << ' ' << std::lround(f * 100) << "%\033[K" << std::flush;
      dirty_ = true;
    } else {
      std::cerr << what << ' ' << std::lround(f * 100) << "%\n";
    }
  }
  void line(const std::string& text) {
    if (dirty_) std::cerr << '\n';
    dirty_ = false;
    std::cerr << text << '\n';
  }

 private:
  bool terminal_;
  bool dirty_ = false;
  int lastBucket_ = -1;
  std::string lastPhase_;
  std::chrono::steady_clock::time_point lastDraw_{};
};

json parseValue(const std::string& text) {
  try {
    return json::parse(text);
  } catch (const json::exception&) {
    return text;  // a bare word is a string
  }
}

// --set KEY=VALUE ..., as an object (a later KEY wins).
json parseSets(const std::vector<std::string>& sets) {
  json out = json::object();
  for (const auto& s : sets) {
    const auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0) throw Error("--set", "\"" + s + "\" is not KEY=VALUE");
    out[s.substr(0, eq)] = parseValue(s.substr(eq + 1));
  }
  return out;
}

std::string numbered(int i, int digits = 3) {
  std::string s = std::to_string(i);
  return std::string(static_cast<std::size_t>(std::max(0, digits - static_cast<int>(s.size()))), '0') + s;
}

// The image a person looks at under the overlay: OCT's B-scan, MRI's FLAIR (else the first).
int displayChannel(const Volume& scan) {
  for (int c = 0; c < static_cast<int>(scan.channelNames().size()); ++c)
    if (scan.channelNames()[static_cast<std::size_t>(c)] == "FLAIR") return c;
  return 0;
}

using inference::trainedSpec;

int runTrain(training::TrainingSpec spec, bool resume, const std::string& writeSpec, const std::string& lossLog) {
  ProgressPrinter printer;
  training::TrainingCallbacks cb;
  cb.log = [&](const std::string& m) { printer.line(m); };
  cb.progress = [&](const training::TrainingProgress& p) { printer.training(p); };
  if (!writeSpec.empty()) {
    writeFileAtomically(writeSpec, spec.toJson().dump(2) + "\n");
    printer.line("specification written to " + writeSpec);
  }
  training::TrainingControl control;
  interrupted = 0;
  std::signal(SIGINT, onInterrupt);
  std::signal(SIGTERM, onInterrupt);
  std::atomic<bool> finished{false};
  std::thread watcher([&] {  // signal handlers may not touch the control's mutex: poll instead
    while (!finished) {
      if (interrupted) {
        control.cancel();
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  training::TrainingOutcome outcome;
  try {
    outcome = training::Trainer(spec, cb).run(control, resume);
  } catch (const models::Cancelled&) {  // stopped while reading the data: nothing to keep
    finished = true;
    watcher.join();
    std::signal(SIGINT, SIG_DFL);
    printer.line(std::filesystem::exists(training::checkpointPathFor(spec.out))
                     ? "stopped: checkpoint " + training::checkpointPathFor(spec.out) + "; continue with the same command and --resume"
                     : "stopped before training began");
    return 130;
  } catch (...) {
    finished = true;
    watcher.join();
    std::signal(SIGINT, SIG_DFL);
    throw;
  }
  finished = true;
  watcher.join();
  std::signal(SIGINT, SIG_DFL);
  if (!lossLog.empty()) {
    training::writeLossHistory(lossLog, outcome.history);
    printer.line("losses written to " + lossLog);
  }
  if (!outcome.finished) {
    printer.line("stopped: checkpoint " + outcome.checkpoint + "; continue with the same command and --resume");
    return 130;
  }
  printer.line("model: " + outcome.modelPath);
  if (outcome.card.metrics.contains("test"))
    printer.line("test: " + outcome.card.metrics["test"].dump());
  std::cout << outcome.modelPath << '\n';
  return 0;
}

int runInfer(const std::string& modelPath, const std::string& input, const std::string& maskPath,
             const std::string& brainPath, const std::string& outDir, const std::string& device, bool overlays) {
  ProgressPrinter printer;
  auto loaded = models::loadModel(inference::resolveModel(modelPath), device);
  const models::ModelCard& card = loaded.card;
  const training::Pipeline pipeline = training::Pipeline::fromJson(card.preprocessing, loaded.model->input());
  const training::DataSet ds = training::openDataSet(input);
  fs::create_directories(outDir);
  json all = json::array();
  for (training::DataCase c : ds.cases) {
    if (!maskPath.empty()) c.mask = fs::absolute(maskPath).string();
    if (!brainPath.empty()) c.brainMask = fs::absolute(brainPath).string();
    printer.line("preparing " + c.id);
    Volume scan = pipeline.readScan(c);
    if (scan.metadata().sourcePath.empty()) scan.metadata().sourcePath = c.image;
    std::optional<Volume> lesions, brain;
    if (!c.mask.empty()) lesions = training::readCaseLabels(c.mask, scan.size(), "the lesion mask");
    if (!c.brainMask.empty()) brain = training::readCaseLabels(c.brainMask, scan.size(), "the brain mask");
    inference::ScanAnalysisOptions opt;
    opt.lesionMask = lesions ? &*lesions : nullptr;
    opt.brainMask = brain ? &*brain : nullptr;
    opt.progress = [&](double f, const std::string& stage) {
      printer.fraction(stage + " " + c.id, f);
      return true;
    };
    inference::ScanAnalysis a;
    try {
      a = inference::analyseScan(loaded, scan, opt);
    } catch (const models::Cancelled&) {
      throw;
    } catch (const Error& e) {
      // One of several scans that the card's pipeline cannot take (a B-scan that cannot be
      // flattened): said and left out, the others still analysed. A single scan fails.
      if (ds.cases.size() == 1) throw;
      printer.line("  left out " + c.id + ": " + e.message());
      all.push_back({{"case", c.id}, {"input", c.image}, {"model", card.name}, {"error", e.message()}});
      continue;
    }
    for (const auto& w : a.warnings) printer.line("  warning: " + w);
    json scores = json::array();
    for (std::size_t z = 0; z < a.sliceScores.size(); ++z) {
      if (std::isnan(a.sliceScores[z])) continue;
      scores.push_back({{"slice", z}, {"score", a.sliceScores[z]}, {"above_threshold", a.sliceAbove(static_cast<int>(z))}});
    }
    // Maps on the scan's grid, as NIfTI.
    json mapFiles = json::object();
    for (const auto& name : a.mapNames) {
      const std::string file = c.id + "_" + name + ".nii.gz";
      writeVolume(a.maps.at(name), (fs::path(outDir) / file).string());
      mapFiles[name] = file;
    }
    // Overlays: every scored B-scan / slice with the first map, calibrated colours.
    json overlayFiles = json::array();
    if (overlays && !a.mapNames.empty()) {
      const Volume& firstMap = a.maps.at(a.mapNames.front());
      const auto range = a.ranges.at(a.mapNames.front());
      const int ch = displayChannel(scan);
      const Size3 s = scan.size();
      std::vector<double> sample;
      const std::int64_t plane = s.x * s.y;
      for (std::int64_t i = 0; i < plane * s.z; i += 11) sample.push_back(scan.value(i % s.x, (i / s.x) % s.y, i / plane, ch));
      const double lo = eval::percentile(sample, 0.5), hi = eval::percentile(sample, 99.5);
      fs::create_directories(fs::path(outDir) / "overlays");
      std::vector<float> img(static_cast<std::size_t>(plane));
      for (std::int64_t z = 0; z < s.z; ++z) {
        if (std::isnan(a.sliceScores[static_cast<std::size_t>(z)])) continue;
        for (std::int64_t i = 0; i < plane; ++i) img[static_cast<std::size_t>(i)] = static_cast<float>(scan.value(i % s.x, i / s.x, z, ch));
        const int factor = std::max(1, 512 / static_cast<int>(std::max(s.x, s.y)));
        const auto rgb0 = render::overlay(img.data(), firstMap.data<float>() + z * plane, static_cast<int>(s.x),
                                          static_cast<int>(s.y), lo, hi, range.lo, range.hi);
        const auto rgb = render::upscale(rgb0, factor);
        const std::string file = "overlays/" + c.id + "_slice_" + numbered(static_cast<int>(z)) + ".png";
        writeRgbPng((fs::path(outDir) / file).string(), rgb.width, rgb.height, rgb.rgb);
        overlayFiles.push_back(file);
      }
    }
    json result = {{"case", c.id}, {"input", c.image}, {"model", card.name},
                   {"kind", models::toString(card.kind)}, {"score", a.scanScore},
                   {"volume_score", "the highest image score"}, {"images", scores},
                   {"images_above_threshold", a.slicesAbove()}, {"maps", mapFiles}, {"overlays", overlayFiles},
                   {"warnings", a.warnings}};
    if (card.threshold) {
      result["threshold"] = *card.threshold;
      result["threshold_method"] = card.thresholdMethod;
      result["abnormal"] = a.scanScore >= *card.threshold;
      result["reading"] = a.scanScore >= *card.threshold ? "above the healthy range" : "within the healthy range";
    }
    if (a.findings) {
      // Against the lesion mask: how much of the lesion the heatmap colours, how much healthy
      // tissue it colours too, and how the image flags match the images with lesions.
      const auto& f = *a.findings;
      result["findings"] = {{"colour_from", f.colourFrom},
                            {"lesion_voxels", f.lesionVoxels},
                            {"lesion_fraction_coloured", f.lesionFraction()},
                            {"healthy_voxels", f.healthyVoxels},
                            {"healthy_fraction_coloured", f.healthyFraction()},
                            {"images_flagged", f.flagged},
                            {"images_with_lesions", f.lesionSlices},
                            {"flag_precision", f.flagPrecision()},
                            {"flag_recall", f.flagRecall()}};
      auto percent = [](double v) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.1f%%", 100 * v);
        return std::string(buf);
      };
      printer.line(c.id + ": heatmap colours " + percent(f.lesionFraction()) + " of the lesion voxels and " +
                   percent(f.healthyFraction()) + " of the healthy tissue; " + std::to_string(f.flaggedWithLesion) +
                   " of " + std::to_string(f.flagged) + " flagged images have lesions, " +
                   std::to_string(f.flaggedWithLesion) + " of " + std::to_string(f.lesionSlices) +
                   " images with lesions flagged");
    }
    all.push_back(result);
    printer.line(c.id + ": score " + std::to_string(a.scanScore) +
                 (card.threshold ? (a.scanScore >= *card.threshold ? " (above threshold " : " (below threshold ") +
                                       std::to_string(*card.threshold) + ")"
                                 : std::string()));
  }
  const std::string scoresPath = (fs::path(outDir) / "scores.json").string();
  writeFileAtomically(scoresPath, (all.size() == 1 ? all[0] : all).dump(2) + "\n");
  std::cout << scoresPath << '\n';
  return 0;
}

int runEval(const std::string& modelPath, const std::string& data, std::string split, const std::string& outDir,
            const std::string& device, int maxImages, std::string healthyClass) {
  ProgressPrinter printer;
  auto loaded = models::loadModel(inference::resolveModel(modelPath), device);
  const models::ModelCard& card = loaded.card;
  const training::Pipeline pipeline = training::Pipeline::fromJson(card.preprocessing, loaded.model->input());
  if (healthyClass.empty()) healthyClass = trainedSpec(card).value("healthy_class", std::string(training::kDefaultHealthyClass));
  training::DataSet ds;
  if (split.empty()) {
    try {
      ds = training::openDataSet(data, "test", -1, healthyClass);
      split = "test";
    } catch (const FileError&) {
      ds = training::openDataSet(data, "", -1, healthyClass);
    }
  } else {
    ds = training::openDataSet(data, split == "all" ? "" : split, -1, healthyClass);
  }
  std::vector<training::Prepared> cases;
  for (std::size_t i = 0; i < ds.cases.size(); ++i) {
    printer.line("preparing " + std::to_string(i + 1) + "/" + std::to_string(ds.cases.size()) + ": " + ds.cases[i].id);
    try {  // as training does: a case the pipeline cannot take is left out and said
      cases.push_back(pipeline.prepare(ds.cases[i]));
    } catch (const Error& e) {
      printer.line("  left out " + ds.cases[i].id + ": " + e.message());
    }
  }
  training::ScoreOptions so;
  so.pixels = true;
  so.pixelStride = 4;
  so.run.windowOverlap = trainedSpec(card).value("window_overlap", so.run.windowOverlap);
  if (maxImages < 0) maxImages = trainedSpec(card).value("evaluation_images", 0);
  std::vector<std::vector<int>> selection;
  if (maxImages > 0) {
    selection = training::evaluationSelection(cases, maxImages);
    printer.line("scoring a balanced sample of " + std::to_string(maxImages) +
                 " images, as the card's test did (--max-images 0 scores all)");
  }
  so.progress = [&](double f) {
    printer.fraction("scoring", f);
    return true;
  };
  const training::Scored s = training::scoreCases(*loaded.model, cases, selection, so);
  const auto scores = s.scores();
  const auto labels = s.labels();
  if (std::count(labels.begin(), labels.end(), 1) == 0 || std::count(labels.begin(), labels.end(), 0) == 0)
    throw Error(data, "evaluation needs healthy and abnormal images (labels or lesion masks); found " +
                          std::to_string(std::count(labels.begin(), labels.end(), 0)) + " healthy and " +
                          std::to_string(std::count(labels.begin(), labels.end(), 1)) + " abnormal");
  const double threshold = card.threshold ? *card.threshold : eval::youdenThreshold(scores, labels);
  std::optional<double> pixelThreshold;
  if (card.calibration.contains("healthy_map")) pixelThreshold = card.calibration["healthy_map"].value("p99", 0.0);
  json metrics = training::metricsJson(s, threshold, pixelThreshold, true);
  metrics["model"] = card.name;
  metrics["data"] = data;
  metrics["split"] = split.empty() ? "all" : split;
  metrics["threshold_method"] = card.threshold ? card.thresholdMethod : "youden (on this data: the card has no threshold)";
  metrics["youden_threshold_on_this_data"] = eval::youdenThreshold(scores, labels);
  fs::create_directories(outDir);
  const auto roc = eval::rocCurve(scores, labels);
  std::ostringstream csv;
  csv << "threshold,fpr,tpr\n" << std::setprecision(10);
  json rocJson = json::array();
  std::vector<std::pair<double, double>> pts;
  for (const auto& r : roc) {
    csv << (std::isinf(r.threshold) ? std::string("inf") : std::to_string(r.threshold)) << ',' << r.fpr << ',' << r.tpr << '\n';
    rocJson.push_back({{"threshold", std::isinf(r.threshold) ? json("inf") : json(r.threshold)}, {"fpr", r.fpr}, {"tpr", r.tpr}});
    pts.emplace_back(r.fpr, r.tpr);
  }
  writeFileAtomically((fs::path(outDir) / "roc.csv").string(), csv.str());
  writeFileAtomically((fs::path(outDir) / "roc.json").string(),
                      json{{"auc", metrics["image_auc"]}, {"points", rocJson}}.dump(2) + "\n");
  const auto& at = metrics["at_threshold"];
  const auto plot = render::rocPlot(pts, metrics["image_auc"], std::make_pair(1.0 - at["specificity"].get<double>(), at["sensitivity"].get<double>()));
  writeRgbPng((fs::path(outDir) / "roc.png").string(), plot.width, plot.height, plot.rgb);
  std::ostringstream sc;
  sc << "case,slice,label,class,score\n" << std::setprecision(10);
  for (const auto& i : s.images) sc << i.caseId << ',' << i.slice << ',' << i.label << ',' << i.className << ',' << i.score << '\n';
  writeFileAtomically((fs::path(outDir) / "scores.csv").string(), sc.str());
  writeFileAtomically((fs::path(outDir) / "metrics.json").string(), metrics.dump(2) + "\n");
  printer.line("image AUC " + std::to_string(metrics["image_auc"].get<double>()) +
               (metrics.contains("pixel_auc") ? ", pixel AUC " + std::to_string(metrics["pixel_auc"].get<double>()) : std::string()) +
               ", sensitivity " + std::to_string(at["sensitivity"].get<double>()) + ", specificity " +
               std::to_string(at["specificity"].get<double>()) + " at " + std::to_string(threshold));
  // One AUC per abnormal class against the healthy images (the Sparse-GAN paper's Table 1).
  if (metrics.contains("per_class"))
    for (const auto& [name, m] : metrics["per_class"].items())
      printer.line("  " + name + " vs " + metrics.value("healthy_class", std::string("healthy")) + ": AUC " +
                   std::to_string(m["image_auc"].get<double>()) + " (" + std::to_string(m["images"].get<long>()) + " against " +
                   std::to_string(m["healthy_images"].get<long>()) + " healthy images)");
  std::cout << (fs::path(outDir) / "metrics.json").string() << '\n';
  return 0;
}

int runList(const std::vector<std::string>& dirsIn, bool asJson) {
  const std::vector<std::string> dirs = dirsIn.empty() ? inference::bundledModelDirs() : dirsIn;
  json out = json::array();
  std::vector<std::string> problems;
  for (const auto& m : inference::listModels(dirs, &problems, dirsIn.empty() ? std::vector<std::string>{inference::userModelDir()}
                                                                               : std::vector<std::string>{})) {
    json entry = {{"path", m.cardPath}, {"name", m.card.name}, {"kind", models::toString(m.card.kind)},
                  {"config", m.card.configName}, {"modality", m.modality}, {"description", m.card.description},
                  {"bundled", m.bundled}};
    if (m.card.threshold) entry["threshold"] = *m.card.threshold;
    if (m.validationAuc) entry["validation_auc"] = *m.validationAuc;
    if (m.testAuc) entry["test_auc"] = *m.testAuc;
    if (m.testPixelAuc) entry["test_pixel_auc"] = *m.testPixelAuc;
    out.push_back(entry);
  }
  for (const auto& p : problems) std::cerr << "warning: " << p << '\n';
  if (asJson) {
    std::cout << out.dump(2) << '\n';
    return 0;
  }
  if (out.empty()) std::cout << "no models found in: " << [&] {
      std::string s;
      for (const auto& d : dirs) s += (s.empty() ? "" : ", ") + d;
      return s;
    }() << '\n';
  for (const auto& m : out) {
    std::cout << m["name"].get<std::string>() << "  " << m["kind"].get<std::string>() << " (" << m["config"].get<std::string>()
              << ", " << m["modality"].get<std::string>() << ")";
    if (m.contains("test_auc")) std::cout << "  test AUC " << std::fixed << std::setprecision(3) << m["test_auc"].get<double>();
    if (m.contains("test_pixel_auc")) std::cout << "  pixel AUC " << std::fixed << std::setprecision(3) << m["test_pixel_auc"].get<double>();
    std::cout << "\n  " << m["path"].get<std::string>() << '\n';
  }
  return 0;
}

// What a model will see: the pipeline run on the user's scans, written as PNGs with the scored
// region (retina, brain) tinted and lesions outlined in red, so a bad flattening or brain mask
// shows before hours of training.
int runPreprocess(const std::string& modelOrKind, const std::string& input, const std::string& outDir, const std::string& config,
                  const std::string& modality, const std::string& contrast) {
  std::unique_ptr<models::AnomalyModel> model;
  nlohmann::json prepJson = json::object();
  bool isKind = true;
  try {
    models::modelKindFromString(modelOrKind);
  } catch (const Error&) {
    isKind = false;
  }
  if (fs::exists(models::modelCardPath(modelOrKind)) || !isKind) {
    const models::ModelCard card = models::readModelCard(inference::resolveModel(modelOrKind));
    prepJson = card.preprocessing;
    model = models::createModel(card.kind, card.configName == "custom" ? "lite" : card.configName, card.config);
  } else {
    model = models::createModel(models::modelKindFromString(modelOrKind), config);
    if (!modality.empty()) prepJson["modality"] = training::modalityName(training::parseModality(modality));
    if (!contrast.empty()) prepJson["contrasts"] = json::array({contrast});
  }
  const training::Pipeline pipeline = training::Pipeline::fromJson(prepJson, model->input());
  const training::DataSet ds = training::openDataSet(input);
  fs::create_directories(outDir);
  for (const auto& c : ds.cases) {
    const training::Prepared p = pipeline.prepare(c);
    for (const auto& w : p.warnings) std::cerr << c.id << ": " << w << '\n';
    const Size3 s = p.images.size();
    const std::int64_t plane = s.x * s.y;
    for (int i = 0; i < s.z; ++i) {
      render::RgbImage img{static_cast<int>(s.x), static_cast<int>(s.y), std::vector<unsigned char>(static_cast<std::size_t>(plane) * 3)};
      const float* px = p.images.data<float>() + static_cast<std::int64_t>(i) * plane;  // first channel
      const std::uint8_t* v = p.valid.data<std::uint8_t>() + static_cast<std::int64_t>(i) * plane;
      const std::uint8_t* l = p.lesions ? p.lesions->data<std::uint8_t>() + static_cast<std::int64_t>(i) * plane : nullptr;
      const bool z = pipeline.zScored();
      for (std::int64_t k = 0; k < plane; ++k) {
        const double g = std::clamp(z ? (px[k] + 2.5) / 5.0 : (px[k] + 1.0) / 2.0, 0.0, 1.0) * 255;
        const bool edge = l && l[k] && ((k % s.x == 0 || !l[k - 1]) || (k % s.x == s.x - 1 || !l[k + 1]) ||
                                        (k < s.x || !l[k - s.x]) || (k + s.x >= plane || !l[k + s.x]));
        unsigned char* o = img.rgb.data() + k * 3;
        o[0] = static_cast<unsigned char>(edge ? 255 : g);
        o[1] = static_cast<unsigned char>(edge ? 0 : (v[k] ? g : g * 0.55));
        o[2] = static_cast<unsigned char>(edge ? 0 : (v[k] ? std::min(255.0, g * 0.8 + 40) : g * 0.55));
      }
      writeRgbPng((fs::path(outDir) / (c.id + "_" + numbered(p.sliceIndex[static_cast<std::size_t>(i)]) + ".png")).string(),
                  img.width, img.height, img.rgb);
    }
    std::cout << c.id << ": " << s.z << " images of " << s.x << "x" << s.y << '\n';
  }
  return 0;
}

}  // namespace


void TrainCommands::add(CLI::App& app, CLI::App& models) {
  train_ = app.add_subcommand("train", "Train a model on healthy scans (progress, checkpoints, Ctrl-C saves and stops)");
  train_->add_option("--model", model_, "anogan, fanogan, sparsegan, a2bgan or adm");
  train_->add_option("--config", config_, "lite (CPU-sized) or paper (the published sizes)");
  train_->add_option("--healthy", healthy_, "Healthy training scans: a folder or manifest (its train split)");
  train_->add_option("--mixed", mixed_, "A2B-GAN: unlabelled scans, healthy and abnormal (a folder or manifest)");
  train_->add_option("--val", val_, "Validation scans: a folder or manifest (its val split)");
  train_->add_option("--test", test_, "Test scans for the card's metrics (its test split)");
  train_->add_option("--out", out_, "The model to write (NAME -> NAME.json + NAME.safetensors)");
  train_->add_option("--spec", spec_, "A training specification (JSON, as the wizard writes); options given here override it");
  train_->add_option("--write-spec", writeSpec_, "Write the run's specification to this file");
  train_->add_option("--loss-log", lossLog_, "Write every iteration's losses to this CSV file (stage, iteration, losses)");
  train_->add_flag("--resume", resume_, "Continue from the checkpoint beside --out when there is one");
  train_->add_option("--iterations", iterations_, "Iterations of every stage not named by --stage-iterations (0: the paper's)");
  train_->add_option("--stage-iterations", stageIterations_, "STAGE=N, e.g. wgan=5000 encoder=2000");
  train_->add_option("--checkpoint-every", checkpointEvery_, "Iterations between checkpoints");
  train_->add_option("--validate-every", validateEvery_, "Iterations between validations (0: at the end only)");
  train_->add_option("--validation-images", validationImages_, "Images per periodic validation");
  train_->add_option("--evaluation-images", evaluationImages_, "Cap on images for the final validation and test (0: all)");
  train_->add_option("--window-overlap", overlap_, "Patch models: sliding-window overlap when scoring (0 to 0.9)");
  train_->add_option("--seed", seed_, "Random seed");
  train_->add_option("--device", device_, "auto, cpu, cuda or cuda:N");
  train_->add_option("--set", sets_, "Override a hyper-parameter: KEY=VALUE (e.g. batch_size=32)");
  train_->add_option("--threshold", threshold_, "auto, youden, sensitivity, best-f1 or healthy-percentile");
  train_->add_flag("--no-augment", noAugment_, "No flips or intensity scaling");
  train_->add_option("--modality", modality_,
                     "One-channel GANs: OCT (flattened B-scans), MR (one MRI contrast) or CR (2D radiographs: CR, DX, DR, "
                     "PNG); default: what the data's DICOM modality says, else OCT");
  train_->add_option("--contrast", contrast_, "With --modality MR: the contrast to learn (default FLAIR when the data have it)");
  train_->add_option("--oct-field-mm", octFieldMm_,
                     "OCT B-scans whose files have no pixel spacing (JPEG, PNG, TIFF): their lateral field in mm (default 6)");
  train_->add_option("--oct-normalise-thickness", octThickness_,
                     "OCT: compress a retina taller than the band above the RPE so its inner layers stay in view (on, the "
                     "default, or off)")
      ->check(CLI::IsMember({"on", "off"}));
  train_->add_option("--healthy-class", healthyClass_,
                     "Class-folder data (ROOT/{train,val,test}/{NORMAL,CNV,...}): the healthy class (default NORMAL)");
  train_->add_option("--lesion-margin-mm", lesionMarginMm_,
                     "ADM: also train on the lesion slices of masked training cases, on their tissue farther than this "
                     "from any lesion (default: lesion-free slices only, as the paper)");
  train_->add_option("--name", name_, "Name on the card");
  train_->add_option("--description", description_, "Description on the card");

  infer_ = app.add_subcommand("infer", "Run a model on scans: maps as NIfTI, overlay PNGs, scores JSON");
  infer_->add_option("--model", model_, "The model (NAME, NAME.json)")->required();
  infer_->add_option("--input", input_, "A scan (also one PNG/JPEG/TIFF B-scan), a folder of scans or a manifest")->required();
  infer_->add_option("--out", outDir_, "Output folder")->required();
  infer_->add_option("--mask", mask_, "A lesion mask for the scan (labels the images in scores.json)");
  infer_->add_option("--brain-mask", brainMask_, "MRI: the brain mask (else estimated)");
  infer_->add_option("--device", device_, "auto, cpu, cuda or cuda:N");
  infer_->add_flag("--no-overlays", noOverlays_, "Skip the overlay PNGs");

  eval_ = app.add_subcommand("eval", "Evaluate a model on labelled scans: ROC (CSV, JSON, PNG) and metrics");
  eval_->add_option("--model", model_, "The model (NAME, NAME.json)")->required();
  eval_->add_option("--data", data_, "A manifest, a folder with one, or a class-folder data set")->required();
  eval_->add_option("--out", outDir_, "Output folder")->required();
  eval_->add_option("--split", split_, "test (default when the manifest has splits), val, train or all");
  eval_->add_option("--device", device_, "auto, cpu, cuda or cuda:N");
  eval_->add_option("--max-images", maxImages_, "Score a balanced sample of N images (default: as the card's test; 0: all)");
  eval_->add_option("--healthy-class", healthyClass_,
                    "Class-folder data (ROOT/{train,val,test}/{NORMAL,CNV,...}): the healthy class (default: as trained, else NORMAL)");

  prep_ = app.add_subcommand("preprocess", "Show what a model sees: the preprocessing run on scans, as PNGs");
  prep_->add_option("--model", model_, "A model file, or a kind (anogan, fanogan, sparsegan, a2bgan, adm)")->required();
  prep_->add_option("--config", config_, "With a kind: lite or paper");
  prep_->add_option("--input", input_, "A scan, a folder of scans or a manifest")->required();
  prep_->add_option("--out", outDir_, "Output folder")->required();
  prep_->add_option("--modality", modality_, "With a kind: OCT, MR or CR (default OCT for the one-channel GANs)");
  prep_->add_option("--contrast", contrast_, "With --modality MR: the contrast");

  note_ = models.add_subcommand("note", "Set the notes on a model's card (limits, targets missed and why)");
  note_->add_option("model", model_, "The model (NAME, NAME.json)")->required();
  note_->add_option("text", noteText_, "The notes")->required();

  calibrate_ = models.add_subcommand(
      "calibrate", "Choose a model's threshold and heatmap range again on validation data (yours or the training's), without training");
  calibrate_->add_option("--model", model_, "The model (NAME, NAME.json)")->required();
  calibrate_->add_option("--val", val_, "Validation data with healthy and, for the threshold, abnormal scans (its val split if it has one)")->required();
  calibrate_->add_option("--test", test_, "Test data to measure the recalibrated model on (its test split if it has one)");
  calibrate_->add_option("--set", sets_, "Change a hyper-parameter that does not touch the weights: KEY=VALUE (e.g. map_sigma=1)");
  calibrate_->add_option("--oct-normalise-thickness", octThickness_,
                         "OCT models: compress a retina taller than the band above the RPE (on) or cut its inner layers off "
                         "(off); default: as the card (off for cards made before the option)")
      ->check(CLI::IsMember({"on", "off"}));
  calibrate_->add_option("--evaluation-images", evaluationImages_, "Score a balanced sample of N images (default: as the card's training; 0: all)");
  calibrate_->add_option("--device", device_, "auto, cpu, cuda or cuda:N");
  calibrate_->add_option("--out", out_, "The recalibrated model (NAME or NAME.json; the input model is left as it is)")->required();

  list_ = models.add_subcommand("list", "List model cards (bundled models by default)");
  list_->add_option("dirs", dirs_, "Folders to list instead of the bundled models");
  list_->add_flag("--json", json_, "Print JSON");
}

int TrainCommands::run() {
  if (train_ && *train_) {
    training::TrainingSpec spec;
    if (!spec_.empty()) {
      std::ifstream in(spec_);
      if (!in) throw FileError(spec_, "cannot open the training specification");
      json j;
      try {
        j = json::parse(in);
      } catch (const json::exception& e) {
        throw FileError(spec_, std::string("not valid JSON: ") + e.what());
      }
      spec = training::TrainingSpec::fromJson(j, spec_);
    }
    if (!model_.empty()) spec.model = model_;
    if (spec_.empty() || train_->count("--config")) spec.config = config_;
    if (!healthy_.empty()) spec.healthy = healthy_;
    if (!mixed_.empty()) spec.mixed = mixed_;
    if (!val_.empty()) spec.validation = val_;
    if (!test_.empty()) spec.test = test_;
    if (!out_.empty()) spec.out = out_;
    if (!name_.empty()) spec.name = name_;
    if (!description_.empty()) spec.description = description_;
    if (spec_.empty() || train_->count("--device")) spec.device = device_;
    if (spec_.empty() || train_->count("--threshold")) spec.thresholdMethod = threshold_;
    if (iterations_ >= 0) spec.defaultIterations = iterations_;
    if (checkpointEvery_ >= 0) spec.checkpointEvery = checkpointEvery_;
    if (validateEvery_ >= 0) spec.validateEvery = validateEvery_;
    if (validationImages_ > 0) spec.validationImages = validationImages_;
    if (evaluationImages_ >= 0) spec.evaluationImages = evaluationImages_;
    if (overlap_ >= 0) spec.windowOverlap = overlap_;
    if (seed_ >= 0) spec.seed = static_cast<std::uint64_t>(seed_);
    if (noAugment_) spec.augment = false;
    if (!modality_.empty()) spec.preprocessing["modality"] = training::modalityName(training::parseModality(modality_));
    if (!contrast_.empty()) spec.preprocessing["contrasts"] = json::array({contrast_});
    if (octFieldMm_ > 0) spec.preprocessing["oct"]["field_mm"] = octFieldMm_;
    if (!octThickness_.empty()) spec.preprocessing["oct"]["normalise_thickness"] = octThickness_ == "on";
    if (!healthyClass_.empty()) spec.healthyClass = healthyClass_;
    if (train_->count("--lesion-margin-mm")) {
      if (!(lesionMarginMm_ >= 0)) throw Error("--lesion-margin-mm", "the margin is a distance in mm, 0 or more");
      spec.lesionMarginMm = lesionMarginMm_;
    }
    spec.overrides.update(parseSets(sets_));
    for (const auto& s : stageIterations_) {
      const auto eq = s.find('=');
      if (eq == std::string::npos || eq == 0) throw Error("--stage-iterations", "\"" + s + "\" is not STAGE=N");
      try {
        spec.iterations[s.substr(0, eq)] = std::stol(s.substr(eq + 1));
      } catch (const std::exception&) {
        throw Error("--stage-iterations", "\"" + s + "\": N is not a number");
      }
    }
    for (const auto& [what, value] : {std::pair<const char*, std::string>{"--model", spec.model}, {"--healthy", spec.healthy},
                                      {"--val", spec.validation}, {"--out", spec.out}})
      if (value.empty()) throw Error("train", std::string(what) + " is required (or a --spec that sets it)");
    return runTrain(spec, resume_, writeSpec_, lossLog_);
  }
  if (infer_ && *infer_) return runInfer(model_, input_, mask_, brainMask_, outDir_, device_, !noOverlays_);
  if (eval_ && *eval_) return runEval(model_, data_, split_, outDir_, device_, maxImages_, healthyClass_);
  if (list_ && *list_) return runList(dirs_, json_);
  if (prep_ && *prep_) return runPreprocess(model_, input_, outDir_, config_, modality_, contrast_);
  if (calibrate_ && *calibrate_) {
    ProgressPrinter printer;
    training::RecalibrationSpec spec;
    spec.model = inference::resolveModel(model_);
    spec.validation = val_;
    spec.test = test_;
    spec.out = out_;
    spec.device = device_;
    spec.evaluationImages = evaluationImages_;
    if (!octThickness_.empty()) spec.preprocessing["oct"]["normalise_thickness"] = octThickness_ == "on";
    spec.overrides.update(parseSets(sets_));
    if (fs::weakly_canonical(models::modelCardPath(spec.model)) == fs::weakly_canonical(models::modelCardPath(spec.out)))
      throw Error(out_, "is the model being recalibrated; write the recalibrated model elsewhere");
    const models::ModelCard card = training::recalibrate(
        spec, [&](const std::string& text) { printer.line(text); },
        [&](double f, const std::string& what) {
          printer.fraction(std::string("scoring ") + what, f);
          return true;
        });
    std::cout << models::modelCardPath(out_) << '\n';
    (void)card;
    return 0;
  }
  if (note_ && *note_) {
    models::ModelCard card = models::readModelCard(model_);  // the weights and their hash are untouched
    card.notes = noteText_;
    writeFileAtomically(models::modelCardPath(model_), models::toJson(card).dump(2) + "\n");
    std::cout << models::modelCardPath(model_) << '\n';
    return 0;
  }
  return -1;
}

}  // namespace al::cli
