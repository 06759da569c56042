#include "models/ModelFile.h"

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "io/AtomicFile.h"
#include "models/ModelRegistry.h"
#include "models/SafeTensors.h"

namespace al::models {

namespace fs = std::filesystem;

namespace {

std::string utcNow() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::ostringstream s;
  s << std::put_time(&tm, "%Y-%m-%dT%H:%M:%SZ");
  return s.str();
}

const TorchModel& asTorchModel(const AnomalyModel& model) {
  auto* t = dynamic_cast<const TorchModel*>(&model);
  if (!t) throw Error("model", "not a LibTorch model");
  return *t;
}

}  // namespace

ModelCard saveModel(const AnomalyModel& model, ModelCard card, const std::string& path) {
  const fs::path cardPath = modelCardPath(path);
  const fs::path weightsPath = fs::path(cardPath).replace_extension(".safetensors");
  if (!cardPath.parent_path().empty()) fs::create_directories(cardPath.parent_path());
  card.kind = model.kind();
  card.configName = model.configName();
  card.config = model.config();
  card.input = toJson(model.input());
  card.created = card.created.empty() ? utcNow() : card.created;
  card.libtorchVersion = TORCH_VERSION;
  card.parameterCount = model.parameterCount();
  if (card.name.empty()) card.name = cardPath.stem().string();
  card.weightsFile = weightsPath.filename().string();
  writeSafeTensors(weightsPath.string(), asTorchModel(model).namedTensors(),
                   {{"format", "pt"}, {"anomalylens_kind", toString(model.kind())}});
  card.weightsSha256 = sha256File(weightsPath.string());
  writeFileAtomically(cardPath.string(), toJson(card).dump(2) + "\n");
  return card;
}

LoadedModel loadModel(const std::string& path, const std::string& device) {
  return loadModel(path, device, nlohmann::json::object());
}

LoadedModel loadModel(const std::string& path, const std::string& device, const nlohmann::json& overrides) {
  LoadedModel out;
  out.cardPath = modelCardPath(path);
  out.card = readModelCard(out.cardPath);
  if (!overrides.empty()) {
    if (!overrides.is_object()) throw Error("configuration overrides", "must be a JSON object");
    for (const auto& [key, value] : overrides.items()) {
      if (!out.card.config.contains(key)) {
        // A key newer than the card (a setting added since it was trained) is taken from the preset.
        const nlohmann::json preset = makeTorchModel(out.card.kind, out.card.configName, out.card.config)->config();
        if (!preset.contains(key)) throw Error(key, "is not a hyper-parameter of this model");
        out.card.config[key] = preset.at(key);
      }
      const nlohmann::json& old = out.card.config.at(key);
      if (old.type() != value.type() && !(old.is_number() && value.is_number()))
        throw Error(key, "has the wrong type for this hyper-parameter (it is " + old.dump() + " on the card)");
      out.card.config[key] = value;
    }
  }
  const std::string weightsPath = (fs::path(out.cardPath).parent_path() / out.card.weightsFile).string();
  if (!fs::exists(weightsPath)) throw FileError(weightsPath, "the model's weights file is missing");
  const std::string hash = sha256File(weightsPath);
  if (hash != out.card.weightsSha256)
    throw FileError(weightsPath, "the weights do not match their card (SHA-256 " + hash.substr(0, 12) +
                                     "..., the card says " + out.card.weightsSha256.substr(0, 12) +
                                     "...): the file was changed, truncated or belongs to another model");
  std::unique_ptr<TorchModel> model;
  try {
    model = makeTorchModel(out.card.kind, out.card.configName, out.card.config);
  } catch (const Error& e) {
    throw FileError(out.cardPath, "the card's configuration is not usable: " + e.reason());
  }
  model->loadNamedTensors(readSafeTensors(weightsPath), weightsPath);
  model->setDevice(device);
  model->setTraining(false);
  out.model = std::move(model);
  return out;
}

void verifyModel(const std::string& path) { (void)loadModel(path, "cpu"); }

}  // namespace al::models
