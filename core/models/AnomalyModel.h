#pragma once
// The one interface every anomaly-detection method implements (AnoGAN, f-AnoGAN, Sparse-GAN,
// A2B-GAN, ADM). No LibTorch headers here: the viewer, the CLI and the training engine hold
// models through this header; only core/models/*.cpp include LibTorch.
//
// Images travel as al::Volume, read as a stack of 2D images: [C, Z, Y, X] is Z images (OCT
// B-scans, MRI slices, patches) of C channels (contrasts). Inputs are expected already
// preprocessed to the model's InputSpec (intensity range, contrasts); the model itself handles
// size: patch models tile larger images with a sliding window, whole-image models resize.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "errors/Error.h"
#include "image/Volume.h"

namespace al::models {

enum class ModelKind { AnoGan, FAnoGan, SparseGan, A2BGan, Adm };

std::vector<ModelKind> allModelKinds();
std::string toString(ModelKind kind);  // "anogan", "fanogan", "sparsegan", "a2bgan", "adm"
ModelKind modelKindFromString(const std::string& name);  // throws al::Error naming the choices
std::string displayName(ModelKind kind);                  // "f-AnoGAN", ...

// What a method is, for the models panel, the training wizard's Method page and the cards:
// what it learns from, what its score and maps mean, what else it needs, and its paper's
// evaluation protocol with the published numbers (so they can be reproduced on its data).
struct MethodInfo {
  ModelKind kind;
  std::string name;        // "f-AnoGAN"
  std::string paper;       // the citation
  std::string learnsFrom;
  std::string score;
  std::string maps;
  std::string needs;       // data beyond healthy images, or "" when none
  std::string protocol;    // the paper's evaluation protocol
  std::string published;   // the paper's numbers
};
MethodInfo methodInfo(ModelKind kind);

enum class InputMode {
  Patches,     // fixed-size patches; a larger image is tiled by a sliding window
  WholeImage,  // the whole image, resized to the model's input size and back
};

struct InputSpec {
  int channels = 1;
  std::vector<std::string> channelNames;  // ADM: the contrasts, in order
  int height = 64;
  int width = 64;
  InputMode mode = InputMode::Patches;
  // Expected intensities: [-1, 1] for the GANs; ADM takes z-scored contrasts (unbounded).
  bool zScored = false;
  bool usesMask = false;  // ADM: pixels outside the mask (brain) are never scored
  std::string modality;   // "OCT", "MR", or "any"
};

// A named training stage with the paper's length; the engine runs them in order.
struct TrainingStage {
  std::string name;         // "gan", "encoder", "ctoc", "density", "gmm-fit"
  std::string description;
  long paperIterations = 0;  // what the paper trains (iterations of one trainStep each)
  bool needsMixedSet = false;  // A2B-GAN: the unlabelled mixed set A
  bool fitPass = false;        // a pass over the normal data without gradient steps (ADM's GMM)
};

// One batch: `healthy` is [C, N, H, W] at the model's input size; `mixed` the same shape for
// A2B-GAN; `mask` [1, N, H, W] (1 = valid pixel) where the model uses one.
struct TrainBatch {
  Volume healthy;
  std::optional<Volume> mixed;
  std::optional<Volume> mask;
};

struct StepLosses {
  std::string stage;
  long iteration = 0;                   // trainStep calls in this stage so far
  std::map<std::string, double> values;  // e.g. "d_loss", "g_loss", "gp", "l_re", ...
};

// Progress in [0, 1]; return false to cancel (the call then throws al::Cancelled).
using ProgressFn = std::function<bool(double fraction)>;

class Cancelled : public Error {
 public:
  Cancelled() : Error("", "cancelled by the user") {}
};

struct RunOptions {
  int batchSize = 64;          // patches or images per forward pass
  double windowOverlap = 0.5;  // patch models: fraction of the window shared by neighbours
  ProgressFn progress;
};

struct Analysis {
  // One score per image (Z); for patch models the aggregate of its window scores
  // (patchAggregation below).
  std::vector<double> scores;
  // Maps, each [1, Z, Y, X] float32 at the input's size and geometry: "residual", "aam",
  // "difference", "mask", "energy", ... (modelMaps() lists a model's).
  std::map<std::string, Volume> maps;
  std::optional<Volume> reconstruction;  // [C, Z, Y, X] where the method has one
  // Patch models: each image's window scores (row-major over window positions).
  std::vector<std::vector<double>> windowScores;
  // Models with more than one way to score an image (scoreVariants()): every variant's scores,
  // so that training can choose one on validation in a single pass.
  std::map<std::string, std::vector<double>> scoreVariants;
};

// How a patch model turns window scores into an image score: the mean of the highest 5% of
// the scored windows (at least one). Windows with less than half their pixels valid (mask) are
// not scored. The maximum alone lets one noisy window decide; the mean drowns a small lesion.
double patchAggregation(std::vector<double> windowScores);

class AnomalyModel {
 public:
  virtual ~AnomalyModel() = default;

  virtual ModelKind kind() const = 0;
  virtual std::string configName() const = 0;  // "paper", "lite", "tiny", or "custom"
  virtual nlohmann::json config() const = 0;    // every hyper-parameter, as the card stores it
  virtual InputSpec input() const = 0;
  virtual std::vector<std::string> mapNames() const = 0;  // the first is the overlay default
  // Alternative image scores the model offers (ADM: "p99", "top_mean", "excess_count"), empty
  // for most; chooseScore makes one of them the score (stored in the config, hence the card).
  // Throws al::Error on a name not offered.
  virtual std::vector<std::string> scoreVariants() const { return {}; }
  virtual void chooseScore(const std::string& variant);

  // Training: stages in order; one trainStep consumes one batch (GANs update the critic every
  // step and the generator every n-th, as their papers do). finishStage closes a stage (ADM fixes
  // its GMM parameters from the fit pass).
  virtual std::vector<TrainingStage> stages() const = 0;
  virtual StepLosses trainStep(const std::string& stage, const TrainBatch& batch) = 0;
  virtual void finishStage(const std::string& stage) = 0;

  // Scores and maps for every image of `images` ([C, Z, Y, X], any Y, X); `mask` [1, Z, Y, X]
  // (nonzero = valid) where available. Runs under no-grad, batched, on device().
  virtual Analysis analyse(const Volume& images, const Volume* mask,
                           const RunOptions& options) const = 0;

  // "cpu", "cuda", "cuda:1"; "auto" picks CUDA when available. Throws al::Error when the
  // device is unusable.
  virtual void setDevice(const std::string& device) = 0;
  virtual std::string device() const = 0;

  virtual void setTraining(bool training) = 0;  // train/eval mode of batch norm and dropout

  // Number of trainable parameters (all networks).
  virtual long parameterCount() const = 0;

  // Checkpoints: everything training needs to go on exactly where it stopped (weights and
  // buffers, optimiser state, step counters, the random generator) plus the caller's own state
  // (the engine's JSON), in one file. Writes `path` as given: the caller writes a temporary name
  // and renames it. loadCheckpoint returns the caller's state; throws al::Error naming the file
  // when it is not a checkpoint of this kind and configuration.
  virtual void saveCheckpoint(const std::string& path, const std::string& callerState) = 0;
  virtual std::string loadCheckpoint(const std::string& path) = 0;
};

// Seeds LibTorch's generators (CPU and CUDA): the same seed gives the same initial weights and
// the same noise, hence the same losses, on the same device and thread count.
void seedRandom(unsigned long long seed);

// A new, randomly initialised model. `preset` is "paper", "lite" or "tiny" (tests); `overrides`
// replace single hyper-parameters of the preset (then configName() is "custom"). Throws al::Error
// on an unknown preset or hyper-parameter.
std::unique_ptr<AnomalyModel> createModel(ModelKind kind, const std::string& preset,
                                          const nlohmann::json& overrides);
std::unique_ptr<AnomalyModel> createModel(ModelKind kind, const std::string& preset);

}  // namespace al::models
