// AnoGAN (Schlegl et al., IPMI 2017): a DCGAN learns healthy 64x64 patches; a query is mapped to
// the latent space by Γ gradient steps on z minimising (1-λ)·Σ|x - G(z)| + λ·Σ|f(x) - f(G(z))|;
// its score is that loss at the last step and its map the residual |x - G(z_Γ)|.
// Deviation [map_sigma, default 0]: the B-scan's blended residual map smoothed by a Gaussian of
// that many pixels (TorchModel::analyse).

#include "models/ModelRegistry.h"
#include "models/anogan/AnoGanNetworks.h"

namespace al::models {

namespace {

using nlohmann::json;
namespace F = torch::nn::functional;

const std::map<std::string, json>& presets() {
  static const std::map<std::string, json> p = {
      {"paper", {{"image_size", 64}, {"channels", 1}, {"z_dim", 100}, {"base", 64}, {"kernel", 5},
                 {"lr", 2e-4}, {"beta1", 0.5}, {"beta2", 0.999}, {"batch_size", 64}, {"epochs", 20},
                 {"lambda", 0.1}, {"mapping_steps", 500}, {"mapping_lr", 0.05}, {"mapping_seed", 1234}, {"map_sigma", 0.0}}},
      // lite: a quarter of the widths and 4x4 kernels (DCGAN's own), 100 mapping steps.
      {"lite", {{"image_size", 64}, {"channels", 1}, {"z_dim", 100}, {"base", 16}, {"kernel", 4},
                {"lr", 2e-4}, {"beta1", 0.5}, {"beta2", 0.999}, {"batch_size", 64}, {"epochs", 20},
                {"lambda", 0.1}, {"mapping_steps", 100}, {"mapping_lr", 0.05}, {"mapping_seed", 1234}, {"map_sigma", 0.0}}},
      {"tiny", {{"image_size", 32}, {"channels", 1}, {"z_dim", 16}, {"base", 4}, {"kernel", 4},
                {"lr", 2e-3}, {"beta1", 0.5}, {"beta2", 0.999}, {"batch_size", 16}, {"epochs", 1},
                {"lambda", 0.1}, {"mapping_steps", 30}, {"mapping_lr", 0.1}, {"mapping_seed", 1234}, {"map_sigma", 0.0}}},
  };
  return p;
}

// A configuration's checks, input and stages, without networks: the model uses them, and so
// does describeModel (the training wizard, as the user picks).
void checkConfig(const json& c) {
  const int imageSize = c.at("image_size"), kernel = c.at("kernel");
  if (imageSize % 16 || imageSize < 16)
    throw Error("anogan config", "image_size must be a multiple of 16 (four stride-2 layers)");
  if (kernel != 4 && kernel != 5) throw Error("anogan config", "kernel must be 4 or 5");
  const double sigma = c.value("map_sigma", 0.0);
  if (!(sigma >= 0 && sigma <= imageSize / 8.0)) throw Error("anogan config", "map_sigma must be between 0 and an eighth of image_size");
}

InputSpec inputOf(const json& c) { return squareImageInput(c, InputMode::Patches, "OCT"); }

std::vector<TrainingStage> stagesOf(const json& c) {
  const long perEpoch = 1000000 / c.at("batch_size").get<long>();
  return {{"gan", "DCGAN on healthy patches (Adam, one D and one G step per batch)",
           perEpoch * c.at("epochs").get<long>(), false, false}};
}

class AnoGanModel final : public TorchModel {
 public:
  explicit AnoGanModel(ResolvedConfig cfg) : TorchModel(std::move(cfg)) {
    const json& c = cfg_.values;
    shape_.imageSize = c.at("image_size");
    shape_.channels = c.at("channels");
    shape_.zDim = c.at("z_dim");
    shape_.base = c.at("base");
    shape_.kernel = c.at("kernel");
    checkConfig(c);
    lambda_ = c.at("lambda");
    G_ = root().register_module("G", anogan::Generator(shape_));
    D_ = root().register_module("D", anogan::Discriminator(shape_));
    anogan::dcganInit(*G_);
    anogan::dcganInit(*D_);
  }

  ModelKind kind() const override { return ModelKind::AnoGan; }
  InputSpec input() const override { return inputOf(cfg_.values); }
  std::vector<std::string> mapNames() const override { return {"residual"}; }

  std::vector<TrainingStage> stages() const override { return stagesOf(cfg_.values); }

  StepLosses trainStep(const std::string& stage, const TrainBatch& batch) override {
    if (stage != "gan") throw Error("anogan", "unknown training stage \"" + stage + "\"");
    ensureOptimisers();
    setTraining(true);
    const torch::Tensor x = batchTensor(batch.healthy, "healthy batch");
    const int64_t n = x.size(0);
    const torch::Tensor ones = torch::ones({n}, x.options()), zeros = torch::zeros({n}, x.options());
    torch::Tensor z = torch::rand({n, shape_.zDim}, x.options()) * 2 - 1;

    optD_->zero_grad();
    torch::Tensor fake = G_(z);
    auto [realLogit, realFeat] = D_(x);
    auto [fakeLogit, fakeFeat] = D_(fake.detach());
    torch::Tensor dLoss = F::binary_cross_entropy_with_logits(realLogit, ones) +
                          F::binary_cross_entropy_with_logits(fakeLogit, zeros);
    dLoss.backward();
    optD_->step();

    optG_->zero_grad();
    torch::Tensor gLoss = F::binary_cross_entropy_with_logits(D_(fake).first, ones);
    gLoss.backward();
    optG_->step();

    StepLosses out{stage, ++iteration_, {}};
    out.values["d_loss"] = dLoss.item<double>();
    out.values["g_loss"] = gLoss.item<double>();
    out.values["d_real"] = torch::sigmoid(realLogit).mean().item<double>();
    out.values["d_fake"] = torch::sigmoid(fakeLogit).mean().item<double>();
    return out;
  }
  void finishStage(const std::string&) override {}

  // The iterative mapping, batched: every patch has its own z; G and D are frozen in eval mode,
  // so the patches of a batch do not influence each other.
  BatchResult inferBatch(const torch::Tensor& x, const torch::Tensor&, const ProgressFn& within) const override {
    auto& G = const_cast<anogan::Generator&>(G_);
    auto& D = const_cast<anogan::Discriminator&>(D_);
    const int steps = cfg_.values.at("mapping_steps");
    const int64_t n = x.size(0);
    torch::Tensor fx = D->forward(x).second.detach();
    torch::Tensor z = seededUniform({n, shape_.zDim}, -1, 1, cfg_.values.at("mapping_seed").get<uint64_t>())
                          .to(x.device()).requires_grad_(true);
    {
      torch::AutoGradMode enable(true);
      torch::optim::Adam opt({z}, torch::optim::AdamOptions(cfg_.values.at("mapping_lr").get<double>()));
      for (int t = 0; t < steps; ++t) {
        torch::Tensor loss = mappingLoss(G, D, x, fx, z).sum();
        z.mutable_grad() = torch::autograd::grad({loss}, {z})[0];
        opt.step();
        {
          torch::NoGradGuard ng;
          z.clamp_(-1, 1);
        }
        if (within && (t % 5 == 4) && !within(static_cast<double>(t + 1) / steps)) throw Cancelled();
      }
    }
    torch::NoGradGuard ng;
    torch::Tensor g = G->forward(z);
    torch::Tensor fg = D->forward(g).second;
    BatchResult r;
    const torch::Tensor residual = (x - g).abs().flatten(1).sum(1);
    const torch::Tensor discrimination = (fx - fg).abs().flatten(1).sum(1);
    r.scores = (1 - lambda_) * residual + lambda_ * discrimination;
    r.maps["residual"] = (x - g).abs().mean(1, true);
    r.reconstruction = g;
    return r;
  }

  std::map<std::string, torch::Tensor> referenceInputs(int batch) const override {
    return {{"x", seededUniform({batch, shape_.channels, shape_.imageSize, shape_.imageSize}, -1, 1, 11)},
            {"z", seededUniform({batch, shape_.zDim}, -1, 1, 12)}};
  }

  std::map<std::string, torch::Tensor> referenceOutputs(const std::map<std::string, torch::Tensor>& in) override {
    setTraining(false);
    torch::NoGradGuard ng;
    const torch::Tensor x = in.at("x").to(dev()), z = in.at("z").to(dev());
    torch::Tensor g = G_(z);
    auto [logits, features] = D_(x);
    torch::Tensor fx = features;
    std::map<std::string, torch::Tensor> out;
    out["G"] = g;
    out["D.logits"] = logits;
    out["D.features"] = features;
    out["mapping_loss"] = mappingLoss(G_, D_, x, fx, z);
    const torch::Tensor ones = torch::ones_like(logits);
    out["d_loss"] = F::binary_cross_entropy_with_logits(logits, ones) +
                    F::binary_cross_entropy_with_logits(D_(g).first, torch::zeros_like(logits));
    return out;
  }

 private:
  torch::Tensor mappingLoss(anogan::Generator& G, anogan::Discriminator& D, const torch::Tensor& x,
                            const torch::Tensor& fx, const torch::Tensor& z) const {
    torch::Tensor g = G->forward(z);
    torch::Tensor fg = D->forward(g).second;
    return (1 - lambda_) * (x - g).abs().flatten(1).sum(1) + lambda_ * (fx - fg).abs().flatten(1).sum(1);
  }

  nlohmann::json trainingCounters() const override { return {{"iteration", iteration_}}; }
  void setTrainingCounters(const nlohmann::json& c) override { iteration_ = c.at("iteration"); }
  std::vector<std::pair<std::string, torch::optim::Optimizer*>> optimisers(bool create) override {
    if (create) ensureOptimisers();
    return {{"G", optG_.get()}, {"D", optD_.get()}};
  }

  void ensureOptimisers() {
    if (optG_) return;
    const auto opts = adamOptions();
    optG_ = std::make_unique<torch::optim::Adam>(G_->parameters(), opts);
    optD_ = std::make_unique<torch::optim::Adam>(D_->parameters(), opts);
  }

  anogan::DcganShape shape_;
  double lambda_ = 0.1;
  anogan::Generator G_{nullptr};
  anogan::Discriminator D_{nullptr};
  std::unique_ptr<torch::optim::Adam> optG_, optD_;
  long iteration_ = 0;
};

}  // namespace

std::unique_ptr<TorchModel> makeAnoGan(const std::string& preset, const nlohmann::json& overrides) {
  return std::make_unique<AnoGanModel>(resolveConfig(presets(), preset, overrides, "anogan"));
}

ModelDescription describeAnoGan(const std::string& preset, const nlohmann::json& overrides) {
  const ResolvedConfig cfg = resolveConfig(presets(), preset, overrides, "anogan");
  checkConfig(cfg.values);
  return {cfg.name, cfg.values, inputOf(cfg.values), stagesOf(cfg.values)};
}

}  // namespace al::models
