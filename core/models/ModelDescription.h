#pragma once
// What a configuration of a method is, without building its networks: its resolved
// hyper-parameters, the input it takes and its training stages. Building a paper-size network
// takes a second or more (its weights are allocated and initialised); the training wizard needs
// these facts as the user picks, on the GUI thread.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/AnomalyModel.h"

namespace al::models {

struct ModelDescription {
  std::string configName;  // the preset's, or "custom" when an override changes it
  nlohmann::json config;
  InputSpec input;
  std::vector<TrainingStage> stages;
};

// Throws al::Error, as createModel would, on an unknown preset, hyper-parameter or a value the
// networks cannot be built with.
ModelDescription describeModel(ModelKind kind, const std::string& preset,
                               const nlohmann::json& overrides = nlohmann::json::object());

}  // namespace al::models
