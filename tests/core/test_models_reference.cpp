// Every network cross-checked against the same network written in Python (Debian's
// python3-torch, the reference framework): LibTorch saves a briefly trained tiny model (so that
// batch-norm statistics and the ADM's fixed GMM are not trivial), the inputs and its outputs
// (forward passes of every network and a loss); tests/reference/anomalylens_reference.py loads
// the same weights, recomputes them and compares: maximum relative error below 1e-4.
// Skips, saying so, when python3-torch is absent.

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>

#include "models/ModelFile.h"
#include "models/SafeTensors.h"
#include "models/TorchModel.h"
#include "SyntheticImages.h"
#include "TestPaths.h"

namespace al::models {
namespace {

namespace fs = std::filesystem;

bool pythonTorchAvailable() {
  static const bool available =
      std::system(ANOMALYLENS_PYTHON " -c 'import torch' > /dev/null 2>&1") == 0;
  return available;
}

class ReferenceTest : public ::testing::TestWithParam<ModelKind> {};

TEST_P(ReferenceTest, LibTorchMatchesThePythonReference) {
  if (!pythonTorchAvailable())
    GTEST_SKIP() << "python3-torch is not installed (" ANOMALYLENS_PYTHON "): the reference cross-check is skipped";
  // On a GPU, TF32 convolutions and matmuls would differ from the CPU reference by ~1e-3: the
  // check is of the implementation, so full float32 precision.
  at::globalContext().setAllowTF32CuDNN(false);
  at::globalContext().setAllowTF32CuBLAS(false);
  torch::manual_seed(17);
  std::unique_ptr<TorchModel> model(dynamic_cast<TorchModel*>(createModel(GetParam(), "tiny").release()));
  ASSERT_TRUE(model);
  const InputSpec in = model->input();
  for (const auto& stage : model->stages()) {
    for (unsigned i = 0; i < 3; ++i) {
      TrainBatch b;
      if (GetParam() == ModelKind::Adm) {
        auto s = al::testing::brainSlices(4, in.height, false, 100 + i);
        b.healthy = s.images;
        b.mask = s.mask;
      } else {
        b.healthy = al::testing::octPatches(4, in.height, false, 100 + i);
        b.mixed = al::testing::octPatches(4, in.height, true, 200 + i);
      }
      model->trainStep(stage.name, b);
    }
    model->finishStage(stage.name);
  }
  TempDir dir;
  const fs::path root(dir.path());
  saveModel(*model, {}, (root / "model").string());
  const auto inputs = model->referenceInputs(3);
  const auto outputs = model->referenceOutputs(inputs);
  NamedTensors in1(inputs.begin(), inputs.end()), out1;
  for (const auto& [k, v] : outputs) out1.emplace_back(k, v.detach().to(torch::kCPU));
  writeSafeTensors((root / "inputs.safetensors").string(), in1);
  writeSafeTensors((root / "outputs.safetensors").string(), out1);
  const std::string command = std::string(ANOMALYLENS_PYTHON) + " " ANOMALYLENS_REFERENCE_SCRIPT " --model " +
                              (root / "model.json").string() + " --inputs " + (root / "inputs.safetensors").string() +
                              " --outputs " + (root / "outputs.safetensors").string() + " --tolerance 1e-4";
  const int status = std::system(command.c_str());
  EXPECT_EQ(status, 0) << "the Python reference disagrees (its report is above): " << command;
}

INSTANTIATE_TEST_SUITE_P(AllKinds, ReferenceTest,
                         ::testing::Values(ModelKind::AnoGan, ModelKind::FAnoGan, ModelKind::SparseGan,
                                           ModelKind::A2BGan, ModelKind::Adm),
                         [](const auto& info) { return toString(info.param); });

}  // namespace
}  // namespace al::models
