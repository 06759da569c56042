// A2B-GAN: translates any image to a healthy one with a generator that also predicts where to
// change it (a mask M); trained on a healthy set B and an unlabelled mixed set A with a WGAN-GP
// PatchGAN critic, reconstruction, identity and focus losses. Map |x - B'| (and M); score the
// mean of |x - B'| / 2 over pixels and channels, as the authors' code scores.
// Deviation [map_sigma, default 0: none]: the difference map can be smoothed with a Gaussian of
// this standard deviation in model pixels before it is shown and calibrated. OCT speckle makes the
// raw difference grainy; a lesion is a region, and smoothing ranks its pixels above the speckle of
// healthy retina (the score is unchanged).

#include <algorithm>
#include <cmath>

#include "models/ModelRegistry.h"
#include "models/a2bgan/A2BGanNetworks.h"

namespace al::models {

namespace {

using nlohmann::json;

json preset(int imageSize, int base, int criticLayers, int batch, double lr) {
  return {{"image_size", imageSize}, {"channels", 1}, {"base", base}, {"res_blocks", 6},
          {"critic_layers", criticLayers}, {"lr", lr}, {"beta1", 0.5}, {"beta2", 0.999},
          {"batch_size", batch}, {"iterations", 400000}, {"decay_iterations", 100000},
          {"n_critic", 2}, {"gp_weight", 10.0}, {"lambda_rec", 1.0}, {"lambda_id", 1.0},
          {"lambda_f", 0.1}, {"lambda_fs", 1.0}, {"lambda_fz", 1.0}, {"focus_eps", 0.01}, {"map_sigma", 0.0}};
}

const std::map<std::string, json>& presets() {
  static const std::map<std::string, json> p = {
      {"paper", preset(256, 64, 6, 16, 1e-4)},
      // lite: 128 px and a quarter of the widths; six critic layers leave a 2x2 patch output.
      {"lite", preset(128, 16, 6, 16, 1e-4)},
      {"tiny", preset(32, 4, 4, 8, 1e-3)},
  };
  return p;
}

struct Translation {
  torch::Tensor bInt, mask, bPrime, aPrime;
};

// A configuration's checks, input and stages, without networks: the model uses them, and so
// does describeModel (the training wizard, as the user picks).
void checkConfig(const json& c) {
  const int imageSize = c.at("image_size"), criticLayers = c.at("critic_layers");
  if (imageSize % 4) throw Error("a2bgan config", "image_size must be a multiple of 4");
  if (criticLayers < 0 || criticLayers > 30 || (imageSize >> criticLayers) < 1)
    throw Error("a2bgan config", "critic_layers halve the image below one pixel");
  const double sigma = c.value("map_sigma", 0.0);
  if (!(sigma >= 0 && sigma <= imageSize / 8.0)) throw Error("a2bgan config", "map_sigma must be between 0 and an eighth of image_size");
}


InputSpec inputOf(const json& c) { return squareImageInput(c, InputMode::WholeImage, "any"); }

std::vector<TrainingStage> stagesOf(const json& c) {
  return {{"gan", "critic every iteration, generator every 2nd, on the healthy set B and the mixed set A",
           c.at("iterations").get<long>(), true, false}};
}

class A2BGanModel final : public TorchModel {
 public:
  explicit A2BGanModel(ResolvedConfig cfg) : TorchModel(std::move(cfg)) {
    const json& c = cfg_.values;
    shape_.imageSize = c.at("image_size");
    shape_.channels = c.at("channels");
    shape_.base = c.at("base");
    shape_.resBlocks = c.at("res_blocks");
    shape_.criticLayers = c.at("critic_layers");
    checkConfig(c);
    G_ = root().register_module("G", a2bgan::Generator(shape_));
    D_ = root().register_module("D", a2bgan::Critic(shape_));
  }

  ModelKind kind() const override { return ModelKind::A2BGan; }
  InputSpec input() const override { return inputOf(cfg_.values); }
  std::vector<std::string> mapNames() const override { return {"difference", "mask"}; }

  std::vector<TrainingStage> stages() const override { return stagesOf(cfg_.values); }

  // The learning rate decays linearly to 0 over the last decay_iterations (the code's schedule).
  double learningRate(long iteration) const {
    const json& c = cfg_.values;
    const double lr = c.at("lr");
    const long total = c.at("iterations"), decay = c.at("decay_iterations");
    if (iteration <= total - decay || decay <= 0) return lr;
    return lr * std::max(0.0, static_cast<double>(total - iteration) / static_cast<double>(decay));
  }

  StepLosses trainStep(const std::string& stage, const TrainBatch& batch) override {
    if (stage != "gan") throw Error("a2bgan", "unknown training stage \"" + stage + "\"");
    if (!batch.mixed) throw Error("a2bgan", "A2B-GAN trains on a mixed (unlabelled) set too: the batch has none");
    const json& c = cfg_.values;
    makeOptimisers();
    const double lr = learningRate(iteration_ + 1);
    for (auto* opt : {optG_.get(), optD_.get()})
      for (auto& group : opt->param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
    setTraining(true);
    const torch::Tensor b = batchTensor(batch.healthy, "healthy batch");
    const torch::Tensor a = batchTensor(*batch.mixed, "mixed batch");
    StepLosses out{stage, ++iteration_, {}};

    // Critic (Eqs. 3-4): real = healthy images, fake = B' of the mixed images, + GP.
    optD_->zero_grad();
    torch::Tensor fake;
    {
      torch::NoGradGuard ng;
      fake = translate(a).bPrime;
    }
    torch::Tensor dReal = D_(b).mean(), dFake = D_(fake).mean();
    torch::Tensor alpha = torch::rand({b.size(0), 1, 1, 1}, b.options());
    const int64_t n = std::min(a.size(0), b.size(0));
    torch::Tensor gp = gradientPenalty([&](const torch::Tensor& t) { return D_(t); }, b.narrow(0, 0, n),
                                       fake.narrow(0, 0, n), alpha.narrow(0, 0, n));
    torch::Tensor dLoss = dFake - dReal + c.at("gp_weight").get<double>() * gp;
    dLoss.backward();
    optD_->step();
    out.values["d_loss"] = dLoss.item<double>();
    out.values["gp"] = gp.item<double>();

    if (iteration_ % c.at("n_critic").get<long>() == 0) {
      optG_->zero_grad();
      for (auto& p : D_->parameters()) p.requires_grad_(false);
      auto terms = generatorTerms(a, b);
      terms.at("g_loss").backward();
      for (auto& p : D_->parameters()) p.requires_grad_(true);
      optG_->step();
      for (auto& [k, v] : terms) last_[k] = v.item<double>();
    }
    for (auto& [k, v] : last_) out.values[k] = v;
    out.values["lr"] = lr;
    return out;
  }
  void finishStage(const std::string&) override {}

  BatchResult inferBatch(const torch::Tensor& x, const torch::Tensor&, const ProgressFn&) const override {
    Translation t = const_cast<A2BGanModel&>(*this).translate(x);
    BatchResult r;
    const torch::Tensor diff = (x - t.bPrime).abs();
    r.scores = diff.flatten(1).mean(1) / 2;
    r.maps["difference"] = gaussianBlur(diff.mean(1, true), cfg_.values.value("map_sigma", 0.0));
    r.maps["mask"] = t.mask;
    r.reconstruction = t.bPrime;
    return r;
  }

  std::map<std::string, torch::Tensor> referenceInputs(int batch) const override {
    const int s = shape_.imageSize;
    return {{"a", seededUniform({batch, shape_.channels, s, s}, -1, 1, 41)},
            {"b", seededUniform({batch, shape_.channels, s, s}, -1, 1, 42)}};
  }

  std::map<std::string, torch::Tensor> referenceOutputs(const std::map<std::string, torch::Tensor>& in) override {
    setTraining(false);
    torch::NoGradGuard ng;
    const torch::Tensor a = in.at("a").to(dev()), b = in.at("b").to(dev());
    std::map<std::string, torch::Tensor> out;
    out["G"] = G_(a);
    out["D"] = D_(a);
    Translation t = translate(a);
    out["B_prime"] = t.bPrime;
    out["A_prime"] = t.aPrime;
    out["score"] = inferBatch(a, torch::Tensor(), {}).scores;
    for (auto& [k, v] : generatorTerms(a, b)) out["loss." + k] = v.reshape({1});
    return out;
  }

 private:
  // Eqs. 1-2: B' = B_int·M + x·(1-M), A' = x·M + B_int·(1-M).
  Translation translate(const torch::Tensor& x) {
    torch::Tensor raw = G_(x);
    Translation t;
    t.bInt = torch::tanh(raw.narrow(1, 0, shape_.channels));
    t.mask = (torch::tanh(raw.narrow(1, shape_.channels, 1)) + 1) / 2;
    t.bPrime = t.bInt * t.mask + x * (1 - t.mask);
    t.aPrime = x * t.mask + t.bInt * (1 - t.mask);
    return t;
  }

  // L_f(M) = λ_fs·mean(M)² + λ_fz·(mean(1/(|M - 0.5| + ε)) - 1/(0.5 + ε)) (Eq. 8, the code's offset).
  torch::Tensor focusLoss(const torch::Tensor& m) const {
    const json& c = cfg_.values;
    const double eps = c.at("focus_eps");
    return c.at("lambda_fs").get<double>() * m.mean().pow(2) +
           c.at("lambda_fz").get<double>() * ((1.0 / ((m - 0.5).abs() + eps)).mean() - 1.0 / (0.5 + eps));
  }

  // Eqs. 5-10: adversarial on B' of both sets, reconstruction of A, identity on B, focus.
  std::map<std::string, torch::Tensor> generatorTerms(const torch::Tensor& a, const torch::Tensor& b) {
    const json& c = cfg_.values;
    Translation ta = translate(a), tb = translate(b);
    std::map<std::string, torch::Tensor> t;
    t["g_adv"] = -D_(ta.bPrime).mean() - D_(tb.bPrime).mean();
    t["g_rec"] = (a - ta.aPrime).abs().mean();
    t["g_id"] = (tb.bInt - b).abs().mean();
    t["g_focus"] = 0.5 * (focusLoss(ta.mask) + focusLoss(tb.mask));
    t["g_loss"] = t["g_adv"] + c.at("lambda_rec").get<double>() * t["g_rec"] +
                  c.at("lambda_id").get<double>() * t["g_id"] + c.at("lambda_f").get<double>() * t["g_focus"];
    return t;
  }

  a2bgan::Shape shape_;
  a2bgan::Generator G_{nullptr};
  a2bgan::Critic D_{nullptr};
  nlohmann::json trainingCounters() const override { return {{"iteration", iteration_}}; }
  void setTrainingCounters(const nlohmann::json& c) override { iteration_ = c.at("iteration"); }
  std::vector<std::pair<std::string, torch::optim::Optimizer*>> optimisers(bool create) override {
    if (create) makeOptimisers();
    return {{"G", optG_.get()}, {"D", optD_.get()}};
  }
  void makeOptimisers() {
    if (optG_) return;
    const auto opts = adamOptions();
    optG_ = std::make_unique<torch::optim::Adam>(G_->parameters(), opts);
    optD_ = std::make_unique<torch::optim::Adam>(D_->parameters(), opts);
  }

  std::unique_ptr<torch::optim::Adam> optG_, optD_;
  long iteration_ = 0;
  std::map<std::string, double> last_;
};

}  // namespace

std::unique_ptr<TorchModel> makeA2BGan(const std::string& preset, const nlohmann::json& overrides) {
  return std::make_unique<A2BGanModel>(resolveConfig(presets(), preset, overrides, "a2bgan"));
}

ModelDescription describeA2BGan(const std::string& preset, const nlohmann::json& overrides) {
  const ResolvedConfig cfg = resolveConfig(presets(), preset, overrides, "a2bgan");
  checkConfig(cfg.values);
  return {cfg.name, cfg.values, inputOf(cfg.values), stagesOf(cfg.values)};
}

}  // namespace al::models
