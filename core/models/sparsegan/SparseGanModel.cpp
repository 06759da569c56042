// Sparse-GAN (Zhou et al., ISBI 2020): an image-to-image GAN whose latent H is kept sparse by
// the Sparsity Regularisation Net; L = λ_re·L_re + λ_adv·L_adv + λ_sp·L_sp (Eq. 7). The score is
// in latent space, ||G_en(x) - G_en(G(x))||₂ (Eq. 4, the second encoder shares G_en's weights);
// the map is the Anomaly Activation Map (H_in weighted by |GAP(H_in) - GAP(H_re)|).
//
// Deviation [lead_map = "difference", default "aam": the paper]: the map that leads (overlay,
// pixel metrics, calibration) can instead be the plain difference |x - G(x)| (the paper's second
// map, METHODS.md), and the image score its mean over the image, as A2B-GAN scores. The AAM is
// 7x7 upsampled and weights H_in's channels by a global difference, so it marks where the latent
// is strong, not where the image is abnormal; on the phantom OCT set its pixel AUC stays below
// chance and the latent distance's image AUC near it (models/README.md has the figures).
// Deviation [map_sigma, default 0]: the difference map smoothed by a Gaussian of that many pixels
// (a lesion is a region; the residual is grainy).

#include "models/ModelRegistry.h"
#include "models/sparsegan/SparseGanNetworks.h"

namespace al::models {

namespace {

using nlohmann::json;
namespace F = torch::nn::functional;

// d_lr: D's learning rate. The paper gives lr 1e-3 for all networks (kept in `paper`).
json preset(int imageSize, int base, int sparseKernel, int batch) {
  return {{"image_size", imageSize}, {"channels", 1}, {"base", base}, {"lstm_steps", 3},
          {"sparse_kernel", sparseKernel}, {"lr", 1e-3}, {"beta1", 0.5}, {"beta2", 0.999},
          {"d_lr", 1e-3}, {"batch_size", batch}, {"epochs", 15}, {"lambda_re", 20.0},
          {"lambda_adv", 1.0}, {"lambda_sp", 50.0}, {"lead_map", "aam"}, {"map_sigma", 0.0}};
}

const std::map<std::string, json>& presets() {
  static const std::map<std::string, json> p = {
      {"paper", preset(224, 64, 3, 32)},
      // lite: a quarter of the widths (latent 256x7x7) and 1x1 convolutions in the sparse LSTM
      // (3x3 at 256 channels alone would be 3.5M parameters).
      {"lite", preset(224, 16, 1, 16)},
      {"tiny", preset(64, 4, 1, 8)},
  };
  return p;
}

// A configuration's checks, input and stages, without networks: the model uses them, and so
// does describeModel (the training wizard, as the user picks).
void checkConfig(const json& c) {
  const int imageSize = c.at("image_size"), lstmSteps = c.at("lstm_steps"), sparseKernel = c.at("sparse_kernel");
  if (imageSize % 32 || imageSize < 32)
    throw Error("sparsegan config", "image_size must be a multiple of 32 (five stride-2 layers)");
  if (lstmSteps < 1 || lstmSteps > 10) throw Error("sparsegan config", "lstm_steps must be 1 to 10");
  if (sparseKernel % 2 == 0) throw Error("sparsegan config", "sparse_kernel must be odd");
  const std::string lead = c.value("lead_map", "aam");
  if (lead != "aam" && lead != "difference") throw Error("sparsegan config", "lead_map must be aam or difference");
  const double sigma = c.value("map_sigma", 0.0);
  if (!(sigma >= 0 && sigma <= imageSize / 8.0))
    throw Error("sparsegan config", "map_sigma must be between 0 and an eighth of image_size");
}

InputSpec inputOf(const json& c) { return squareImageInput(c, InputMode::WholeImage, "OCT"); }

std::vector<TrainingStage> stagesOf(const json& c) {
  // The paper trains on 50,140 healthy OCT2017 B-scans and states neither epochs nor batch
  // size: the preset's 15 epochs and its batch are our choice, not the paper's.
  const long perEpoch = 50140 / c.at("batch_size").get<long>();
  return {{"gan", "generator, sparsity net and conditional discriminator jointly (Adam, lr 1e-3)",
           perEpoch * c.at("epochs").get<long>(), false, false}};
}

class SparseGanModel final : public TorchModel {
 public:
  explicit SparseGanModel(ResolvedConfig cfg) : TorchModel(std::move(cfg)) {
    const json& c = cfg_.values;
    shape_.imageSize = c.at("image_size");
    shape_.channels = c.at("channels");
    shape_.base = c.at("base");
    shape_.lstmSteps = c.at("lstm_steps");
    shape_.sparseKernel = c.at("sparse_kernel");
    checkConfig(c);
    Gen_ = root().register_module("G_en", sparsegan::Encoder(shape_));
    Gde_ = root().register_module("G_de", sparsegan::Decoder(shape_));
    D_ = root().register_module("D", sparsegan::Discriminator(shape_));
    S_ = root().register_module("S", sparsegan::SparsityNet(shape_));
  }

  ModelKind kind() const override { return ModelKind::SparseGan; }
  InputSpec input() const override { return inputOf(cfg_.values); }
  std::vector<std::string> mapNames() const override {
    if (leadDifference()) return {"difference", "aam"};
    return {"aam", "difference"};
  }

  std::vector<TrainingStage> stages() const override { return stagesOf(cfg_.values); }

  StepLosses trainStep(const std::string& stage, const TrainBatch& batch) override {
    if (stage != "gan") throw Error("sparsegan", "unknown training stage \"" + stage + "\"");
    makeOptimisers();
    setTraining(true);
    const torch::Tensor x = batchTensor(batch.healthy, "healthy batch");
    torch::Tensor h = Gen_(x);
    torch::Tensor xr = Gde_(h);

    optD_->zero_grad();
    torch::Tensor real = D_(x, h.detach()), fake = D_(xr.detach(), h.detach());
    torch::Tensor dLoss = F::binary_cross_entropy_with_logits(real, torch::ones_like(real)) +
                          F::binary_cross_entropy_with_logits(fake, torch::zeros_like(fake));
    dLoss.backward();
    optD_->step();

    optG_->zero_grad();
    auto terms = generatorTerms(x, h, xr);
    terms.total.backward();
    optG_->step();
    S_->normaliseAtoms();

    StepLosses out{stage, ++iteration_, {}};
    out.values["d_loss"] = dLoss.item<double>();
    out.values["g_loss"] = terms.total.item<double>();
    out.values["l_adv"] = terms.adv.item<double>();
    out.values["l_re"] = terms.re.item<double>();
    out.values["l_sp"] = terms.sp.item<double>();
    return out;
  }
  void finishStage(const std::string&) override {}

  BatchResult inferBatch(const torch::Tensor& x, const torch::Tensor&, const ProgressFn&) const override {
    auto& self = const_cast<SparseGanModel&>(*this);
    torch::Tensor hIn = self.Gen_(x);
    torch::Tensor xr = self.Gde_(hIn);
    torch::Tensor hRe = self.Gen_(xr);
    BatchResult r;
    const torch::Tensor difference = (x - xr).abs().mean(1, true);
    r.maps["aam"] = anomalyActivationMap(hIn, hRe, x.size(2), x.size(3));
    r.maps["difference"] = gaussianBlur(difference, cfg_.values.value("map_sigma", 0.0));
    if (leadDifference())
      r.scores = difference.flatten(1).mean(1) / 2;  // in [0, 1]: images are in [-1, 1]
    else
      r.scores = (hIn - hRe).flatten(1).norm(2, 1);
    r.reconstruction = xr;
    return r;
  }

  std::map<std::string, torch::Tensor> referenceInputs(int batch) const override {
    return {{"x", seededUniform({batch, shape_.channels, shape_.imageSize, shape_.imageSize}, -1, 1, 31)}};
  }

  std::map<std::string, torch::Tensor> referenceOutputs(const std::map<std::string, torch::Tensor>& in) override {
    setTraining(false);
    torch::NoGradGuard ng;
    const torch::Tensor x = in.at("x").to(dev());
    std::map<std::string, torch::Tensor> out;
    torch::Tensor h = Gen_(x), xr = Gde_(h);
    out["G_en"] = h;
    out["G_de"] = xr;
    out["D"] = D_(x, h);
    out["S.code"] = S_->code(h);
    out["S.loss"] = S_->loss(h, out["S.code"]);
    BatchResult r = inferBatch(x, torch::Tensor(), {});
    out["score"] = r.scores;
    out["aam"] = r.maps["aam"];
    out["g_loss"] = generatorTerms(x, h, xr).total.reshape({1});
    return out;
  }

 private:
  bool leadDifference() const { return cfg_.values.value("lead_map", "aam") == "difference"; }

  struct Terms { torch::Tensor adv, re, sp, total; };
  // Eqs. 3, 6, 7 with per-element means (the paper writes sums): with sums over 50,176 pixels
  // and 50,176 latent values, λ_re·L_re and λ_sp·L_sp outweigh λ_adv·L_adv by four to five
  // orders of magnitude and the paper's weights 20 / 1 / 50 lose their meaning. The generator's
  // adversarial term sees H detached: G must fool D with the image, not by moving H (which D
  // also reads) towards whatever D calls real.
  Terms generatorTerms(const torch::Tensor& x, const torch::Tensor& h, const torch::Tensor& xr) {
    const json& c = cfg_.values;
    Terms t;
    torch::Tensor fake = D_(xr, h.detach());
    t.adv = F::binary_cross_entropy_with_logits(fake, torch::ones_like(fake));
    t.re = (x - xr).pow(2).mean();
    t.sp = S_->loss(h, S_->code(h)).mean();
    t.total = c.at("lambda_adv").get<double>() * t.adv + c.at("lambda_re").get<double>() * t.re +
              c.at("lambda_sp").get<double>() * t.sp;
    return t;
  }

  // w_c = |GAP(H_in)_c - GAP(H_re)_c|; AAM = ReLU(Σ_c w_c·H_in,c), bilinearly upsampled.
  static torch::Tensor anomalyActivationMap(const torch::Tensor& hIn, const torch::Tensor& hRe, int64_t h, int64_t w) {
    torch::Tensor weights = (hIn.mean({2, 3}) - hRe.mean({2, 3})).abs();
    torch::Tensor cam = torch::relu((hIn * weights.unsqueeze(2).unsqueeze(3)).sum(1, true));
    return F::interpolate(cam, F::InterpolateFuncOptions().size(std::vector<int64_t>{h, w})
                                   .mode(torch::kBilinear).align_corners(false));
  }

  nlohmann::json trainingCounters() const override { return {{"iteration", iteration_}}; }
  void setTrainingCounters(const nlohmann::json& c) override { iteration_ = c.at("iteration"); }
  std::vector<std::pair<std::string, torch::optim::Optimizer*>> optimisers(bool create) override {
    if (create) makeOptimisers();
    return {{"G", optG_.get()}, {"D", optD_.get()}};
  }
  void makeOptimisers() {
    if (optG_) return;
    const auto opts = adamOptions();
    const auto fixed = Gen_->latentAffine();
    std::vector<torch::Tensor> g;
    for (auto& p : Gen_->parameters())
      if (std::none_of(fixed.begin(), fixed.end(), [&](const torch::Tensor& f) { return f.is_same(p); })) g.push_back(p);
    for (auto& p : Gde_->parameters()) g.push_back(p);
    for (auto& p : S_->parameters()) g.push_back(p);
    optG_ = std::make_unique<torch::optim::Adam>(g, opts);
    auto dOpts = opts;
    dOpts.lr(cfg_.values.at("d_lr").get<double>());
    optD_ = std::make_unique<torch::optim::Adam>(D_->parameters(), dOpts);
  }

  sparsegan::Shape shape_;
  sparsegan::Encoder Gen_{nullptr};
  sparsegan::Decoder Gde_{nullptr};
  sparsegan::Discriminator D_{nullptr};
  sparsegan::SparsityNet S_{nullptr};
  std::unique_ptr<torch::optim::Adam> optG_, optD_;
  long iteration_ = 0;
};

}  // namespace

std::unique_ptr<TorchModel> makeSparseGan(const std::string& preset, const nlohmann::json& overrides) {
  return std::make_unique<SparseGanModel>(resolveConfig(presets(), preset, overrides, "sparsegan"));
}

ModelDescription describeSparseGan(const std::string& preset, const nlohmann::json& overrides) {
  const ResolvedConfig cfg = resolveConfig(presets(), preset, overrides, "sparsegan");
  checkConfig(cfg.values);
  return {cfg.name, cfg.values, inputOf(cfg.values), stagesOf(cfg.values)};
}

}  // namespace al::models
