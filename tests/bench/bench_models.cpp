// Benchmark (not a test): inference throughput and training-step time of every method in its
// `lite` (and f-AnoGAN also its `paper`) configuration on this machine, side by side with the
// same networks and weights in Python (Debian's python3-torch, tests/reference/bench_reference.py)
// in the same run. Run with `cmake --build build --target bench`, or alone:
//   bench_models [--quick] [--only KIND] [--threads N] [--device cpu|cuda] [--python /usr/bin/python3]
//                [--model CARD ...] [--json FILE]
// With --model, the given model files (e.g. the bundled ones, with their trained weights) are
// measured instead of freshly initialised presets, inference only; --json writes the rows.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <torch/torch.h>

#include "image/TorchBridge.h"
#include "models/ModelFile.h"
#include "models/SafeTensors.h"
#include "models/TorchModel.h"
#include "runtime/TorchRuntime.h"

using namespace al::models;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double seconds(Clock::time_point a) { return std::chrono::duration<double>(Clock::now() - a).count(); }

al::Volume randomImages(int channels, int n, int size, bool zScored) {
  al::Volume v(al::PixelType::Float32, {size, size, n}, channels);
  torch::Tensor t = zScored ? torch::randn({channels, n, size, size}) : torch::rand({channels, n, size, size}) * 2 - 1;
  std::memcpy(v.bytes(), t.data_ptr<float>(), v.byteSize());
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::string device = "auto", python = ANOMALYLENS_PYTHON, only, jsonPath;
  std::vector<std::string> modelFiles;
  int threads = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") quick = true;
    else if (a == "--device" && i + 1 < argc) device = argv[++i];
    else if (a == "--python" && i + 1 < argc) python = argv[++i];
    else if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (a == "--only" && i + 1 < argc) only = argv[++i];
    else if (a == "--model" && i + 1 < argc) modelFiles.push_back(argv[++i]);
    else if (a == "--json" && i + 1 < argc) jsonPath = argv[++i];
  }
  (void)al::torchRuntime();
  if (threads > 0) at::set_num_threads(threads);
  threads = at::get_num_threads();
  std::printf("%s; this run: %d threads, Python the same\n", al::torchRuntime().summary().c_str(), threads);
  const bool havePython = std::system((python + " -c 'import torch' > /dev/null 2>&1").c_str()) == 0;
  if (!havePython) std::printf("(python3-torch not found at %s: no Python column)\n", python.c_str());
  const fs::path dir = fs::temp_directory_path() / ("anomalylens-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir);

  std::printf("\n%-10s %-6s %9s %10s | %11s %11s %7s | %12s\n", "method", "config", "params", "input",
              "LibTorch/s", "Python/s", "ratio", "train s/step");
  struct Row { ModelKind kind; std::string config; int images; std::string file; };
  std::vector<Row> rows = {{ModelKind::AnoGan, "lite", 64, ""}, {ModelKind::FAnoGan, "lite", 1024, ""},
                           {ModelKind::FAnoGan, "paper", 128, ""}, {ModelKind::SparseGan, "lite", 32, ""},
                           {ModelKind::A2BGan, "lite", 32, ""}, {ModelKind::Adm, "lite", 32, ""}};
  if (!modelFiles.empty()) {
    rows.clear();
    for (const auto& f : modelFiles) {
      const ModelCard card = readModelCard(f);
      const int images = card.kind == ModelKind::FAnoGan ? 1024 : card.kind == ModelKind::AnoGan ? 64 : 32;
      rows.push_back({card.kind, card.configName, images, modelCardPath(f)});
    }
  }
  nlohmann::json jsonRows = nlohmann::json::array();
  for (const Row& row : rows) {
    if (!only.empty() && only != toString(row.kind)) continue;
    torch::manual_seed(1);
    std::unique_ptr<TorchModel> model;
    if (row.file.empty()) {
      model.reset(dynamic_cast<TorchModel*>(createModel(row.kind, row.config).release()));
    } else {
      model.reset(dynamic_cast<TorchModel*>(loadModel(row.file, device).model.release()));
    }
    model->setDevice(device);
    const InputSpec in = model->input();
    const int n = quick ? std::max(8, row.images / 8) : row.images;
    const int batch = model->config().at("batch_size").get<int>();

    // Training: a few steps of every stage at the configuration's batch size.
    double trainStep = 0;
    int trainSteps = 0;
    for (const auto& stage : model->stages()) {
      if (stage.fitPass || !row.file.empty()) continue;  // a trained model: inference only
      TrainBatch b;
      b.healthy = randomImages(in.channels, batch, in.height, in.zScored);
      if (stage.needsMixedSet) b.mixed = randomImages(in.channels, batch, in.height, false);
      model->trainStep(stage.name, b);  // warm-up (optimiser state, oneDNN primitives)
      const auto t0 = Clock::now();
      const int steps = quick || row.config == "paper" ? 1 : 3;  // paper: ~1 min a step
      for (int i = 0; i < steps; ++i) model->trainStep(stage.name, b);
      trainStep += seconds(t0);
      trainSteps += steps;
    }
    if (row.kind == ModelKind::Adm && row.file.empty()) {
      TrainBatch b;
      b.healthy = randomImages(in.channels, batch, in.height, true);
      model->trainStep("gmm-fit", b);
      model->finishStage("gmm-fit");
    }
    model->setTraining(false);

    // Inference at the input size (no tiling): images per second.
    const al::Volume images = randomImages(in.channels, n, in.height, in.zScored);
    RunOptions options;
    options.batchSize = std::min(n, 64);
    model->analyse(randomImages(in.channels, std::min(n, 8), in.height, in.zScored), nullptr, options);  // warm-up
    const auto t0 = Clock::now();
    model->analyse(images, nullptr, options);
    const double ours = n / seconds(t0);

    double theirs = 0;
    if (havePython) {
      const std::string card = row.file.empty() ? (dir / "m.json").string() : row.file;
      if (row.file.empty()) saveModel(*model, {}, (dir / "m").string());
      // The very images LibTorch scored, [N, C, H, W].
      NamedTensors inputs{{"x", al::toTensor(images).permute({1, 0, 2, 3}).contiguous()}};
      writeSafeTensors((dir / "x.safetensors").string(), inputs);
      const std::string out = (dir / "python.txt").string();
      const std::string cmd = python + " " ANOMALYLENS_BENCH_SCRIPT " --model " + card +
                              " --inputs " + (dir / "x.safetensors").string() + " --batch " +
                              std::to_string(options.batchSize) + " --threads " + std::to_string(threads) + " > " + out;
      if (std::system(cmd.c_str()) == 0) {
        FILE* f = std::fopen(out.c_str(), "r");
        if (f && std::fscanf(f, "%lf", &theirs) != 1) theirs = 0;
        if (f) std::fclose(f);
      }
    }
    char inputText[32];
    std::snprintf(inputText, sizeof inputText, "%dx%dx%d", in.width, in.height, in.channels);
    jsonRows.push_back({{"kind", toString(row.kind)}, {"config", row.config}, {"file", row.file},
                        {"parameters", model->parameterCount()}, {"input", inputText}, {"images", n},
                        {"libtorch_images_per_s", ours}, {"python_images_per_s", theirs},
                        {"threads", threads}, {"device", model->device()},
                        {"train_s_per_step", trainSteps ? trainStep / trainSteps : 0.0}});
    std::printf("%-10s %-6s %9ld %10s | %11.1f %11s %7s | %12.3f\n", toString(row.kind).c_str(), row.config.c_str(),
                model->parameterCount(), inputText, ours,
                theirs > 0 ? std::to_string(theirs).substr(0, std::to_string(theirs).find('.') + 2).c_str() : "-",
                theirs > 0 ? (std::to_string(ours / theirs).substr(0, 4) + "x").c_str() : "-",
                trainSteps ? trainStep / trainSteps : 0.0);
    std::fflush(stdout);
  }
  std::printf("\nImages per second of analyse() at the model's input size (AnoGAN: with its %s latent-search steps);\n"
              "ratio = LibTorch / Python on the same weights and inputs; train: seconds per trainStep at the\n"
              "configuration's batch size (a critic step for the WGANs), averaged over the stages.\n",
              "lite");
  fs::remove_all(dir);
  if (!jsonPath.empty()) std::ofstream(jsonPath) << jsonRows.dump(2) << '\n';
  return 0;
}
