#pragma once
// The training engine: one run from a specification to a model file with a measured card.
// The CLI (`anomalylens-cli train`) and the viewer's training wizard both drive this class, the
// wizard from a worker thread; everything a GUI needs comes through callbacks (progress, losses,
// validation, sample reconstructions) and a thread-safe control (pause, resume, cancel).
//
// A run: read and prepare the data (Pipeline) -> train the model's stages in order -> validate
// every `validateEvery` iterations of the scoring stage, keeping the best model by validation
// AUC -> calibrate the threshold on the validation split -> measure on the test split -> write
// the model and its card (temporary file + rename). Checkpoints every `checkpointEvery`
// iterations and at every stage end (and on cancel) hold the model, its optimisers, the random
// generators and the engine's own state, so a killed run resumes losing at most one interval,
// and a resumed run continues with the same losses as one that never stopped.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/AnomalyModel.h"
#include "models/ModelFile.h"
#include "training/Evaluation.h"

namespace al::training {

struct TrainingSpec {
  std::string model;            // "anogan", "fanogan", "sparsegan", "a2bgan", "adm"
  std::string config = "lite";  // preset
  nlohmann::json overrides = nlohmann::json::object();  // single hyper-parameters
  std::string healthy;     // folder or manifest; its "train" split when it has splits
  std::string mixed;       // A2B-GAN's unlabelled set; its "train" split (all labels)
  std::string validation;  // its "val" split
  std::string test;        // optional; its "test" split: the card's test metrics
  std::string out;         // the model path (NAME -> NAME.json + NAME.safetensors)
  std::string name;        // for the card; default: the file name
  std::string description;
  std::string device = "auto";
  std::uint64_t seed = 1;
  std::map<std::string, long> iterations;  // per stage; stages not named use defaultIterations
  long defaultIterations = 1000;           // 0: the paper's length
  long checkpointEvery = 200;
  long validateEvery = 250;   // 0: validate only at the end
  int validationImages = 160;  // images per periodic validation (balanced); the final one uses all
  int evaluationImages = 0;    // cap for the final validation and test scoring (0: all)
  double windowOverlap = 0.5;  // patch models' sliding window when scoring
  bool augment = true;
  std::string thresholdMethod = "auto";  // auto, youden, sensitivity, best-f1, healthy-percentile
  double targetSensitivity = 0.9;
  double healthyPercentile = 99.0;
  nlohmann::json preprocessing = nlohmann::json::object();  // Pipeline option overrides
  int maxTrainImages = 0;  // 0: every healthy image
  std::string healthyClass = kDefaultHealthyClass;  // class-folder layouts: the healthy class
  // Negative: healthy training takes the lesion-free images only (the papers). Otherwise models
  // that learn on a mask (ADM) also take the lesion slices of masked training cases, with every
  // pixel within this many mm of a lesion (in plane and across slices) left out of the mask, so
  // of the losses and the GMM fit: the healthy tissue of those slices. With few patients the
  // lesion-free slices alone leave out the central anatomy where lesions usually sit.
  double lesionMarginMm = -1;

  nlohmann::json toJson() const;
  // Throws al::Error naming `source` and the key on a wrong or unknown field.
  static TrainingSpec fromJson(const nlohmann::json& j, const std::string& source);
};

struct TrainingProgress {
  std::string stage;
  int stageIndex = 0, stageCount = 0;
  long iteration = 0, stageIterations = 0;  // within the stage
  long done = 0, total = 0;                 // over all stages
  double elapsedSeconds = 0, etaSeconds = 0;
  std::map<std::string, double> losses;
  std::string phase;  // "loading", "training", "validating", "calibrating", "testing", "saving"
};

struct ValidationPoint {
  std::string stage;
  long iteration = 0;
  long done = 0;
  double auc = -1;  // -1 without abnormal validation images
  double healthyMedianScore = 0;
  bool best = false;
};

struct TrainingCallbacks {
  std::function<void(const std::string&)> log;
  std::function<void(const TrainingProgress&)> progress;  // after every iteration and phase change
  std::function<void(const ValidationPoint&)> validated;
  // A few validation images with the model's analysis (reconstruction, maps): at each
  // validation and, in the scoring stage, whenever `wantSamples` says so (polled after every
  // iteration; the wizard asks every few seconds). Analysis draws no random numbers, so samples
  // never change the losses.
  std::function<void(const Volume& images, const models::Analysis& analysis)> samples;
  std::function<bool()> wantSamples;
};

// Shared between the thread that trains and the one that steers (the GUI, a signal handler).
class TrainingControl {
 public:
  void cancel();
  void pause();
  void resume();
  bool cancelRequested() const { return cancel_.load(); }
  bool paused() const { return paused_.load(); }
  // Blocks while paused; returns false when cancelled.
  bool waitWhilePaused();

 private:
  std::atomic<bool> cancel_{false}, paused_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
};

struct TrainingOutcome {
  bool finished = false;  // false: cancelled, a checkpoint was written
  std::string modelPath;  // the card written (finished)
  std::string checkpoint;
  models::ModelCard card;
  // Every iteration's losses so far ({"stage", "iteration", loss: value}), a resumed run's
  // included: the same for the wizard and the CLI given the same specification.
  nlohmann::json history = nlohmann::json::array();
  Scored validation;  // the final validation scores (finished): the wizard's ROC and threshold
};

// Where a checkpointed run stands, from the small JSON written beside each checkpoint
// (CKPT.json), so a viewer can offer to resume without loading LibTorch weights.
struct CheckpointSummary {
  std::string checkpoint;
  TrainingSpec spec;
  std::string stage;
  long iteration = 0, done = 0, total = 0;
  double elapsedSeconds = 0;
  std::string savedAt;  // ISO 8601, UTC
};
// nullopt when there is no readable summary or its checkpoint is gone.
std::optional<CheckpointSummary> readCheckpointSummary(const std::string& checkpoint);
// The checkpointed runs in `dir` and its immediate subfolders, newest first.
std::vector<CheckpointSummary> findInterruptedRuns(const std::string& dir);
// Removes a run's checkpoint, its summary and its best-so-far model.
void discardCheckpoint(const std::string& checkpoint);

// The wizard's Save: the trained model at `trained` written to `out` with a threshold chosen
// on its validation scores (chooseThreshold, or the user's) and its validation metrics at that
// threshold; `name` and `description` replace the card's when not empty. Returns the card.
models::ModelCard saveWithThreshold(const std::string& trained, const std::string& out, const Scored& validation,
                                    const Threshold& threshold, const std::string& name, const std::string& description);

// Calibrating a trained model again without training: on the validation data given (a site's own
// healthy and labelled scans, or the training's), optionally with hyper-parameters changed that do
// not touch the weights (`overrides`, e.g. map_sigma), the model's image score, threshold and the
// overlay's healthy range are chosen again as training chooses them (the settings its card
// recorded), validation and, when `test` is given, test metrics measured; written to `out` with
// the same weights. The card records what was done under training_data.recalibrated.
struct RecalibrationSpec {
  std::string model;            // a card
  std::string validation;       // its "val" split is used when it has one, else all of it
  std::string test;             // optional: its "test" split, else all of it
  nlohmann::json overrides = nlohmann::json::object();
  // Preprocessing settings that do not change the model's input size, merged into the card's
  // (e.g. {"oct": {"normalise_thickness": true}}); an OCT key on a card of another modality is an error.
  nlohmann::json preprocessing = nlohmann::json::object();
  int evaluationImages = -1;    // -1: as the card's training did; 0: all
  std::string out;
  std::string device = "auto";
};
models::ModelCard recalibrate(const RecalibrationSpec& spec, const std::function<void(const std::string&)>& log,
                              const std::function<bool(double, const std::string&)>& progress = {});

// Losses as CSV: stage, iteration, then one column per loss name (empty where a stage has
// none), written atomically.
void writeLossHistory(const std::string& path, const nlohmann::json& history);

// OUT.ckpt beside the model (NAME for NAME, NAME.json or NAME.safetensors).
std::string checkpointPathFor(const std::string& out);

// The preprocessing a run of `spec` uses: the model's input, the spec's preprocessing options,
// and the modality (and MR contrast) that the first healthy training case calls for
// (Pipeline::forData). The engine and the wizard's preview and data check share it.
Pipeline trainingPipeline(const TrainingSpec& spec, const models::InputSpec& input, std::string* note = nullptr);

class Trainer {
 public:
  explicit Trainer(TrainingSpec spec, TrainingCallbacks callbacks = {});
  // `resume`: continue from the checkpoint when one exists (a fresh start otherwise). Throws
  // al::Error on bad data or a checkpoint that belongs to another specification.
  TrainingOutcome run(TrainingControl& control, bool resume = false);

 private:
  TrainingSpec spec_;
  TrainingCallbacks cb_;
};

// Image i of a prepared case with a lesion mask: its valid pixels less those within `marginMm`
// of a lesion, in plane and across neighbouring slices (MRI: the prepared grid's pixel size and
// the scan's slice spacing; otherwise 1 mm pixels). What TrainingSpec::lesionMarginMm trains on.
std::vector<std::uint8_t> tissueAwayFromLesions(const Prepared& p, int i, double marginMm);

}  // namespace al::training
