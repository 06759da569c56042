#include "models/ModelRegistry.h"

namespace al::models {

ResolvedConfig resolveConfig(const std::map<std::string, nlohmann::json>& presets,
                             const std::string& preset, const nlohmann::json& overrides,
                             const std::string& kind, const std::vector<std::string>& chosenInTraining) {
  auto it = presets.find(preset == "custom" ? "paper" : preset);
  if (it == presets.end()) {
    std::string names;
    for (const auto& [n, v] : presets) names += (names.empty() ? "" : ", ") + n;
    throw Error(kind + " config \"" + preset + "\"", "unknown preset; choose " + names);
  }
  ResolvedConfig r;
  r.values = applyOverrides(it->second, overrides, kind);
  nlohmann::json comparable = r.values;
  for (const auto& k : chosenInTraining) comparable[k] = it->second.at(k);
  r.name = comparable == it->second ? it->first : "custom";
  return r;
}

std::unique_ptr<TorchModel> makeTorchModel(ModelKind kind, const std::string& preset,
                                           const nlohmann::json& config) {
  switch (kind) {
    case ModelKind::AnoGan: return makeAnoGan(preset, config);
    case ModelKind::FAnoGan: return makeFAnoGan(preset, config);
    case ModelKind::SparseGan: return makeSparseGan(preset, config);
    case ModelKind::A2BGan: return makeA2BGan(preset, config);
    case ModelKind::Adm: return makeAdm(preset, config);
  }
  throw Error("model", "unknown kind");
}

InputSpec squareImageInput(const nlohmann::json& config, InputMode mode, const std::string& modality) {
  InputSpec s;
  s.channels = config.at("channels");
  s.height = s.width = config.at("image_size");
  s.mode = mode;
  s.modality = modality;
  return s;
}

ModelDescription describeModel(ModelKind kind, const std::string& preset, const nlohmann::json& overrides) {
  switch (kind) {
    case ModelKind::AnoGan: return describeAnoGan(preset, overrides);
    case ModelKind::FAnoGan: return describeFAnoGan(preset, overrides);
    case ModelKind::SparseGan: return describeSparseGan(preset, overrides);
    case ModelKind::A2BGan: return describeA2BGan(preset, overrides);
    case ModelKind::Adm: return describeAdm(preset, overrides);
  }
  throw Error("model", "unknown kind");
}

std::unique_ptr<AnomalyModel> createModel(ModelKind kind, const std::string& preset,
                                          const nlohmann::json& overrides) {
  return makeTorchModel(kind, preset, overrides);
}

std::unique_ptr<AnomalyModel> createModel(ModelKind kind, const std::string& preset) {
  return makeTorchModel(kind, preset, nlohmann::json::object());
}

}  // namespace al::models
