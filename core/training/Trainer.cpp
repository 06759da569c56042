#include "training/Trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <exception>
#include <fstream>
#include <filesystem>
#include <random>
#include <set>
#include <sstream>

#include "errors/Error.h"
#include "eval/Metrics.h"
#include "io/AtomicFile.h"
#include "preprocess/MriPrepare.h"
#include "training/DataSet.h"
#include "training/Evaluation.h"
#include "training/Pipeline.h"

namespace al::training {
namespace fs = std::filesystem;
using models::AnomalyModel;
using nlohmann::json;

// ---- specification ----------------------------------------------------------------------------

json TrainingSpec::toJson() const {
  return {{"model", model}, {"config", config}, {"overrides", overrides}, {"healthy", healthy},
          {"mixed", mixed}, {"validation", validation}, {"test", test}, {"out", out},
          {"name", name}, {"description", description}, {"device", device}, {"seed", seed},
          {"iterations", iterations}, {"default_iterations", defaultIterations},
          {"checkpoint_every", checkpointEvery}, {"validate_every", validateEvery},
          {"validation_images", validationImages}, {"evaluation_images", evaluationImages},
          {"window_overlap", windowOverlap}, {"augment", augment},
          {"threshold_method", thresholdMethod}, {"target_sensitivity", targetSensitivity},
          {"healthy_percentile", healthyPercentile}, {"preprocessing", preprocessing},
          {"max_train_images", maxTrainImages}, {"healthy_class", healthyClass},
          {"lesion_margin_mm", lesionMarginMm}};
}

TrainingSpec TrainingSpec::fromJson(const json& j, const std::string& source) {
  if (!j.is_object()) throw Error(source, "a training specification is a JSON object");
  TrainingSpec s;
  const json known = s.toJson();
  for (const auto& [key, value] : j.items())
    if (!known.contains(key)) throw Error(source, "unknown key \"" + key + "\" in the training specification");
  try {
    s.model = j.value("model", s.model);
    s.config = j.value("config", s.config);
    s.overrides = j.value("overrides", s.overrides);
    s.healthy = j.value("healthy", s.healthy);
    s.mixed = j.value("mixed", s.mixed);
    s.validation = j.value("validation", s.validation);
    s.test = j.value("test", s.test);
    s.out = j.value("out", s.out);
    s.name = j.value("name", s.name);
    s.description = j.value("description", s.description);
    s.device = j.value("device", s.device);
    s.seed = j.value("seed", s.seed);
    s.iterations = j.value("iterations", s.iterations);
    s.defaultIterations = j.value("default_iterations", s.defaultIterations);
    s.checkpointEvery = j.value("checkpoint_every", s.checkpointEvery);
    s.validateEvery = j.value("validate_every", s.validateEvery);
    s.validationImages = j.value("validation_images", s.validationImages);
    s.evaluationImages = j.value("evaluation_images", s.evaluationImages);
    s.windowOverlap = j.value("window_overlap", s.windowOverlap);
    s.augment = j.value("augment", s.augment);
    s.thresholdMethod = j.value("threshold_method", s.thresholdMethod);
    s.targetSensitivity = j.value("target_sensitivity", s.targetSensitivity);
    s.healthyPercentile = j.value("healthy_percentile", s.healthyPercentile);
    s.preprocessing = j.value("preprocessing", s.preprocessing);
    s.maxTrainImages = j.value("max_train_images", s.maxTrainImages);
    s.healthyClass = j.value("healthy_class", s.healthyClass);
    s.lesionMarginMm = j.value("lesion_margin_mm", s.lesionMarginMm);
  } catch (const json::exception& e) {
    throw Error(source, std::string("training specification: ") + e.what());
  }
  return s;
}

// ---- control -----------------------------------------------------------------------------------

void TrainingControl::cancel() {
  cancel_ = true;
  cv_.notify_all();
}
void TrainingControl::pause() { paused_ = true; }
void TrainingControl::resume() {
  paused_ = false;
  cv_.notify_all();
}
bool TrainingControl::waitWhilePaused() {
  if (!paused_) return !cancel_;
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [&] { return !paused_ || cancel_; });
  return !cancel_;
}

std::string checkpointPathFor(const std::string& out) {
  const fs::path card(models::modelCardPath(out));
  return (card.parent_path() / (card.stem().string() + ".ckpt")).string();
}

namespace {
// NAME.best beside NAME.ckpt: the best model by validation AUC so far.
std::string bestModelPathForCheckpoint(const std::string& checkpoint) {
  const fs::path c(checkpoint);
  return (c.parent_path() / (c.stem().string() + ".best")).string();
}
}  // namespace

std::optional<CheckpointSummary> readCheckpointSummary(const std::string& checkpoint) {
  std::error_code ec;
  if (!fs::exists(checkpoint, ec)) return std::nullopt;
  std::ifstream in(checkpoint + ".json");
  if (!in) return std::nullopt;
  try {
    const json j = json::parse(in);
    CheckpointSummary s;
    s.checkpoint = checkpoint;
    s.spec = TrainingSpec::fromJson(j.at("spec"), checkpoint + ".json");
    (void)models::modelKindFromString(s.spec.model);  // a kind this version does not know: not offered
    s.stage = j.value("stage", "");
    s.iteration = j.value("iteration", 0L);
    s.done = j.value("done", 0L);
    s.total = j.value("total", 0L);
    s.elapsedSeconds = j.value("elapsed", 0.0);
    s.savedAt = j.value("saved_at", "");
    return s;
  } catch (const std::exception&) {
    return std::nullopt;  // a damaged summary: the run cannot be offered, the checkpoint stays
  }
}

std::vector<CheckpointSummary> findInterruptedRuns(const std::string& dir) {
  std::vector<CheckpointSummary> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  auto look = [&](const fs::path& folder) {
    for (const auto& e : fs::directory_iterator(folder, ec))
      if (e.path().extension() == ".ckpt")
        if (auto s = readCheckpointSummary(e.path().string())) out.push_back(std::move(*s));
  };
  look(dir);
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_directory(ec)) look(e.path());
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.savedAt > b.savedAt; });
  return out;
}

void discardCheckpoint(const std::string& checkpoint) {
  std::error_code ec;
  fs::remove(checkpoint, ec);
  fs::remove(checkpoint + ".json", ec);
  const std::string best = bestModelPathForCheckpoint(checkpoint);
  fs::remove(best + ".json", ec);
  fs::remove(best + ".safetensors", ec);
}

models::ModelCard saveWithThreshold(const std::string& trained, const std::string& out, const Scored& validation,
                                    const Threshold& t, const std::string& name, const std::string& description) {
  models::LoadedModel loaded = models::loadModel(trained, "cpu");
  models::ModelCard card = loaded.card;
  std::optional<double> pixelThreshold;
  if (card.calibration.contains("healthy_map")) pixelThreshold = card.calibration["healthy_map"].value("p99", 0.0);
  card.threshold = t.value;
  card.thresholdMethod = t.method;
  card.metrics["validation"] = metricsJson(validation, t.value, pixelThreshold, true);
  if (card.metrics.contains("test") && t.value != loaded.card.threshold.value_or(t.value))
    card.metrics.erase("test");  // measured at the old threshold: stale
  if (!name.empty()) card.name = name;
  if (!description.empty()) card.description = description;
  return models::saveModel(*loaded.model, card, out);
}

void writeLossHistory(const std::string& path, const json& history) {
  std::vector<std::string> names;
  for (const auto& e : history)
    for (const auto& [k, v] : e.items())
      if (k != "stage" && k != "iteration" && std::find(names.begin(), names.end(), k) == names.end()) names.push_back(k);
  std::ostringstream os;
  os.precision(9);
  os << "stage,iteration";
  for (const auto& n : names) os << ',' << n;
  os << '\n';
  for (const auto& e : history) {
    os << e.value("stage", "") << ',' << e.value("iteration", 0L);
    for (const auto& n : names) {
      os << ',';
      if (e.contains(n)) os << e[n].get<double>();
    }
    os << '\n';
  }
  writeFileAtomically(path, os.str());
}

namespace {

using Clock = std::chrono::steady_clock;

std::string utcNow() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// One training image: a view into a prepared case, or an image resized to the model's input.
struct PoolImage {
  const Prepared* source = nullptr;
  int index = 0;
  std::vector<float> pixels;          // [C, H, W] at the model's size (whole-image models)
  std::vector<std::uint8_t> valid;    // [H, W]
  int top = 0, bottom = 0;            // patch models: rows of the image holding valid pixels
};

// Area-averaging bilinear resize of one plane (antialiased when shrinking).
void resizePlane(const float* src, int h, int w, float* dst, int H, int W) {
  const double sx = static_cast<double>(w) / W, sy = static_cast<double>(h) / H;
  const int kx = std::max(1, static_cast<int>(std::ceil(sx - 1e-9))), ky = std::max(1, static_cast<int>(std::ceil(sy - 1e-9)));
  for (int Y = 0; Y < H; ++Y)
    for (int X = 0; X < W; ++X) {
      double acc = 0;
      for (int j = 0; j < ky; ++j)
        for (int i = 0; i < kx; ++i) {
          const double x = std::clamp((X + (i + 0.5) / kx) * sx - 0.5, 0.0, w - 1.0);
          const double y = std::clamp((Y + (j + 0.5) / ky) * sy - 0.5, 0.0, h - 1.0);
          const int x0 = static_cast<int>(x), y0 = static_cast<int>(y);
          const int x1 = std::min(x0 + 1, w - 1), y1 = std::min(y0 + 1, h - 1);
          const double fx = x - x0, fy = y - y0;
          acc += (src[y0 * w + x0] * (1 - fx) + src[y0 * w + x1] * fx) * (1 - fy) +
                 (src[y1 * w + x0] * (1 - fx) + src[y1 * w + x1] * fx) * fy;
        }
      dst[Y * W + X] = static_cast<float>(acc / (kx * ky));
    }
}

}  // namespace

std::vector<std::uint8_t> tissueAwayFromLesions(const Prepared& p, int i, double marginMm) {
  if (!p.lesions || i < 0 || i >= p.images.size().z) throw Error(p.id, "no lesion mask for image " + std::to_string(i));
  const Size3 s = p.images.size();
  const std::int64_t plane = s.x * s.y;
  double dx = 1, dy = 1, dz = 1;
  if (p.mri) {
    dx = p.mri->side * p.mri->originalSpacing[0] / static_cast<double>(s.x);
    dy = p.mri->side * p.mri->originalSpacing[1] / static_cast<double>(s.y);
    dz = p.mri->originalSpacing[2];
  }
  const std::uint8_t* valid = p.valid.data<std::uint8_t>() + i * plane;
  std::vector<std::uint8_t> out(valid, valid + plane);
  const auto& index = p.sliceIndex;
  for (int j = 0; j < s.z; ++j) {
    const double gap = std::abs(index[static_cast<std::size_t>(j)] - index[static_cast<std::size_t>(i)]) * dz;
    if (gap > marginMm) continue;
    // In the lesion's own slice at least its neighbouring pixels (a partial-volume border),
    // however coarse the grid.
    double r = std::sqrt(std::max(0.0, marginMm * marginMm - gap * gap));
    if (j == i && marginMm > 0) r = std::max({r, dx, dy});
    const int rx = static_cast<int>(std::floor(r / dx)), ry = static_cast<int>(std::floor(r / dy));
    const std::uint8_t* les = p.lesions->data<std::uint8_t>() + j * plane;
    for (int y = 0; y < s.y; ++y)
      for (int x = 0; x < s.x; ++x) {
        if (!les[y * s.x + x]) continue;
        for (int yy = std::max(0, y - ry); yy <= std::min<int>(static_cast<int>(s.y) - 1, y + ry); ++yy)
          for (int xx = std::max(0, x - rx); xx <= std::min<int>(static_cast<int>(s.x) - 1, x + rx); ++xx) {
            const double ex = (xx - x) * dx, ey = (yy - y) * dy;
            if (ex * ex + ey * ey <= r * r + 1e-9) out[static_cast<std::size_t>(yy) * s.x + xx] = 0;
          }
      }
  }
  return out;
}

namespace {

class Sampler {
 public:
  Sampler(const models::InputSpec& in, bool mri, bool augment) : in_(in), mri_(mri), augment_(augment) {}

  // Adds the usable images of a prepared case (healthy ones only when `healthyOnly`). With a
  // `lesionMarginMm` of zero or more, a healthy pool also takes the images with lesions, their
  // valid pixels being the tissue farther than that from any lesion (TrainingSpec::lesionMarginMm).
  void add(const Prepared& p, bool healthyOnly, double lesionMarginMm = -1) {
    const Size3 s = p.images.size();
    const int C = p.images.channels();
    const std::int64_t plane = s.x * s.y;
    std::vector<std::uint8_t> tissue;
    for (int i = 0; i < s.z; ++i) {
      const std::uint8_t* v = p.valid.data<std::uint8_t>() + i * plane;
      if (healthyOnly && p.sliceLabels[static_cast<std::size_t>(i)] != 0 && p.lesions && lesionMarginMm >= 0) {
        tissue = tissueAwayFromLesions(p, i, lesionMarginMm);
        v = tissue.data();
      } else if (healthyOnly && p.sliceLabels[static_cast<std::size_t>(i)] != 0 && (p.lesions || p.sliceLabels[static_cast<std::size_t>(i)] == 1)) {
        continue;  // a lesion, or lesion voxels too few to count the image abnormal: not healthy either
      }
      const long validCount = std::count_if(v, v + plane, [](std::uint8_t b) { return b != 0; });
      if (validCount < plane / 20) continue;  // nearly no retina / brain: nothing to learn
      PoolImage img;
      img.source = &p;
      img.index = i;
      if (in_.mode == models::InputMode::WholeImage) {
        const int H = in_.height, W = in_.width;
        img.pixels.resize(static_cast<std::size_t>(C) * H * W);
        for (int c = 0; c < C; ++c)
          resizePlane(p.images.data<float>() + (static_cast<std::int64_t>(c) * s.z + i) * plane, static_cast<int>(s.y),
                      static_cast<int>(s.x), img.pixels.data() + static_cast<std::size_t>(c) * H * W, H, W);
        std::vector<float> vf(v, v + plane), vr(static_cast<std::size_t>(H) * W);
        for (auto& f : vf) f = f ? 1.f : 0.f;
        resizePlane(vf.data(), static_cast<int>(s.y), static_cast<int>(s.x), vr.data(), H, W);
        img.valid.resize(vr.size());
        for (std::size_t k = 0; k < vr.size(); ++k) img.valid[k] = vr[k] >= 0.5f ? 1 : 0;
      } else {
        img.top = static_cast<int>(s.y);
        img.bottom = 0;
        for (int y = 0; y < s.y; ++y)
          for (int x = 0; x < s.x; ++x)
            if (v[y * s.x + x]) { img.top = std::min(img.top, y); img.bottom = std::max(img.bottom, y); }
        if (s.y < in_.height || s.x < in_.width) continue;  // smaller than a patch
      }
      pool_.push_back(std::move(img));
    }
  }
  std::size_t size() const { return pool_.size(); }

  // A random batch of n images at the model's input size; `mask` filled when asked.
  void randomBatch(int n, std::mt19937_64& rng, Volume& images, Volume* mask) {
    std::uniform_int_distribution<std::size_t> pick(0, pool_.size() - 1);
    std::vector<std::pair<std::size_t, std::pair<int, int>>> chosen;
    for (int k = 0; k < n; ++k) {
      const std::size_t i = pick(rng);
      std::pair<int, int> at{0, 0};
      if (in_.mode == models::InputMode::Patches) at = patchPosition(pool_[i], rng);
      chosen.push_back({i, at});
    }
    fill(chosen, rng, images, mask, augment_);
  }

  // Images [start, start + n) in order, without augmentation (the fit pass).
  void orderedBatch(std::size_t start, int n, std::mt19937_64& rng, Volume& images, Volume* mask) {
    std::vector<std::pair<std::size_t, std::pair<int, int>>> chosen;
    for (std::size_t i = start; i < std::min(pool_.size(), start + static_cast<std::size_t>(n)); ++i) {
      std::pair<int, int> at{0, 0};
      if (in_.mode == models::InputMode::Patches) at = patchPosition(pool_[i], rng);
      chosen.push_back({i, at});
    }
    fill(chosen, rng, images, mask, false);
  }

 private:
  // A patch's top-left corner, over the retina / brain: at least half of it valid when possible.
  std::pair<int, int> patchPosition(const PoolImage& img, std::mt19937_64& rng) const {
    const Size3 s = img.source->images.size();
    const int ph = in_.height, pw = in_.width;
    const int yLo = std::clamp(img.top - ph / 4, 0, static_cast<int>(s.y) - ph);
    const int yHi = std::clamp(img.bottom - ph / 2, yLo, static_cast<int>(s.y) - ph);
    std::uniform_int_distribution<int> ry(yLo, yHi), rx(0, static_cast<int>(s.x) - pw);
    const std::uint8_t* v = img.source->valid.data<std::uint8_t>() + img.index * s.x * s.y;
    std::pair<int, int> best{rx(rng), ry(rng)};
    for (int attempt = 0; attempt < 8; ++attempt) {
      const int x = attempt ? rx(rng) : best.first, y = attempt ? ry(rng) : best.second;
      long count = 0;
      for (int yy = y; yy < y + ph; yy += 4)
        for (int xx = x; xx < x + pw; xx += 4) count += v[yy * s.x + xx] != 0;
      if (count * 16 * 2 >= static_cast<long>(ph) * pw) return {x, y};
      best = {x, y};
    }
    return best;
  }

  void fill(const std::vector<std::pair<std::size_t, std::pair<int, int>>>& chosen, std::mt19937_64& rng, Volume& images,
            Volume* mask, bool augment) {
    const int C = in_.channels, H = in_.height, W = in_.width, N = static_cast<int>(chosen.size());
    images = Volume(PixelType::Float32, {W, H, N}, C);
    if (mask) *mask = Volume(PixelType::UInt8, {W, H, N}, 1);
    float* dst = images.data<float>();
    std::uniform_real_distribution<double> coin(0, 1), scale(0.9, 1.1);
    for (int k = 0; k < N; ++k) {
      const PoolImage& img = pool_[chosen[static_cast<std::size_t>(k)].first];
      const auto [px, py] = chosen[static_cast<std::size_t>(k)].second;
      // Augmentation: left-right flips (a right eye mirrors a left one; brains are near
      // symmetric) and, for z-scored MRI, the ADM paper's random intensity scaling per contrast.
      const bool flip = augment && coin(rng) < 0.5;
      std::vector<double> gains(static_cast<std::size_t>(C), 1.0);
      if (augment && mri_)
        for (auto& g : gains) g = scale(rng);
      const Size3 s = img.source->images.size();
      for (int c = 0; c < C; ++c)
        for (int y = 0; y < H; ++y)
          for (int x = 0; x < W; ++x) {
            const int sx = flip ? W - 1 - x : x;
            float v;
            std::uint8_t m;
            if (in_.mode == models::InputMode::WholeImage) {
              v = img.pixels[(static_cast<std::size_t>(c) * H + y) * W + sx];
              m = img.valid[static_cast<std::size_t>(y) * W + sx];
            } else {
              const std::int64_t o = ((static_cast<std::int64_t>(c) * s.z + img.index) * s.y + py + y) * s.x + px + sx;
              v = img.source->images.data<float>()[o];
              m = img.source->valid.data<std::uint8_t>()[(static_cast<std::int64_t>(img.index) * s.y + py + y) * s.x + px + sx];
            }
            dst[((static_cast<std::size_t>(c) * N + k) * H + y) * W + x] = static_cast<float>(v * gains[static_cast<std::size_t>(c)]);
            if (mask && c == 0) mask->data<std::uint8_t>()[(static_cast<std::size_t>(k) * H + y) * W + x] = m;
          }
    }
  }

  models::InputSpec in_;
  bool mri_;
  bool augment_;
  std::vector<PoolImage> pool_;
};

std::string rngText(const std::mt19937_64& rng) {
  std::ostringstream os;
  os << rng;
  return os.str();
}

// For a model that offers several image scores (ADM): the one with the highest validation AUC
// becomes its score (the first offered on a tie, or without abnormal validation images), and
// `scored` is rewritten with it. Returns the choice and every variant's AUC (null otherwise).
json chooseScoreVariant(models::AnomalyModel& model, Scored& scored,
                        const std::function<void(const std::string&)>& log) {
  const std::vector<std::string> variants = model.scoreVariants();
  if (variants.empty() || scored.images.empty()) return nullptr;
  const auto labels = scored.labels();
  const bool both = std::count(labels.begin(), labels.end(), 1) > 0 && std::count(labels.begin(), labels.end(), 0) > 0;
  std::string best = variants.front();
  json aucs = json::object();
  if (both) {
    double bestAuc = -1;
    for (const auto& v : variants) {
      std::vector<double> values;
      for (const auto& im : scored.images)
        if (im.label >= 0) values.push_back(im.variants.count(v) ? im.variants.at(v) : im.score);
      const double a = eval::auc(values, labels);
      aucs[v] = a;
      if (a > bestAuc + 1e-9) { bestAuc = a; best = v; }
    }
  }
  model.chooseScore(best);
  for (auto& im : scored.images)
    if (im.variants.count(best)) im.score = im.variants.at(best);
  log("image score: " + best + (both ? " (validation AUC by score: " + aucs.dump() + ")"
                                     : " (no abnormal validation images to choose on)"));
  return {{"chosen", best}, {"validation_auc", aucs}};
}

// What training's end and models calibrate both choose on the validation scores: the image score
// (models that offer several), the threshold, the overlay's healthy range, and the validation
// metrics at that threshold (pixel Dice at the healthy map's p99).
struct ValidationChoice {
  Threshold threshold;
  json calibration;
  std::optional<double> pixelThreshold;
  json metrics;  // {"validation": ...}
};
ValidationChoice chooseOnValidation(models::AnomalyModel& model, Scored& val, const std::string& thresholdMethod,
                                    double targetSensitivity, double healthyPercentile,
                                    const std::function<void(const std::string&)>& log) {
  ValidationChoice c;
  const json scoreChoice = chooseScoreVariant(model, val, log);
  c.threshold = chooseThreshold(val, thresholdMethod, targetSensitivity, healthyPercentile);
  c.calibration = calibrationJson(val);
  if (c.calibration.contains("healthy_map")) c.pixelThreshold = c.calibration["healthy_map"].value("p99", 0.0);
  c.metrics = {{"validation", metricsJson(val, c.threshold.value, c.pixelThreshold, true)}};
  if (!scoreChoice.is_null()) c.metrics["validation"]["score_choice"] = scoreChoice;
  log("validation: " + c.metrics["validation"].dump());
  return c;
}

}  // namespace

Pipeline trainingPipeline(const TrainingSpec& spec, const models::InputSpec& input, std::string* note) {
  DataCase example;
  try {
    const DataSet ds = openDataSet(spec.healthy, "train", 0, spec.healthyClass);
    if (!ds.cases.empty()) example = ds.cases.front();
  } catch (const Error&) {
    // Reported with its path when the data are loaded.
  }
  return Pipeline::forData(input, spec.preprocessing, example, note);
}

Trainer::Trainer(TrainingSpec spec, TrainingCallbacks callbacks) : spec_(std::move(spec)), cb_(std::move(callbacks)) {}

TrainingOutcome Trainer::run(TrainingControl& control, bool resume) {
  const auto start = Clock::now();
  auto log = [&](const std::string& m) {
    if (cb_.log) cb_.log(m);
  };
  TrainingProgress progress;
  auto phase = [&](const std::string& p) {
    progress.phase = p;
    if (cb_.progress) cb_.progress(progress);
  };
  if (spec_.out.empty()) throw Error("train", "no output model path");
  if (spec_.healthy.empty()) throw Error("train", "no healthy training data");
  if (spec_.validation.empty()) throw Error("train", "no validation data");
  const models::ModelKind kind = models::modelKindFromString(spec_.model);

  models::seedRandom(spec_.seed);
  std::unique_ptr<AnomalyModel> model = models::createModel(kind, spec_.config, spec_.overrides);
  model->setDevice(spec_.device);
  const models::InputSpec input = model->input();
  // The modality (and a one-contrast model's contrast) come from the data when the
  // specification does not name them; the card records the choice.
  const Pipeline pipeline = [&] {
    std::string note;
    Pipeline p = trainingPipeline(spec_, input, &note);
    if (!note.empty()) log("preprocessing chosen from the data: " + note);
    return p;
  }();
  const bool mri = pipeline.zScored();  // the ADM paper's intensity scaling: z-scored contrasts only
  const auto stages = model->stages();
  const bool needsMixed = std::any_of(stages.begin(), stages.end(), [](const auto& s) { return s.needsMixedSet; });
  if (needsMixed && spec_.mixed.empty())
    throw Error("train", models::displayName(kind) + " also learns from an unlabelled mixed set: give --mixed");

  // ---- data
  phase("loading");
  json leftOut = json::array();
  auto load = [&](const std::string& path, const std::string& split, int defaultLabel, const char* what) {
    DataSet ds = openDataSet(path, split, defaultLabel, spec_.healthyClass);
    if (defaultLabel == 0) {  // healthy training data: an image-labelled set gives its healthy class only
      for (const auto& [name, n] : keepHealthyImages(ds))
        log("left out of healthy training: " + std::to_string(n) + " image(s) of class " + name);
      if (ds.cases.empty()) throw Error(path, "no images of the healthy class " + spec_.healthyClass);
    }
    std::vector<Prepared> out;
    std::exception_ptr firstFailure;
    for (std::size_t i = 0; i < ds.cases.size(); ++i) {
      if (control.cancelRequested()) throw models::Cancelled();
      log(std::string("preparing ") + what + " " + std::to_string(i + 1) + "/" + std::to_string(ds.cases.size()) + ": " +
          ds.cases[i].id);
      // A case the pipeline cannot take (a B-scan that cannot be flattened, an unreadable
      // file) is left out and reported with its file and reason, never trained on half-prepared.
      try {
        out.push_back(pipeline.prepare(ds.cases[i]));
      } catch (const models::Cancelled&) {
        throw;
      } catch (const Error& e) {
        log("  left out " + ds.cases[i].id + ": " + e.message());
        leftOut.push_back({{"set", what}, {"case", ds.cases[i].id}, {"file", e.context()}, {"reason", e.reason()}});
        if (!firstFailure) firstFailure = std::current_exception();
        continue;
      }
      for (const auto& w : out.back().warnings) log("  " + ds.cases[i].id + ": " + w);
    }
    if (out.empty() && firstFailure) std::rethrow_exception(firstFailure);  // nothing usable: the first reason
    return out;
  };
  const std::vector<Prepared> healthy = load(spec_.healthy, "train", 0, "healthy");
  for (const auto& p : healthy)
    if (p.caseLabel == 1 && !p.lesions)
      throw Error(spec_.healthy, "case " + p.id + " is labelled abnormal and has no lesion mask: it cannot train a model of healthy scans");
  std::vector<Prepared> mixedCases;
  // The mixed set is unlabelled by design: every case of it, whatever split a manifest gives.
  if (needsMixed) mixedCases = load(spec_.mixed, "", -1, "mixed");
  const std::vector<Prepared> val = load(spec_.validation, "val", -1, "validation");

  Sampler healthyPool(input, mri, spec_.augment), mixedPool(input, mri, spec_.augment);
  if (spec_.lesionMarginMm >= 0 && (!input.usesMask || input.mode != models::InputMode::WholeImage))
    throw Error("train", "a lesion margin trains on the tissue around lesions, which only models that learn on a mask (ADM) "
                         "can leave out; " + models::displayName(kind) + " cannot");
  for (const auto& p : healthy) healthyPool.add(p, true, spec_.lesionMarginMm);
  for (const auto& p : mixedCases) mixedPool.add(p, false);
  if (healthyPool.size() < 2) throw Error(spec_.healthy, "fewer than two usable healthy images");
  if (needsMixed && mixedPool.size() < 2) throw Error(spec_.mixed, "fewer than two usable mixed images");
  log("training images: " + std::to_string(healthyPool.size()) + " healthy" +
      (needsMixed ? ", " + std::to_string(mixedPool.size()) + " mixed" : std::string()));

  const int batchSize = model->config().value("batch_size", 16);
  auto iterationsFor = [&](const models::TrainingStage& st) -> long {
    if (st.fitPass) return static_cast<long>((healthyPool.size() + batchSize - 1) / batchSize);
    auto it = spec_.iterations.find(st.name);
    if (it != spec_.iterations.end()) return it->second;
    return spec_.defaultIterations > 0 ? spec_.defaultIterations : st.paperIterations;
  };
  for (const auto& [name, n] : spec_.iterations)
    if (std::none_of(stages.begin(), stages.end(), [&](const auto& s) { return s.name == name; }))
      throw Error("train", models::displayName(kind) + " has no stage \"" + name + "\"");
  long total = 0;
  for (const auto& st : stages) total += iterationsFor(st);
  const int scoringStage = stages.back().fitPass ? -1 : static_cast<int>(stages.size()) - 1;

  // ---- validation selection and the engine's state
  const auto valSelection = balancedSelection(val, spec_.validationImages, spec_.seed + 17);
  std::mt19937_64 rng(spec_.seed);
  int stageIndex = 0;
  long iteration = 0, done = 0;
  double bestAuc = -1, elapsedBefore = 0;
  json history = json::array(), validations = json::array();
  const std::string ckpt = checkpointPathFor(spec_.out);
  const std::string bestPath = bestModelPathForCheckpoint(ckpt);
  const json specJson = spec_.toJson();
  auto sameRun = [&](const json& a) {  // what must match to continue a run
    for (const char* k : {"model", "config", "overrides", "seed", "healthy", "mixed", "validation", "preprocessing", "augment"})
      if (a.value(k, json()) != specJson.value(k, json())) return std::string(k);
    return std::string();
  };
  if (resume && fs::exists(ckpt)) {
    const json state = json::parse(model->loadCheckpoint(ckpt));
    const std::string differs = sameRun(state.at("spec"));
    if (!differs.empty())
      throw Error(ckpt, "checkpoint of a different run (\"" + differs + "\" differs): remove it or train without --resume");
    stageIndex = state.at("stage_index");
    iteration = state.at("iteration");
    done = state.at("done");
    bestAuc = state.at("best_auc");
    elapsedBefore = state.at("elapsed");
    history = state.at("history");
    validations = state.at("validations");
    std::istringstream is(state.at("rng").get<std::string>());
    is >> rng;
    log("resumed from " + ckpt + " at stage " + stages[static_cast<std::size_t>(std::min<int>(stageIndex, static_cast<int>(stages.size()) - 1))].name +
        ", iteration " + std::to_string(iteration));
  } else if (resume) {
    log("no checkpoint at " + ckpt + ": starting afresh");
  }

  auto elapsed = [&] { return elapsedBefore + std::chrono::duration<double>(Clock::now() - start).count(); };
  auto saveCheckpoint = [&] {
    const json state = {{"spec", specJson}, {"stage_index", stageIndex}, {"iteration", iteration}, {"done", done},
                        {"best_auc", bestAuc}, {"elapsed", elapsed()}, {"history", history},
                        {"validations", validations}, {"rng", rngText(rng)}};
    writeAtomically(ckpt, [&](const std::string& tmp) { model->saveCheckpoint(tmp, state.dump()); });
    const std::size_t st = static_cast<std::size_t>(std::min<int>(stageIndex, static_cast<int>(stages.size()) - 1));
    writeFileAtomically(ckpt + ".json", json{{"spec", specJson}, {"stage", stages[st].name}, {"iteration", iteration},
                                             {"done", done}, {"total", total}, {"elapsed", elapsed()},
                                             {"saved_at", utcNow()}}.dump(2) + "\n");
  };
  models::RunOptions scoreRun;
  scoreRun.windowOverlap = spec_.windowOverlap;
  auto sendSamples = [&] {
    if (!cb_.samples) return;
    std::vector<std::vector<int>> few(val.size());
    int taken = 0;
    for (std::size_t c = 0; c < val.size() && taken < 4; ++c)
      for (int i : valSelection[c])
        if (taken < 4) { few[c].push_back(i); ++taken; }
    for (std::size_t c = 0; c < val.size(); ++c)
      if (!few[c].empty()) {
        const Volume imgs = selectImages(val[c].images, few[c]);
        const Volume valid = selectImages(val[c].valid, few[c]);
        // analyse() restores the networks' train/eval modes as it found them: a training
        // with samples goes on exactly as one without (the CLI's).
        cb_.samples(imgs, model->analyse(imgs, &valid, scoreRun));
        break;
      }
  };
  auto validate = [&](const std::string& stageName) {
    phase("validating");
    ScoreOptions so;
    so.run = scoreRun;
    const Scored s = scoreCases(*model, val, valSelection, so);
    const auto scores = s.scores();
    const auto labels = s.labels();
    ValidationPoint vp;
    vp.stage = stageName;
    vp.iteration = iteration;
    vp.done = done;
    std::vector<double> healthyScores;
    for (std::size_t i = 0; i < scores.size(); ++i)
      if (labels[i] == 0) healthyScores.push_back(scores[i]);
    if (!healthyScores.empty()) {
      std::nth_element(healthyScores.begin(), healthyScores.begin() + static_cast<std::ptrdiff_t>(healthyScores.size() / 2), healthyScores.end());
      vp.healthyMedianScore = healthyScores[healthyScores.size() / 2];
    }
    const bool both = std::count(labels.begin(), labels.end(), 1) > 0 && std::count(labels.begin(), labels.end(), 0) > 0;
    if (both) {
      json m = metricsJson(s, 0.0, std::nullopt, false);
      vp.auc = m.at("image_auc");
      if (vp.auc > bestAuc) {
        bestAuc = vp.auc;
        vp.best = true;
        models::ModelCard card;
        card.description = "best so far (validation AUC " + std::to_string(vp.auc) + ")";
        card.preprocessing = pipeline.toJson();
        models::saveModel(*model, card, bestPath);
      }
    }
    validations.push_back({{"stage", stageName}, {"iteration", iteration}, {"done", done}, {"auc", vp.auc},
                           {"healthy_median_score", vp.healthyMedianScore}, {"best", vp.best}});
    log("validation at " + stageName + " " + std::to_string(iteration) + ": AUC " +
        (vp.auc >= 0 ? std::to_string(vp.auc) : std::string("n/a (no abnormal images)")) + (vp.best ? " (best)" : ""));
    if (cb_.validated) cb_.validated(vp);
    sendSamples();
    model->setTraining(true);
  };

  // ---- training
  const auto sessionStart = Clock::now();
  const long doneAtSessionStart = done;
  progress.stageCount = static_cast<int>(stages.size());
  progress.total = total;
  for (; stageIndex < static_cast<int>(stages.size()); ++stageIndex) {
    const auto& st = stages[static_cast<std::size_t>(stageIndex)];
    const long n = iterationsFor(st);
    if (st.fitPass && iteration > 0) {  // a fit pass is never checkpointed halfway: redo it
      done -= iteration;
      iteration = 0;
    }
    log("stage " + st.name + ": " + std::to_string(n) + " iterations (" + st.description + ")");
    model->setTraining(!st.fitPass);
    progress.phase = "training";
    for (; iteration < n; ++iteration) {
      if (!control.waitWhilePaused() || control.cancelRequested()) {
        if (st.fitPass) {
          done -= iteration;
          iteration = 0;
        }
        saveCheckpoint();
        log("cancelled; checkpoint written to " + ckpt);
        TrainingOutcome out;
        out.checkpoint = ckpt;
        out.history = history;
        return out;
      }
      models::TrainBatch batch;
      const bool wantMask = input.usesMask;
      Volume maskVol;
      if (st.fitPass) healthyPool.orderedBatch(static_cast<std::size_t>(iteration) * batchSize, batchSize, rng, batch.healthy, wantMask ? &maskVol : nullptr);
      else healthyPool.randomBatch(batchSize, rng, batch.healthy, wantMask ? &maskVol : nullptr);
      if (wantMask) batch.mask = std::move(maskVol);
      if (st.needsMixedSet) {
        Volume mixed;
        mixedPool.randomBatch(batchSize, rng, mixed, nullptr);
        batch.mixed = std::move(mixed);
      }
      const models::StepLosses losses = model->trainStep(st.name, batch);
      ++done;
      json entry = {{"stage", st.name}, {"iteration", iteration + 1}};
      for (const auto& [k, v] : losses.values) entry[k] = v;
      history.push_back(entry);
      progress.stage = st.name;
      progress.stageIndex = stageIndex;
      progress.iteration = iteration + 1;
      progress.stageIterations = n;
      progress.done = done;
      progress.elapsedSeconds = elapsed();
      const double sessionSeconds = std::chrono::duration<double>(Clock::now() - sessionStart).count();
      const long sessionDone = done - doneAtSessionStart;
      progress.etaSeconds = sessionDone > 0 ? sessionSeconds / sessionDone * static_cast<double>(total - done) : 0;
      progress.losses = losses.values;
      if (cb_.progress) cb_.progress(progress);
      const long it1 = iteration + 1;
      if (stageIndex == scoringStage && spec_.validateEvery > 0 && it1 % spec_.validateEvery == 0 && it1 < n) {
        ++iteration;  // the state a checkpoint written from here must show
        validate(st.name);
        --iteration;
        progress.phase = "training";
      }
      if (stageIndex == scoringStage && it1 < n && cb_.wantSamples && cb_.wantSamples()) sendSamples();
      if (!st.fitPass && spec_.checkpointEvery > 0 && it1 % spec_.checkpointEvery == 0 && it1 < n) {
        ++iteration;
        saveCheckpoint();
        --iteration;
      }
    }
    model->finishStage(st.name);
    iteration = 0;
    if (stageIndex + 1 < static_cast<int>(stages.size())) {
      ++stageIndex;
      saveCheckpoint();
      --stageIndex;
    }
  }
  stageIndex = static_cast<int>(stages.size());
  iteration = iterationsFor(stages.back());
  validate(stages.back().name);
  saveCheckpoint();  // training done: a crash during calibration loses no training

  // ---- the model to keep, calibration, test
  std::unique_ptr<AnomalyModel> finalModel;
  const double lastAuc = validations.empty() ? -1 : validations.back().value("auc", -1.0);
  if (bestAuc > lastAuc && fs::exists(models::modelCardPath(bestPath))) {
    log("keeping the best validation model (AUC " + std::to_string(bestAuc) + ", last " + std::to_string(lastAuc) + ")");
    finalModel = std::move(models::loadModel(bestPath, spec_.device).model);
  } else {
    finalModel = std::move(model);
  }
  finalModel->setTraining(false);
  phase("calibrating");
  ScoreOptions full;
  full.run = scoreRun;
  full.pixels = true;
  full.pixelStride = 4;
  full.healthyMarginMm = spec_.lesionMarginMm;  // the map's healthy range: healthy tissue as trained on
  auto capped = [&](const std::vector<Prepared>& cases) {
    return evaluationSelection(cases, spec_.evaluationImages);  // eval --max-images repeats it
  };
  full.progress = [&](double f) {
    progress.etaSeconds = 0;
    progress.done = done;
    (void)f;
    return !control.cancelRequested();
  };
  Scored valScored = scoreCases(*finalModel, val, capped(val), full);
  ValidationChoice chosen = chooseOnValidation(*finalModel, valScored, spec_.thresholdMethod, spec_.targetSensitivity,
                                               spec_.healthyPercentile, log);
  const Threshold& threshold = chosen.threshold;
  const json& calibration = chosen.calibration;
  const std::optional<double> pixelThreshold = chosen.pixelThreshold;
  json metrics = chosen.metrics;
  if (!spec_.test.empty()) {
    phase("testing");
    const std::vector<Prepared> test = load(spec_.test, "test", -1, "test");
    const Scored testScored = scoreCases(*finalModel, test, capped(test), full);
    metrics["test"] = metricsJson(testScored, threshold.value, pixelThreshold, true);
    log("test: " + metrics["test"].dump());
  }

  // ---- the model file
  phase("saving");
  models::ModelCard card;
  card.name = spec_.name;
  card.description = spec_.description.empty()
                         ? models::displayName(kind) + " (" + spec_.config + ") trained on " + fs::path(spec_.healthy).filename().string()
                         : spec_.description;
  card.preprocessing = pipeline.toJson();
  json iterationsDone = json::object();
  for (const auto& st : stages) iterationsDone[st.name] = iterationsFor(st);
  card.trainingData = {{"healthy", spec_.healthy}, {"healthy_cases", healthy.size()},
                       {"healthy_images", healthyPool.size()}, {"mixed", spec_.mixed},
                       {"mixed_images", mixedPool.size()}, {"validation", spec_.validation},
                       {"validation_cases", val.size()}, {"test", spec_.test},
                       {"iterations", iterationsDone}, {"seed", spec_.seed},
                       {"seconds", elapsed()}, {"device", finalModel->device()},
                       {"best_validation_auc", bestAuc}, {"validations", validations},
                       {"spec", specJson}, {"left_out", leftOut}};
  card.metrics = metrics;
  card.threshold = threshold.value;
  card.thresholdMethod = threshold.method;
  card.calibration = calibration;
  card = models::saveModel(*finalModel, card, spec_.out);
  discardCheckpoint(ckpt);
  log("saved " + models::modelCardPath(spec_.out));
  TrainingOutcome out;
  out.finished = true;
  out.modelPath = models::modelCardPath(spec_.out);
  out.card = card;
  out.history = std::move(history);
  out.validation = valScored;
  return out;
}

namespace {

std::vector<Prepared> prepareSplit(const Pipeline& pipeline, const std::string& data, const char* split,
                                   const std::string& healthyClass, const std::function<void(const std::string&)>& log) {
  DataSet ds;
  try {
    ds = openDataSet(data, split, -1, healthyClass);
  } catch (const FileError&) {
    ds = openDataSet(data, "", -1, healthyClass);  // no such split: the whole set
  }
  std::vector<Prepared> cases;
  for (const auto& c : ds.cases) {
    try {  // as training does: a case the pipeline cannot take is left out and said
      cases.push_back(pipeline.prepare(c));
    } catch (const Error& e) {
      log("left out " + c.id + ": " + e.message());
    }
  }
  if (cases.empty()) throw Error(data, std::string("no usable cases for the ") + split + " set");
  return cases;
}

}  // namespace

models::ModelCard recalibrate(const RecalibrationSpec& spec, const std::function<void(const std::string&)>& log,
                              const std::function<bool(double, const std::string&)>& progress) {
  if (spec.out.empty()) throw Error("recalibrate", "no output model named");
  models::LoadedModel loaded = models::loadModel(spec.model, spec.device, spec.overrides);
  models::ModelCard card = loaded.card;
  models::AnomalyModel& model = *loaded.model;
  const json trained = card.trainingData.value("spec", json::object());
  if (!spec.preprocessing.is_object()) throw Error("recalibrate", "preprocessing settings must be an object");
  for (const auto& [key, value] : spec.preprocessing.items()) {
    if (key != "oct" || !value.is_object()) throw Error("recalibrate", "only OCT preprocessing settings can change: " + key);
    for (const auto& [k, v] : value.items())
      if (k != "normalise_thickness" || !v.is_boolean())
        throw Error("recalibrate", "OCT preprocessing: only normalise_thickness (true or false) can change, not " + k);
    if (card.preprocessing.value("modality", std::string()) != "OCT")
      throw Error(loaded.cardPath, "is not an OCT model; its OCT preprocessing cannot change");
    // A card from before the setting keeps the flattening it was measured with unless told.
    if (!card.preprocessing["oct"].contains("normalise_thickness")) card.preprocessing["oct"]["normalise_thickness"] = false;
    card.preprocessing["oct"].update(value);
  }
  const Pipeline pipeline = Pipeline::fromJson(card.preprocessing, model.input());
  if (!spec.preprocessing.empty()) card.preprocessing = pipeline.toJson();  // what now runs, its steps said anew
  const std::string healthyClass = trained.value("healthy_class", std::string(kDefaultHealthyClass));
  const int cap = spec.evaluationImages >= 0 ? spec.evaluationImages : trained.value("evaluation_images", 0);

  ScoreOptions full;
  full.run.windowOverlap = trained.value("window_overlap", full.run.windowOverlap);
  full.pixels = true;
  full.pixelStride = 4;  // as training calibrates
  full.healthyMarginMm = trained.value("lesion_margin_mm", -1.0);
  auto scoreSet = [&](const std::string& data, const char* split) {
    const std::vector<Prepared> cases = prepareSplit(pipeline, data, split, healthyClass, log);
    ScoreOptions o = full;
    o.progress = [&](double f) { return !progress || progress(f, split); };
    Scored s = scoreCases(model, cases, evaluationSelection(cases, cap), o);
    if (progress && !progress(1.0, split)) throw Error("recalibrate", "cancelled; nothing was written");
    return s;
  };

  Scored val = scoreSet(spec.validation, "val");
  ValidationChoice chosen = chooseOnValidation(model, val, trained.value("threshold_method", std::string("auto")),
                                               trained.value("target_sensitivity", 0.9), trained.value("healthy_percentile", 99.0), log);
  const Threshold& threshold = chosen.threshold;
  const json& calibration = chosen.calibration;
  const std::optional<double> pixelThreshold = chosen.pixelThreshold;
  json metrics = chosen.metrics;
  if (!spec.test.empty()) {
    metrics["test"] = metricsJson(scoreSet(spec.test, "test"), threshold.value, pixelThreshold, true);
    log("test: " + metrics["test"].dump());
  }
  json record = {{"from", fs::absolute(loaded.cardPath).string()}, {"validation", spec.validation},
                 {"test", spec.test}, {"overrides", spec.overrides}, {"evaluation_images", cap}};
  if (!spec.preprocessing.empty()) record["preprocessing"] = spec.preprocessing;
  if (card.metrics.contains("validation")) record["previous_validation"] = card.metrics["validation"];
  if (card.metrics.contains("test")) record["previous_test"] = card.metrics["test"];
  record["previous_calibration"] = card.calibration;
  card.trainingData["recalibrated"] = record;
  card.metrics = metrics;
  card.threshold = threshold.value;
  card.thresholdMethod = threshold.method;
  card.calibration = calibration;
  return models::saveModel(model, card, spec.out);
}

}  // namespace al::training
