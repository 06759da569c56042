#pragma once
// Where model cards are found and what they say, for `anomalylens-cli models list` and the
// viewer's models panel. Reading a card never loads its weights.

#include <optional>
#include <string>
#include <vector>

#include "models/ModelFile.h"

namespace al::inference {

// $ANOMALYLENS_MODELS_DIR, then the installed share/anomalylens/models beside the program, then
// the source tree's models/ (a build that has not been installed).
std::vector<std::string> bundledModelDirs();
// $ANOMALYLENS_USER_MODELS_DIR, else ~/.local/share/AnomalyLens/models (where the training
// wizard saves).
std::string userModelDir();
// $ANOMALYLENS_TRAINING_DIR, else ~/.local/share/AnomalyLens/training: the training wizard's
// runs in progress (specification, data manifests, checkpoint, loss log), one folder each.
std::string trainingWorkDir();

struct CatalogEntry {
  std::string cardPath;
  models::ModelCard card;
  bool bundled = true;
  std::string modality;                 // "OCT", "MR"
  std::optional<double> validationAuc, testAuc, testPixelAuc;
};

// One card as the catalogue lists it. Throws al::Error naming the file and the reason when it is
// not a readable model card (not JSON, not a card, damaged fields, a weights file that is not
// beside it).
CatalogEntry catalogEntry(const std::string& cardPath, bool bundled);

// Every card in these folders (sorted by name; a model found twice is listed once, the first
// folder winning). Files that are not model cards (manifests, specs) are skipped; a card that
// cannot be read is reported through `problems` with its file and reason.
std::vector<CatalogEntry> listModels(const std::vector<std::string>& dirs, std::vector<std::string>* problems = nullptr,
                                     const std::vector<std::string>& userDirs = {});

// What the user typed for --model: a card's path (NAME.json or NAME beside NAME.json) is used as
// it is; otherwise the name of a bundled or saved model, as `models list` and the viewer show it.
// Throws naming what was typed when it is neither.
std::string resolveModel(const std::string& nameOrPath);

}  // namespace al::inference
