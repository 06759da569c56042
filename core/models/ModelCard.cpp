#include "models/ModelFile.h"

// The model card half of a model file: reading, writing and checking the JSON card and hashing
// the weights file. No LibTorch here: the models panel lists cards without it, and the card
// parser is fuzzed on its own (tests/fuzz/fuzz_model_file.cpp).

#include <openssl/evp.h>

#include <filesystem>
#include <fstream>
#include <iomanip>
#include <memory>
#include <sstream>
#include <vector>

#include "runtime/BoundedJson.h"

namespace al::models {

namespace fs = std::filesystem;

std::string sha256File(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, "cannot open the file to hash it");
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
    throw FileError(path, "SHA-256 is unavailable (OpenSSL)");
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    if (in.gcount() > 0) EVP_DigestUpdate(ctx.get(), buffer.data(), static_cast<std::size_t>(in.gcount()));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &length);
  std::ostringstream hex;
  for (unsigned int i = 0; i < length; ++i) hex << std::hex << std::setw(2) << std::setfill('0') << int(digest[i]);
  return hex.str();
}

nlohmann::json toJson(const InputSpec& spec) {
  return {{"channels", spec.channels},
          {"channel_names", spec.channelNames},
          {"height", spec.height},
          {"width", spec.width},
          {"mode", spec.mode == InputMode::Patches ? "patches" : "whole-image"},
          {"z_scored", spec.zScored},
          {"uses_mask", spec.usesMask},
          {"modality", spec.modality}};
}

nlohmann::json toJson(const ModelCard& c) {
  nlohmann::json j = {{"format", "anomalylens-model"},
                      {"format_version", kModelCardFormat},
                      {"name", c.name},
                      {"description", c.description},
                      {"notes", c.notes},
                      {"kind", toString(c.kind)},
                      {"config_name", c.configName},
                      {"config", c.config},
                      {"input", c.input},
                      {"preprocessing", c.preprocessing},
                      {"training_data", c.trainingData},
                      {"metrics", c.metrics},
                      {"threshold", c.threshold ? nlohmann::json(*c.threshold) : nlohmann::json()},
                      {"threshold_method", c.thresholdMethod},
                      {"calibration", c.calibration},
                      {"created", c.created},
                      {"libtorch_version", c.libtorchVersion},
                      {"parameter_count", c.parameterCount},
                      {"weights", {{"file", c.weightsFile}, {"sha256", c.weightsSha256}}}};
  return j;
}

ModelCard modelCardFromJson(const nlohmann::json& j, const std::string& source) {
  ModelCard c;
  try {
    if (!j.is_object() || j.value("format", "") != "anomalylens-model")
      throw FileError(source, "not an AnomalyLens model card (no \"format\": \"anomalylens-model\")");
    const int version = j.at("format_version").get<int>();
    if (version > kModelCardFormat)
      throw FileError(source, "model card format " + std::to_string(version) +
                                  " is newer than this AnomalyLens reads (" + std::to_string(kModelCardFormat) + ")");
    c.name = j.value("name", "");
    c.description = j.value("description", "");
    c.notes = j.value("notes", "");
    c.kind = modelKindFromString(j.at("kind").get<std::string>());
    c.configName = j.at("config_name").get<std::string>();
    c.config = j.at("config");
    c.input = j.value("input", nlohmann::json::object());
    c.preprocessing = j.value("preprocessing", nlohmann::json::object());
    c.trainingData = j.value("training_data", nlohmann::json::object());
    c.metrics = j.value("metrics", nlohmann::json::object());
    if (j.contains("threshold") && j["threshold"].is_number()) c.threshold = j["threshold"].get<double>();
    c.thresholdMethod = j.value("threshold_method", "");
    c.calibration = j.value("calibration", nlohmann::json::object());
    c.created = j.value("created", "");
    c.libtorchVersion = j.value("libtorch_version", "");
    c.parameterCount = j.value("parameter_count", 0L);
    c.weightsFile = j.at("weights").at("file").get<std::string>();
    c.weightsSha256 = j.at("weights").at("sha256").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    throw FileError(source, std::string("malformed model card (") + e.what() + ")");
  } catch (const FileError&) {
    throw;
  } catch (const Error& e) {
    throw FileError(source, e.reason());
  }
  if (c.weightsFile.empty() || fs::path(c.weightsFile).has_parent_path())
    throw FileError(source, "the card's weights file must be a file name beside the card");
  return c;
}

std::string modelCardPath(const std::string& path) {
  fs::path p(path);
  if (p.extension() == ".json") return p.string();
  if (p.extension() == ".safetensors") return p.replace_extension(".json").string();
  return p.string() + ".json";
}

ModelCard readModelCard(const std::string& path) {
  const std::string cardPath = modelCardPath(path);
  std::ifstream in(cardPath, std::ios::binary | std::ios::ate);
  if (!in) throw FileError(cardPath, "cannot open the model card");
  // A card is a few kilobytes; one of megabytes is not a card and is not read into memory.
  constexpr std::streamoff kMaxCard = 1 << 20;
  const std::streamoff size = in.tellg();
  if (size < 0 || size > kMaxCard) {
    throw FileError(cardPath, "the model card is " + std::to_string(size) + " bytes, more than a card's limit of 1 MiB: refused");
  }
  std::string text(static_cast<std::size_t>(size), '\0');
  in.seekg(0);
  in.read(text.data(), size);
  return modelCardFromJson(parseBoundedJson(text, cardPath, "the model card"), cardPath);
}

}  // namespace al::models
