#pragma once
// Internal: constructs the LibTorch model of a kind from a preset and a configuration.

#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "models/ModelDescription.h"
#include "models/TorchModel.h"

namespace al::models {

// `config` may be a full configuration (a loaded card) or a few overrides of the preset.
std::unique_ptr<TorchModel> makeTorchModel(ModelKind kind, const std::string& preset,
                                           const nlohmann::json& config);

// A preset by name with overrides applied: the configuration's name is the preset's when no
// value differs from it, else "custom"; `chosenInTraining` names keys that training sets itself
// (ADM's slice score), which leave the name alone. Refuses unknown presets and hyper-parameters.
ResolvedConfig resolveConfig(const std::map<std::string, nlohmann::json>& presets,
                             const std::string& preset, const nlohmann::json& overrides,
                             const std::string& kind, const std::vector<std::string>& chosenInTraining = {});

// The input of a method taking square images of `image_size` with `channels` channels.
InputSpec squareImageInput(const nlohmann::json& config, InputMode mode, const std::string& modality);

// The per-method factories (one per folder).
std::unique_ptr<TorchModel> makeAnoGan(const std::string& preset, const nlohmann::json& overrides);
std::unique_ptr<TorchModel> makeFAnoGan(const std::string& preset, const nlohmann::json& overrides);
std::unique_ptr<TorchModel> makeSparseGan(const std::string& preset, const nlohmann::json& overrides);
std::unique_ptr<TorchModel> makeA2BGan(const std::string& preset, const nlohmann::json& overrides);
std::unique_ptr<TorchModel> makeAdm(const std::string& preset, const nlohmann::json& overrides);
ModelDescription describeAnoGan(const std::string& preset, const nlohmann::json& overrides);
ModelDescription describeFAnoGan(const std::string& preset, const nlohmann::json& overrides);
ModelDescription describeSparseGan(const std::string& preset, const nlohmann::json& overrides);
ModelDescription describeA2BGan(const std::string& preset, const nlohmann::json& overrides);
ModelDescription describeAdm(const std::string& preset, const nlohmann::json& overrides);

}  // namespace al::models
