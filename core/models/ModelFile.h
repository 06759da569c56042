#pragma once
// Model files are data, never code: the weights as named tensors in the safetensors layout
// (an 8-byte header length, a JSON index of names, dtypes, shapes and byte ranges, then the raw
// little-endian values) beside a JSON model card that says what the weights are. Loading checks
// the card's kind and config against the weights' tensor names and shapes and the SHA-256 of the
// weights file, and refuses anything else with the file and the reason.
//
//   NAME.json         the card (what the CLI's --model and the viewer's models panel take)
//   NAME.safetensors  the weights

#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "models/AnomalyModel.h"

namespace al::models {

inline constexpr int kModelCardFormat = 1;

struct ModelCard {
  std::string name;         // e.g. "fanogan-oct-lite"
  std::string description;  // one line for the models panel
  std::string notes;        // what a user should know: limits, targets missed and why
  ModelKind kind = ModelKind::FAnoGan;
  std::string configName;
  nlohmann::json config;         // every hyper-parameter
  nlohmann::json input;          // InputSpec as JSON
  nlohmann::json preprocessing;  // what the training engine did to the images
  nlohmann::json trainingData;   // summary: sets, counts, iterations, duration
  nlohmann::json metrics;        // validation/test AUC etc.
  std::optional<double> threshold;
  std::string thresholdMethod;   // "healthy p99", "youden", ...
  nlohmann::json calibration;    // healthy score and map percentiles for overlay normalisation
  std::string created;           // ISO 8601, UTC
  std::string libtorchVersion;
  std::string weightsFile;       // relative to the card
  std::string weightsSha256;
  long parameterCount = 0;
};

nlohmann::json toJson(const ModelCard& card);
ModelCard modelCardFromJson(const nlohmann::json& j, const std::string& source);
nlohmann::json toJson(const InputSpec& spec);

// The card path for a user's model path: NAME.json for NAME, NAME.json or NAME.safetensors.
std::string modelCardPath(const std::string& path);

// Writes NAME.safetensors then NAME.json, each to a temporary file renamed into place, and
// fills in kind, config, input, weights file/hash, created and library version. Returns the
// card as written.
ModelCard saveModel(const AnomalyModel& model, ModelCard card, const std::string& path);

struct LoadedModel {
  std::unique_ptr<AnomalyModel> model;
  ModelCard card;
  std::string cardPath;
};

// Reads the card alone (cheap: the models panel lists cards without loading weights).
ModelCard readModelCard(const std::string& path);
// Card and weights, verified; the model in eval mode on `device`.
LoadedModel loadModel(const std::string& path, const std::string& device = "auto");
// The same with hyper-parameters changed that do not touch the weights (how maps are smoothed,
// the image score): `overrides` replace the card's configuration values (unknown keys and wrong
// types refused); the returned card carries the changed configuration.
LoadedModel loadModel(const std::string& path, const std::string& device, const nlohmann::json& overrides);
// The checks loadModel makes, without keeping the model; throws al::Error on the first problem.
void verifyModel(const std::string& path);

// SHA-256 of a file, lower-case hex.
std::string sha256File(const std::string& path);

}  // namespace al::models
