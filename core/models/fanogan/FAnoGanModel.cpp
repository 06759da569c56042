// f-AnoGAN (Schlegl et al., MedIA 2019). Stage 1 trains a ResNet WGAN-GP on healthy patches;
// stage 2 trains the encoder E with G and the critic frozen (izi_f: image -> z -> image, with
// the critic's features as a second residual). Score A(x) = A_R + κ·A_D, map |x - G(E(x))|.
// Deviation [map_sigma, default 0]: the B-scan's blended residual map smoothed by a Gaussian of
// that many pixels (TorchModel::analyse; a lesion is a region, the residual is grainy).

#include "models/ModelRegistry.h"
#include "models/fanogan/FAnoGanNetworks.h"

namespace al::models {

namespace {

using nlohmann::json;

json preset(int imageSize, int zDim, int dim, double lr, double encoderLr, int batch) {
  return {{"image_size", imageSize}, {"channels", 1}, {"z_dim", zDim}, {"dim", dim},
          {"lr", lr}, {"beta1", 0.0}, {"beta2", 0.9}, {"n_critic", 5}, {"gp_weight", 10.0},
          {"batch_size", batch}, {"gan_iterations", 100000}, {"kappa", 1.0},
          {"encoder_lr", encoderLr}, {"encoder_iterations", 50000}, {"encoder_training", "izi_f"}, {"map_sigma", 0.0}};
}

const std::map<std::string, json>& presets() {
  static const std::map<std::string, json> p = {
      {"paper", preset(64, 128, 64, 1e-4, 5e-5, 64)},
      // lite: DIM 16 (140 patches/s scored on 2 cores against 16 at DIM 64), same structure.
      {"lite", preset(64, 128, 16, 1e-4, 5e-5, 64)},
      {"tiny", preset(32, 16, 4, 1e-3, 1e-3, 16)},
  };
  return p;
}

// A configuration's checks, input and stages, without networks: the model uses them, and so
// does describeModel (the training wizard, as the user picks).
void checkConfig(const json& c) {
  const int imageSize = c.at("image_size");
  if (imageSize % 16 || imageSize < 16)
    throw Error("fanogan config", "image_size must be a multiple of 16 (four resampling blocks)");
  const std::string mode = c.at("encoder_training");
  if (mode != "izi_f" && mode != "izi" && mode != "ziz")
    throw Error("fanogan config", "encoder_training must be izi_f, izi or ziz");
  const double sigma = c.value("map_sigma", 0.0);
  if (!(sigma >= 0 && sigma <= imageSize / 8.0)) throw Error("fanogan config", "map_sigma must be between 0 and an eighth of image_size");
}

InputSpec inputOf(const json& c) { return squareImageInput(c, InputMode::Patches, "OCT"); }

// The paper's "100,000 iterations" are the authors' code's loop iterations, which count critic
// updates (one trainStep here): with a generator update every n_critic = 5 that is 20,000
// generator updates, not 100,000.
std::vector<TrainingStage> stagesOf(const json& c) {
  return {{"wgan", "WGAN-GP: a critic step per batch, a generator step every n_critic (Adam)",
           c.at("gan_iterations").get<long>(), false, false},
          {"encoder", "encoder E with G and the critic frozen (" + c.at("encoder_training").get<std::string>() + ", RMSprop)",
           c.at("encoder_iterations").get<long>(), false, false}};
}

class FAnoGanModel final : public TorchModel {
 public:
  explicit FAnoGanModel(ResolvedConfig cfg) : TorchModel(std::move(cfg)) {
    const json& c = cfg_.values;
    shape_.imageSize = c.at("image_size");
    shape_.channels = c.at("channels");
    shape_.zDim = c.at("z_dim");
    shape_.dim = c.at("dim");
    checkConfig(c);
    mode_ = c.at("encoder_training").get<std::string>();
    kappa_ = c.at("kappa");
    G_ = root().register_module("G", fanogan::Generator(shape_));
    D_ = root().register_module("D", fanogan::ResNetTrunk(shape_, fanogan::Norm::Layer, 1, false));
    E_ = root().register_module("E", fanogan::ResNetTrunk(shape_, fanogan::Norm::Batch, shape_.zDim, true));
  }

  ModelKind kind() const override { return ModelKind::FAnoGan; }
  InputSpec input() const override { return inputOf(cfg_.values); }
  std::vector<std::string> mapNames() const override { return {"residual"}; }

  std::vector<TrainingStage> stages() const override { return stagesOf(cfg_.values); }

  StepLosses trainStep(const std::string& stage, const TrainBatch& batch) override {
    const json& c = cfg_.values;
    const torch::Tensor x = batchTensor(batch.healthy, "healthy batch");
    const int64_t n = x.size(0);
    StepLosses out{stage, 0, {}};
    if (stage == "wgan") {
      makeGanOptimisers();
      G_->train();
      D_->train();
      out.iteration = ++ganIteration_;
      // Critic: E[D(fake)] - E[D(real)] + 10·GP.
      optD_->zero_grad();
      torch::Tensor fake;
      {
        torch::NoGradGuard ng;
        fake = G_(torch::randn({n, shape_.zDim}, x.options()));
      }
      torch::Tensor dReal = D_(x).first.mean(), dFake = D_(fake).first.mean();
      torch::Tensor alpha = torch::rand({n, 1, 1, 1}, x.options());
      torch::Tensor gp = gradientPenalty([&](const torch::Tensor& t) { return D_(t).first; }, x, fake, alpha);
      torch::Tensor dLoss = dFake - dReal + c.at("gp_weight").get<double>() * gp;
      dLoss.backward();
      optD_->step();
      out.values["d_loss"] = dLoss.item<double>();
      out.values["wasserstein"] = (dReal - dFake).item<double>();
      out.values["gp"] = gp.item<double>();
      if (ganIteration_ % c.at("n_critic").get<long>() == 0) {
        optG_->zero_grad();
        for (auto& p : D_->parameters()) p.requires_grad_(false);
        torch::Tensor gLoss = -D_(G_(torch::randn({n, shape_.zDim}, x.options()))).first.mean();
        gLoss.backward();
        for (auto& p : D_->parameters()) p.requires_grad_(true);
        optG_->step();
        lastGLoss_ = gLoss.item<double>();
      }
      out.values["g_loss"] = lastGLoss_;
      return out;
    }
    if (stage == "encoder") {
      makeEncoderOptimiser();
      // G's batch norm in inference mode, G and the critic frozen: only E learns.
      G_->eval();
      D_->eval();
      E_->train();
      for (auto& p : G_->parameters()) p.requires_grad_(false);
      for (auto& p : D_->parameters()) p.requires_grad_(false);
      out.iteration = ++encoderIteration_;
      optE_->zero_grad();
      torch::Tensor loss;
      if (mode_ == "ziz") {
        torch::Tensor z = torch::randn({n, shape_.zDim}, x.options());
        loss = torch::mse_loss(E_(G_(z)).first, z);
      } else {
        auto [aR, aD] = izifTerms(x, E_(x).first);
        loss = mode_ == "izi" ? aR.mean() : (aR + kappa_ * aD).mean();
        out.values["residual"] = aR.mean().item<double>();
        out.values["feature"] = aD.mean().item<double>();
      }
      loss.backward();
      optE_->step();
      for (auto& p : G_->parameters()) p.requires_grad_(true);
      for (auto& p : D_->parameters()) p.requires_grad_(true);
      out.values["e_loss"] = loss.item<double>();
      return out;
    }
    throw Error("fanogan", "unknown training stage \"" + stage + "\"");
  }
  void finishStage(const std::string&) override {}

  BatchResult inferBatch(const torch::Tensor& x, const torch::Tensor&, const ProgressFn&) const override {
    auto& self = const_cast<FAnoGanModel&>(*this);
    torch::Tensor xr = self.G_(self.E_(x).first);
    auto [aR, aD] = self.izifTerms(x, self.E_(x).first, &xr);
    BatchResult r;
    r.scores = aR + kappa_ * aD;
    r.maps["residual"] = (x - xr).abs().mean(1, true);
    r.reconstruction = xr;
    return r;
  }

  std::map<std::string, torch::Tensor> referenceInputs(int batch) const override {
    return {{"x", seededUniform({batch, shape_.channels, shape_.imageSize, shape_.imageSize}, -1, 1, 21)},
            {"z", seededNormal({batch, shape_.zDim}, 22)},
            {"alpha", seededUniform({batch, 1, 1, 1}, 0, 1, 23)}};
  }

  std::map<std::string, torch::Tensor> referenceOutputs(const std::map<std::string, torch::Tensor>& in) override {
    setTraining(false);
    const torch::Tensor x = in.at("x").to(dev()), z = in.at("z").to(dev()), alpha = in.at("alpha").to(dev());
    std::map<std::string, torch::Tensor> out;
    torch::Tensor g;
    {
      torch::NoGradGuard ng;
      g = G_(z);
      out["G"] = g;
      auto [logits, features] = D_(x);
      out["D.logits"] = logits.squeeze(1);
      out["D.features"] = features;
      out["E"] = E_(x).first;
      auto [aR, aD] = izifTerms(x, out["E"]);
      out["izi_f_loss"] = aR + kappa_ * aD;
    }
    torch::Tensor gp = gradientPenalty([&](const torch::Tensor& t) { return D_(t).first; }, x, g, alpha);
    out["gp"] = gp.detach().reshape({1});
    return out;
  }

 private:
  // Per sample: A_R = mean (x - G(z))², A_D = mean (f(x) - f(G(z)))².
  std::pair<torch::Tensor, torch::Tensor> izifTerms(const torch::Tensor& x, const torch::Tensor& z,
                                                    const torch::Tensor* reconstruction = nullptr) {
    torch::Tensor xr = reconstruction ? *reconstruction : G_(z);
    torch::Tensor fx = D_(x).second, fr = D_(xr).second;
    return {(x - xr).pow(2).flatten(1).mean(1), (fx - fr).pow(2).flatten(1).mean(1)};
  }

  nlohmann::json trainingCounters() const override {
    return {{"gan_iteration", ganIteration_}, {"encoder_iteration", encoderIteration_}, {"last_g_loss", lastGLoss_}};
  }
  void setTrainingCounters(const nlohmann::json& c) override {
    ganIteration_ = c.at("gan_iteration");
    encoderIteration_ = c.at("encoder_iteration");
    lastGLoss_ = c.at("last_g_loss");
  }
  std::vector<std::pair<std::string, torch::optim::Optimizer*>> optimisers(bool create) override {
    if (create) {
      makeGanOptimisers();
      makeEncoderOptimiser();
    }
    return {{"G", optG_.get()}, {"D", optD_.get()}, {"E", optE_.get()}};
  }
  void makeGanOptimisers() {
    if (optG_) return;
    const auto opts = adamOptions();
    optG_ = std::make_unique<torch::optim::Adam>(G_->parameters(), opts);
    optD_ = std::make_unique<torch::optim::Adam>(D_->parameters(), opts);
  }
  void makeEncoderOptimiser() {
    if (optE_) return;
    optE_ = std::make_unique<torch::optim::RMSprop>(
        E_->parameters(), torch::optim::RMSpropOptions(cfg_.values.at("encoder_lr").get<double>()));
  }

  fanogan::ResShape shape_;
  std::string mode_;
  double kappa_ = 1.0;
  fanogan::Generator G_{nullptr};
  fanogan::ResNetTrunk D_{nullptr}, E_{nullptr};
  std::unique_ptr<torch::optim::Adam> optG_, optD_;
  std::unique_ptr<torch::optim::RMSprop> optE_;
  long ganIteration_ = 0, encoderIteration_ = 0;
  double lastGLoss_ = 0;
};

}  // namespace

std::unique_ptr<TorchModel> makeFAnoGan(const std::string& preset, const nlohmann::json& overrides) {
  return std::make_unique<FAnoGanModel>(resolveConfig(presets(), preset, overrides, "fanogan"));
}

ModelDescription describeFAnoGan(const std::string& preset, const nlohmann::json& overrides) {
  const ResolvedConfig cfg = resolveConfig(presets(), preset, overrides, "fanogan");
  checkConfig(cfg.values);
  return {cfg.name, cfg.values, inputOf(cfg.values), stagesOf(cfg.values)};
}

}  // namespace al::models
