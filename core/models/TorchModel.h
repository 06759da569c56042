#pragma once
// The LibTorch half every method shares: its networks under one root module (so tensor names
// are stable: "G.fc.weight"), the device, save/load of named tensors, and the batched, no-grad
// analysis that tiles or resizes images and blends the maps. Included only by core/models/*.cpp.

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "models/AnomalyModel.h"

namespace al::models {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// A configuration: the preset's name (or "custom") and every hyper-parameter.
struct ResolvedConfig {
  std::string name;
  nlohmann::json values;
};

// Per-batch result of a method on inputs at its own input size.
struct BatchResult {
  torch::Tensor scores;                       // [N]
  std::map<std::string, torch::Tensor> scoreVariants;  // each [N] (Analysis::scoreVariants)
  std::map<std::string, torch::Tensor> maps;  // each [N, 1, h, w]
  torch::Tensor reconstruction;               // [N, C, h, w] or undefined
};

class TorchModel : public AnomalyModel {
 public:
  explicit TorchModel(ResolvedConfig config);

  std::string configName() const override { return cfg_.name; }
  nlohmann::json config() const override { return cfg_.values; }

  Analysis analyse(const Volume& images, const Volume* mask,
                   const RunOptions& options) const override;
  void setDevice(const std::string& device) override;
  std::string device() const override;
  void setTraining(bool training) override;
  long parameterCount() const override;
  void saveCheckpoint(const std::string& path, const std::string& callerState) override;
  std::string loadCheckpoint(const std::string& path) override;

  // Parameters and buffers, on the CPU, contiguous, in a stable order.
  NamedTensors namedTensors() const;
  // Replaces every parameter and buffer; refuses (al::Error naming `source`) a missing, extra
  // or mis-shaped tensor before changing anything.
  void loadNamedTensors(const NamedTensors& tensors, const std::string& source);

  // The networks' forward passes and one loss on fixed inputs, for the cross-check against the
  // Python reference (tests/reference). Keys are the names the reference computes too.
  virtual std::map<std::string, torch::Tensor> referenceOutputs(
      const std::map<std::string, torch::Tensor>& inputs) = 0;
  // Deterministic inputs for referenceOutputs (seeded).
  virtual std::map<std::string, torch::Tensor> referenceInputs(int batch) const = 0;

  // One batch of images [N, C, h, w] at the input size (and mask [N, 1, h, w]) on device().
  virtual BatchResult inferBatch(const torch::Tensor& x, const torch::Tensor& mask,
                                 const ProgressFn& within) const = 0;

 protected:
  // What a checkpoint keeps beyond the weights: the step counters (and anything else a step
  // depends on) as JSON, and the optimisers by name; `create` makes those not made yet, so their
  // state can be loaded before the first step after a resume.
  virtual nlohmann::json trainingCounters() const = 0;
  virtual void setTrainingCounters(const nlohmann::json& counters) = 0;
  virtual std::vector<std::pair<std::string, torch::optim::Optimizer*>> optimisers(bool create) = 0;

  // Adam with the configuration's lr, beta1 and beta2.
  torch::optim::AdamOptions adamOptions() const;

  // Buffers a model file written before they existed may lack (loading keeps their initial
  // value); every other tensor must be there.
  virtual std::vector<std::string> optionalBuffers() const { return {}; }

  ResolvedConfig cfg_;  // fixed after construction, except a score chosen on validation
  torch::nn::Module& root() { return *root_; }
  const torch::nn::Module& root() const { return *root_; }
  torch::Device dev() const { return device_; }
  // A healthy/mixed/mask batch as tensors on device(), [N, C, H, W].
  torch::Tensor batchTensor(const Volume& v, const char* what) const;

 private:
  std::shared_ptr<torch::nn::Module> root_;
  torch::Device device_{torch::kCPU};
};

// Parses "auto", "cpu", "cuda", "cuda:N"; throws al::Error when CUDA is asked for but unusable.
torch::Device resolveDevice(const std::string& device);

// Config helpers: a preset's JSON with overrides applied; refuses unknown keys.
nlohmann::json applyOverrides(const nlohmann::json& preset, const nlohmann::json& overrides,
                              const std::string& kind);

// A torch::Tensor on the CPU seeded independently of the global generator.
torch::Tensor seededUniform(std::vector<int64_t> shape, double lo, double hi, uint64_t seed);
torch::Tensor seededNormal(std::vector<int64_t> shape, uint64_t seed);

// A Gaussian blur of maps [N, 1, H, W] with standard deviation `sigma` pixels (separable, edges
// replicated); sigma <= 0 returns x. With `mask` [N, 1, H, W], a normalised convolution inside
// it (pixels outside neither give nor take) and zero outside.
torch::Tensor gaussianBlur(const torch::Tensor& x, double sigma, const torch::Tensor& mask = {});

// The gradient penalty of WGAN-GP (Gulrajani et al.): E[(||grad D(x_hat)||_2 - 1)^2] at
// x_hat = alpha * real + (1 - alpha) * fake, through double backward.
torch::Tensor gradientPenalty(const std::function<torch::Tensor(const torch::Tensor&)>& critic,
                              const torch::Tensor& real, const torch::Tensor& fake,
                              const torch::Tensor& alpha);

}  // namespace al::models
