#include "inference/ModelCatalog.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "errors/Error.h"

namespace fs = std::filesystem;

namespace al::inference {

std::vector<std::string> bundledModelDirs() {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("ANOMALYLENS_MODELS_DIR"); env && *env) dirs.emplace_back(env);
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) dirs.push_back((exe.parent_path() / "../share/anomalylens/models").lexically_normal().string());
#ifdef ANOMALYLENS_SOURCE_MODELS_DIR
  dirs.emplace_back(ANOMALYLENS_SOURCE_MODELS_DIR);
#endif
  return dirs;
}

namespace {
// $ENV, else XDG_DATA_HOME/AnomalyLens/SUB, else ~/.local/share/AnomalyLens/SUB.
std::string userDataDir(const char* env, const char* sub) {
  if (const char* v = std::getenv(env); v && *v) return v;
  if (const char* data = std::getenv("XDG_DATA_HOME"); data && *data) return (fs::path(data) / "AnomalyLens" / sub).string();
  const char* home = std::getenv("HOME");
  return (fs::path(home && *home ? home : "/tmp") / ".local/share/AnomalyLens" / sub).string();
}
}  // namespace

std::string userModelDir() { return userDataDir("ANOMALYLENS_USER_MODELS_DIR", "models"); }

std::string trainingWorkDir() { return userDataDir("ANOMALYLENS_TRAINING_DIR", "training"); }

namespace {

std::optional<double> metric(const models::ModelCard& card, const char* split, const char* name) {
  if (card.metrics.contains(split) && card.metrics[split].contains(name) && card.metrics[split][name].is_number())
    return card.metrics[split][name].get<double>();
  return std::nullopt;
}

}  // namespace

namespace {
// A JSON file with a card's top-level fields. Invalid JSON is reported through `problems`.
bool looksLikeCard(const fs::path& f, std::vector<std::string>* problems) {
  nlohmann::json j;
  try {
    std::ifstream in(f);
    j = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    if (problems) problems->push_back(f.string() + ": not valid JSON (" + e.what() + ")");
    return false;
  }
  return j.is_object() && j.contains("format") && j.contains("kind") && j.contains("weights");
}
}  // namespace

CatalogEntry catalogEntry(const std::string& cardPath, bool bundled) {
  CatalogEntry entry;
  try {
    entry.card = models::readModelCard(cardPath);
    entry.modality = entry.card.preprocessing.value("modality", std::string(entry.card.input.value("modality", std::string("any"))));
    entry.validationAuc = metric(entry.card, "validation", "image_auc");
    entry.testAuc = metric(entry.card, "test", "image_auc");
    entry.testPixelAuc = metric(entry.card, "test", "pixel_auc");
  } catch (const nlohmann::json::exception& e) {
    // Valid JSON with fields of the wrong type (a hand-edited card).
    throw Error(cardPath, std::string("damaged model card (") + e.what() + ")");
  }
  entry.cardPath = fs::absolute(cardPath).lexically_normal().string();
  entry.bundled = bundled;
  return entry;
}

std::vector<CatalogEntry> listModels(const std::vector<std::string>& dirs, std::vector<std::string>* problems,
                                     const std::vector<std::string>& userDirs) {
  std::vector<CatalogEntry> out;
  std::set<std::string> seen;
  auto scan = [&](const std::string& dir, bool bundled) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.path().extension() == ".json") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      // Manifests, training specifications and the like sit beside cards: only cards count.
      if (!looksLikeCard(f, problems)) continue;
      try {
        CatalogEntry entry = catalogEntry(f.string(), bundled);
        if (!seen.insert(entry.card.name).second) continue;
        out.push_back(std::move(entry));
      } catch (const Error& e) {
        if (problems) problems->push_back(e.message());
      }
    }
  };
  for (const auto& d : dirs) scan(d, true);
  for (const auto& d : userDirs) scan(d, false);
  return out;
}

std::string resolveModel(const std::string& nameOrPath) {
  std::error_code ec;
  if (nameOrPath.empty()) throw Error("--model", "no model named");
  if (fs::exists(nameOrPath, ec) || fs::exists(models::modelCardPath(nameOrPath), ec)) return nameOrPath;
  for (const auto& e : listModels(bundledModelDirs(), nullptr, {userModelDir()}))
    if (e.card.name == nameOrPath) return e.cardPath;
  throw Error(nameOrPath, "no such model file, and no bundled or saved model of that name (anomalylens-cli models list shows them)");
}

}  // namespace al::inference
