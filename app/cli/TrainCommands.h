#pragma once
// The command line's long jobs: train, infer, eval, models list. Options in, core calls, files
// and progress out.

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace al::cli {

// Registers the subcommands on `app` (and `models` for `models list`); returns a function that
// runs whichever was chosen, or -1 when none of them was.
struct TrainCommands {
  void add(CLI::App& app, CLI::App& models);
  int run();  // -1: not one of these

 private:
  CLI::App* train_ = nullptr;
  CLI::App* infer_ = nullptr;
  CLI::App* eval_ = nullptr;
  CLI::App* list_ = nullptr;
  CLI::App* prep_ = nullptr;
  CLI::App* note_ = nullptr;
  std::string noteText_;
  CLI::App* calibrate_ = nullptr;

  // train
  std::string model_, config_ = "lite", healthy_, mixed_, val_, test_, out_, spec_, writeSpec_, lossLog_, device_ = "auto";
  std::string threshold_ = "auto", name_, description_;
  std::vector<std::string> sets_, stageIterations_;
  long iterations_ = -1, checkpointEvery_ = -1, validateEvery_ = -1;
  long long seed_ = -1;
  int validationImages_ = -1, evaluationImages_ = -1;
  double overlap_ = -1;
  bool resume_ = false, noAugment_ = false;
  std::string modality_, contrast_;  // preprocessing chosen at training time (the card records it)
  double octFieldMm_ = -1;
  std::string octThickness_;  // "on" / "off": OCT thickness normalisation (train, calibrate)
  double lesionMarginMm_ = -1;
  // infer / eval
  std::string input_, mask_, brainMask_, outDir_, data_, split_, healthyClass_;
  bool noOverlays_ = false;
  int maxImages_ = -1;
  // list
  std::vector<std::string> dirs_;
  bool json_ = false;
};


}  // namespace al::cli
