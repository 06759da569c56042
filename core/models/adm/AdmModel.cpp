// ADM (Kim et al.): anomaly detection in multi-contrast MRI. CtoC synthesises each contrast from
// the others (its errors Z_ct are features), G_dr reduces the contrasts to 3 features per pixel
// (F_dr reconstructs them), G_de assigns the per-pixel features z = [Z_ct, Z_dr] to K Gaussian
// components. Training: CtoC (Eq. 13), then G_dr, F_dr, G_de jointly (Eq. 14); finally the GMM's
// parameters are fixed from a pass over the normal data. The map is the per-pixel energy under
// the fixed GMM. The image score [choice] is one of three, chosen on validation by the training
// engine and stored in the card: the 99th percentile of the energy inside the brain ("p99"),
// the mean of the top_n highest energies ("top_mean"), or the number of brain pixels above the
// healthy pixels' 99th percentile beyond the 1% that healthy tissue puts there
// ("excess_count"). A lesion of a few dozen pixels moves the last two but not the first.
//
// Deviation [lead_map = "hyperintensity"]: the map that leads (overlay, scores, calibration) can
// instead be CtoC's signed error on one contrast, max(0, X_c - X̂_c): where that contrast is
// brighter than the others predict. Z_ct is the paper's |X - X̂_ct|; its sign is what separates
// small FLAIR-hyperintense lesions (multiple sclerosis) from the two-sided errors at tissue
// borders, which the GMM's density over |Z_ct| and Z_dr does not (models/README.md has the
// figures). The energy map stays, as the second map.
// Deviation [lead_map = "intensity"]: the map that leads is the hyperintense contrast's own
// intensity above the brain's mean, max(0, X_c) with X_c z-scored over the brain of its volume:
// FLAIR in standard deviations of the brain, no synthesis. On real multiple-sclerosis FLAIR this
// simple map separates lesions from healthy brain better than any synthesis residual we trained
// (Meissen et al., "Challenging current semi-supervised anomaly segmentation methods for brain
// MRI", 2021, report the same of FLAIR thresholding against autoencoders); models/README.md has
// the figures. CtoC, the GMM energy and the translation error are computed as ever and stay as
// the second and third maps.
// Deviation [hyperintensity_from]: the contrasts CtoC may see when it synthesises the
// hyperintense contrast (default: all others, the paper's input). The rest are hidden like the
// target (zero, their z-scored mean), in training and inference alike. MS lesions are
// bright on T2 as on FLAIR, so FLAIR synthesised from T2 partly reproduces the lesion and its
// error cancels; synthesised from T1, whose lesions are iso- or hypointense, it does not.
// Deviation [map_sigma, default 0]: the hyperintensity map smoothed inside the brain by a Gaussian
// of that many pixels (a lesion is a region; the translation's error is grainy).

#include <algorithm>

#include "image/TorchBridge.h"
#include "models/ModelRegistry.h"
#include "models/adm/AdmNetworks.h"

namespace al::models {

namespace {

using nlohmann::json;

json preset(int imageSize, int base, int resBlocks, int batch) {
  return {{"contrasts", {"T1", "T1c", "T2", "FLAIR"}}, {"image_size", imageSize}, {"base", base},
          {"res_blocks", resBlocks}, {"components", 6}, {"de_hidden", 8}, {"dropout", 0.5},
          {"lambda", 5e-4}, {"eps", 1e-6}, {"lr", 1e-4}, {"beta1", 0.5}, {"beta2", 0.999},
          {"batch_size", batch}, {"ctoc_epochs", 50}, {"density_epochs", 50},
          {"score_percentile", 99.0}, {"slice_score", "p99"}, {"top_n", 20},
          {"lead_map", "energy"}, {"hyperintense_contrast", "FLAIR"}, {"hyperintensity_from", json::array()}, {"map_sigma", 0.0}};
}

const std::map<std::string, json>& presets() {
  static const std::map<std::string, json> p = {
      {"paper", preset(128, 64, 4, 16)},
      // lite: a quarter of the CtoC widths (64 channels in the residual blocks); DR and DE are
      // the paper's sizes, they are tiny already.
      {"lite", preset(128, 16, 4, 16)},
      {"tiny", preset(32, 4, 2, 8)},
  };
  return p;
}

constexpr long kBratsNormalSlices = 7790;  // the paper's training slices (BraTS 2019)

int hyperintenseChannel(const json& c);
std::vector<bool> hiddenForHyperintense(const json& c);

// A configuration's checks, input and stages, without networks: the model uses them, and so
// does describeModel (the training wizard, as the user picks).
void checkConfig(const json& c) {
  if (c.at("contrasts").size() < 2) throw Error("adm config", "ADM needs at least two contrasts");
  if (c.at("image_size").get<int>() % 4) throw Error("adm config", "image_size must be a multiple of 4");
  const std::string score = c.at("slice_score");
  if (score != "p99" && score != "top_mean" && score != "excess_count")
    throw Error("adm config", "slice_score must be p99, top_mean or excess_count");
  if (c.at("top_n").get<int>() < 1) throw Error("adm config", "top_n must be at least 1");
  const std::string lead = c.value("lead_map", "energy");
  if (lead != "energy" && lead != "hyperintensity" && lead != "intensity")
    throw Error("adm config", "lead_map must be energy, hyperintensity or intensity");
  if (lead != "energy") hyperintenseChannel(c);
  hiddenForHyperintense(c);
  const double sigma = c.value("map_sigma", 0.0);
  if (!(sigma >= 0 && sigma <= c.at("image_size").get<int>() / 8.0))
    throw Error("adm config", "map_sigma must be between 0 and an eighth of image_size");
}

// The source channels CtoC does not see when it synthesises the hyperintense contrast (the
// target itself not counted): none unless hyperintensity_from names the sources.
std::vector<bool> hiddenForHyperintense(const json& c) {
  const auto names = c.at("contrasts").get<std::vector<std::string>>();
  std::vector<bool> hidden(names.size(), false);
  const json from = c.value("hyperintensity_from", json::array());
  if (!from.is_array()) throw Error("adm config", "hyperintensity_from must be a list of contrasts");
  if (from.empty()) return hidden;
  const int target = hyperintenseChannel(c);
  std::fill(hidden.begin(), hidden.end(), true);
  for (const auto& f : from) {
    const std::string name = f.is_string() ? f.get<std::string>() : f.dump();
    const auto it = std::find(names.begin(), names.end(), name);
    if (it == names.end()) throw Error("adm config", "hyperintensity_from names " + name + ", which is not one of the model's contrasts");
    if (it - names.begin() == target) throw Error("adm config", "hyperintensity_from cannot name the hyperintense contrast " + name + " itself");
    hidden[static_cast<std::size_t>(it - names.begin())] = false;
  }
  hidden[static_cast<std::size_t>(target)] = false;  // the target is hidden by its median, as for every target
  return hidden;
}

// The channel of the contrast whose hyperintensity the "hyperintensity" and "intensity" maps show.
int hyperintenseChannel(const json& c) {
  const std::string want = c.value("hyperintense_contrast", "FLAIR");
  const auto names = c.at("contrasts").get<std::vector<std::string>>();
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == want) return static_cast<int>(i);
  throw Error("adm config", "hyperintense_contrast " + want + " is not one of the model's contrasts");
}

InputSpec inputOf(const json& c) {
  InputSpec s;
  s.channelNames = c.at("contrasts").get<std::vector<std::string>>();
  s.channels = static_cast<int>(s.channelNames.size());
  s.height = s.width = c.at("image_size");
  s.mode = InputMode::WholeImage;
  s.zScored = true;
  s.usesMask = true;
  s.modality = "MR";
  return s;
}

std::vector<TrainingStage> stagesOf(const json& c) {
  const long perEpoch = kBratsNormalSlices / c.at("batch_size").get<long>();
  return {{"ctoc", "contrast-to-contrast translation G_ct (Eq. 13, Adam)",
           perEpoch * c.at("ctoc_epochs").get<long>(), false, false},
          {"density", "G_dr, F_dr and G_de jointly (Eq. 14, Adam), G_ct frozen",
           perEpoch * c.at("density_epochs").get<long>(), false, false},
          {"gmm-fit", "one pass over the normal data fixes the GMM's parameters", perEpoch, false, true}};
}

class AdmModel final : public TorchModel {
 public:
  explicit AdmModel(ResolvedConfig cfg) : TorchModel(std::move(cfg)) {
    const json& c = cfg_.values;
    contrastNames_ = c.at("contrasts").get<std::vector<std::string>>();
    shape_.contrasts = static_cast<int>(contrastNames_.size());
    shape_.imageSize = c.at("image_size");
    shape_.base = c.at("base");
    shape_.resBlocks = c.at("res_blocks");
    shape_.components = c.at("components");
    shape_.deHidden = c.at("de_hidden");
    shape_.dropout = c.at("dropout");
    eps_ = c.at("eps");
    checkConfig(c);
    Gct_ = root().register_module("G_ct", adm::CtoC(shape_));
    DR_ = root().register_module("DR", adm::DimensionReduction(shape_));
    DE_ = root().register_module("G_de", adm::DensityEstimation(shape_));
    const int K = shape_.components, d = shape_.features();
    phi_ = root().register_buffer("gmm_phi", torch::full({K}, 1.0 / K, torch::kDouble));
    mu_ = root().register_buffer("gmm_mu", torch::zeros({K, d}, torch::kDouble));
    cov_ = root().register_buffer("gmm_cov", torch::eye(d, torch::kDouble).repeat({K, 1, 1}));
    fitted_ = root().register_buffer("gmm_fitted", torch::zeros({1}, torch::kDouble));
    energyP99_ = root().register_buffer("gmm_energy_p99", torch::full({1}, -1.0, torch::kDouble));
    hyperP99_ = root().register_buffer("hyperintensity_p99", torch::full({1}, -1.0, torch::kDouble));
    leadName_ = c.value("lead_map", "energy");
    leadHyper_ = leadName_ != "energy";
    hyperChannel_ = leadHyper_ ? hyperintenseChannel(c) : -1;
    const std::vector<bool> hidden = hiddenForHyperintense(c);
    if (std::find(hidden.begin(), hidden.end(), true) != hidden.end()) {
      hideForHyperintense_ = torch::zeros({shape_.contrasts}, torch::kFloat);
      for (std::size_t i = 0; i < hidden.size(); ++i)
        if (hidden[i]) hideForHyperintense_[static_cast<int64_t>(i)] = 1.0f;
      hyperTarget_ = hyperintenseChannel(c);
    }
  }

  std::vector<std::string> scoreVariants() const override { return {"p99", "top_mean", "excess_count"}; }
  void chooseScore(const std::string& variant) override {
    const auto v = scoreVariants();
    if (std::find(v.begin(), v.end(), variant) == v.end())
      throw Error("adm", "offers no score \"" + variant + "\" (p99, top_mean, excess_count)");
    cfg_.values["slice_score"] = variant;
  }

  ModelKind kind() const override { return ModelKind::Adm; }
  InputSpec input() const override { return inputOf(cfg_.values); }
  std::vector<std::string> mapNames() const override {
    if (leadHyper_) return {leadName_, "energy", "translation_error"};
    return {"energy", "translation_error"};
  }

  std::vector<TrainingStage> stages() const override { return stagesOf(cfg_.values); }

  StepLosses trainStep(const std::string& stage, const TrainBatch& batch) override {
    const torch::Tensor x = batchTensor(batch.healthy, "healthy batch");
    const torch::Tensor mask = batch.mask ? (batchTensor1(*batch.mask) != 0).to(torch::kFloat)
                                          : torch::ones({x.size(0), 1, x.size(2), x.size(3)}, x.options());
    StepLosses out{stage, 0, {}};
    if (stage == "ctoc") {
      makeCtocOptimiser();
      Gct_->train();
      out.iteration = ++ctIteration_;
      // One random target contrast per image: the same expected gradient as all of them, at a
      // quarter of the cost [choice].
      const torch::Tensor target = torch::randint(shape_.contrasts, {x.size(0)}, x.options().dtype(torch::kLong));
      auto [inputs, median] = ctocInput(x, target, mask);
      const torch::Tensor truth = x.gather(1, target.view({-1, 1, 1, 1}).expand({-1, 1, x.size(2), x.size(3)}));
      optCt_->zero_grad();
      // Over the mask's pixels (the brain, less what training leaves out): background is never
      // scored, and tissue near a lesion must not teach the translation the lesion's contrast.
      torch::Tensor loss = ((Gct_(inputs, median) - truth).pow(2) * mask).flatten(1).sum(1).mean();
      loss.backward();
      optCt_->step();
      out.values["ctoc_loss"] = loss.item<double>();
      return out;
    }
    if (stage == "density") {
      makeDensityOptimiser();
      Gct_->eval();
      DR_->train();
      DE_->train();
      out.iteration = ++deIteration_;
      optDe_->zero_grad();
      auto terms = densityTerms(x, mask);
      terms.loss.backward();
      optDe_->step();
      out.values["density_loss"] = terms.loss.item<double>();
      out.values["reconstruction"] = terms.reconstruction.item<double>();
      out.values["energy"] = terms.energy.item<double>();
      return out;
    }
    if (stage == "gmm-fit") {
      setTraining(false);
      torch::NoGradGuard ng;
      out.iteration = ++fitIteration_;
      Features f = features(x, &mask);  // the medians inside the mask, as in training and inference
      const torch::Tensor z = pixels(f.z), gamma = pixels(DE_(f.z)), w = pixels(mask).squeeze(1).to(torch::kDouble);
      const torch::Tensor g = gamma.to(torch::kDouble) * w.unsqueeze(1), zd = z.to(torch::kDouble);
      if (!s0_.defined()) {
        s0_ = torch::zeros({shape_.components}, zd.options());
        s1_ = torch::zeros({shape_.components, shape_.features()}, zd.options());
        s2_ = torch::zeros({shape_.components, shape_.features(), shape_.features()}, zd.options());
      }
      s0_ += g.sum(0);
      s1_ += g.t().mm(zd);
      s2_ += torch::einsum("pk,pi,pj->kij", {g, zd, zd});
      // A sample of the brain pixels' features: their energies under the fitted GMM give the
      // healthy pixel p99 that "excess_count" counts against (at most ~4,096 a batch, 400k in all).
      const torch::Tensor inside = (w > 0.5).nonzero().squeeze(1);
      if (inside.numel() > 0 && sampleRows_ < 400000) {
        const int64_t step = std::max<int64_t>(1, inside.numel() / 4096);
        zSample_.push_back(zd.index_select(0, inside.slice(0, 0, inside.numel(), step)));
        sampleRows_ += zSample_.back().size(0);
        if (leadHyper_)
          hyperSample_.push_back(pixels(leadMap(x, f, mask)).squeeze(1).to(torch::kDouble)
                                     .index_select(0, inside.slice(0, 0, inside.numel(), step)));
      }
      out.values["pixels"] = w.sum().item<double>();
      return out;
    }
    throw Error("adm", "unknown training stage \"" + stage + "\"");
  }

  void finishStage(const std::string& stage) override {
    if (stage != "gmm-fit") return;
    if (!s0_.defined() || s0_.sum().item<double>() <= 0)
      throw Error("adm", "the GMM fit pass saw no valid (masked) pixels");
    torch::NoGradGuard ng;
    const torch::Tensor mass = s0_.clamp_min(1e-12);
    const torch::Tensor mu = s1_ / mass.unsqueeze(1);
    torch::Tensor cov = s2_ / mass.view({-1, 1, 1}) - mu.unsqueeze(2) * mu.unsqueeze(1);
    phi_.copy_(s0_ / s0_.sum());
    mu_.copy_(mu);
    cov_.copy_(adm::guardCovariance(cov, eps_));
    fitted_.fill_(1.0);
    if (!zSample_.empty()) {
      const torch::Tensor e = adm::gmmEnergy(torch::cat(zSample_), {phi_, mu_, cov_});
      energyP99_.fill_(torch::quantile(e, 0.99).item<double>());
    }
    if (!hyperSample_.empty()) hyperP99_.fill_(torch::quantile(torch::cat(hyperSample_), 0.99).item<double>());
    hyperSample_.clear();
    s0_ = s1_ = s2_ = torch::Tensor();
    zSample_.clear();
    sampleRows_ = 0;
  }

  BatchResult inferBatch(const torch::Tensor& x, const torch::Tensor& mask, const ProgressFn&) const override {
    if (fitted_.item<double>() == 0)
      throw Error("adm", "the model's GMM has not been fitted (train its gmm-fit stage first)");
    auto& self = const_cast<AdmModel&>(*this);
    Features f = self.features(x, &mask);
    const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
    torch::Tensor energy = adm::gmmEnergy(pixels(f.z), {phi_, mu_, cov_}).to(torch::kFloat).view({n, h, w, 1})
                               .permute({0, 3, 1, 2});
    BatchResult r;
    const double q = cfg_.values.at("score_percentile").get<double>() / 100.0;
    const int64_t topN = cfg_.values.at("top_n").get<int64_t>();
    for (int64_t i = 0; i < n; ++i) {
      // Outside the brain: the image's lowest (most normal) energy, never a false hot spot.
      const torch::Tensor inside = mask[i][0] > 0.5;
      torch::Tensor values = energy[i][0].masked_select(inside);
      if (values.numel() == 0) values = energy[i][0].flatten();
      energy[i][0].masked_fill_(~inside, values.min().item<float>());
    }
    torch::Tensor hyper;
    if (leadHyper_) hyper = (leadMap(x, f, mask) * mask).to(torch::kFloat);
    // The slice scores come from the map that leads, against its healthy pixels' p99.
    const torch::Tensor lead = leadHyper_ ? hyper : energy;
    const double healthyP99 = leadHyper_ ? hyperP99_.item<double>() : energyP99_.item<double>();
    // hyperintensity_p99 is the lead map's healthy p99 from the fit pass. A model recalibrated to
    // another lead map or map_sigma keeps it: its excess_count then counts above a fixed level
    // that is not that map's p99; validation chooses and thresholds the score on the same counts.
    torch::Tensor p99 = torch::zeros({n}, torch::kDouble), topMean = torch::zeros({n}, torch::kDouble),
                  excess = torch::zeros({n}, torch::kDouble);
    for (int64_t i = 0; i < n; ++i) {
      const torch::Tensor inside = mask[i][0] > 0.5;
      torch::Tensor values = lead[i][0].masked_select(inside);
      if (values.numel() == 0) values = lead[i][0].flatten();
      const torch::Tensor vd = values.to(torch::kDouble);
      p99[i].fill_(torch::quantile(vd, q).item<double>());
      topMean[i].fill_(std::get<0>(vd.topk(std::min<int64_t>(topN, vd.numel()))).mean().item<double>());
      // Without a healthy p99 (a model file older than it) the count is against the slice's own.
      const double limit = healthyP99 > -1 ? healthyP99 : p99[i].item<double>();
      excess[i].fill_((vd > limit).sum().item<double>() - 0.01 * static_cast<double>(vd.numel()));
    }
    r.scoreVariants = {{"p99", p99}, {"top_mean", topMean}, {"excess_count", excess}};
    r.scores = r.scoreVariants.at(cfg_.values.at("slice_score").get<std::string>());
    r.maps["energy"] = energy;
    r.maps["translation_error"] = f.zct.mean(1, true) * mask;
    if (leadHyper_) r.maps[leadName_] = hyper;
    r.reconstruction = f.translated;
    return r;
  }

  std::map<std::string, torch::Tensor> referenceInputs(int batch) const override {
    const int s = shape_.imageSize;
    torch::Tensor mask = torch::ones({batch, 1, s, s});
    mask.narrow(3, 0, s / 4).zero_();  // a background band, so the median is taken in the mask
    return {{"x", seededNormal({batch, shape_.contrasts, s, s}, 51)}, {"mask", mask}};
  }

  std::map<std::string, torch::Tensor> referenceOutputs(const std::map<std::string, torch::Tensor>& in) override {
    setTraining(false);
    torch::NoGradGuard ng;
    const torch::Tensor x = in.at("x").to(dev()), mask = in.at("mask").to(dev());
    std::map<std::string, torch::Tensor> out;
    const torch::Tensor target = torch::zeros({x.size(0)}, x.options().dtype(torch::kLong));
    auto [inputs, median] = ctocInput(x, target, mask);
    out["G_ct.target0"] = Gct_(inputs, median);
    Features f = features(x, &mask);
    out["Z_ct"] = f.zct;
    out["Z_dr"] = f.zdr;
    out["F_dr"] = DR_->reconstruct(f.zdr);
    out["G_de"] = DE_(f.z);
    auto terms = densityTerms(x, mask);
    out["density_loss"] = terms.loss.reshape({1});
    if (fitted_.item<double>() != 0)
      out["energy_fixed"] = adm::gmmEnergy(pixels(f.z), {phi_, mu_, cov_});
    return out;
  }

 private:
  struct Features {
    torch::Tensor zct, zdr, z, translated;
  };

  torch::Tensor batchTensor1(const Volume& v) const {
    return toTensor(v).narrow(0, 0, 1).permute({1, 0, 2, 3}).contiguous().to(dev());
  }

  // [N, C, H, W] -> [N·H·W, C]
  static torch::Tensor pixels(const torch::Tensor& t) {
    return t.permute({0, 2, 3, 1}).reshape({-1, t.size(1)});
  }

  // The CtoC input for one target contrast per image: its channel replaced by its median inside
  // the mask (all pixels when the mask is empty), and that median as a constant map. For the
  // hyperintense contrast with hyperintensity_from set, the contrasts it may not see are zero
  // (their z-scored mean): even their median would tell CtoC something.
  std::pair<torch::Tensor, torch::Tensor> ctocInput(const torch::Tensor& x, const torch::Tensor& target,
                                                    const torch::Tensor& mask) const {
    const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
    torch::Tensor medians = torch::empty({n}, x.options());
    {
      torch::NoGradGuard ng;
      const auto targetCpu = target.to(torch::kCPU);
      for (int64_t i = 0; i < n; ++i) {
        const torch::Tensor channel = x[i][targetCpu[i].item<int64_t>()];
        torch::Tensor values = channel.masked_select(mask[i][0] > 0.5);
        if (values.numel() == 0) values = channel.flatten();
        medians[i].copy_(values.median());
      }
    }
    const torch::Tensor medianMap = medians.view({n, 1, 1, 1}).expand({n, 1, h, w});
    const torch::Tensor onehot = torch::one_hot(target, shape_.contrasts).to(x.dtype()).view({n, -1, 1, 1});
    torch::Tensor inputs = x * (1 - onehot) + medianMap * onehot;
    if (hideForHyperintense_.defined()) {
      const torch::Tensor isHyper = (target == hyperTarget_).to(x.dtype()).view({n, 1, 1, 1});
      inputs = inputs * (1 - isHyper * hideForHyperintense_.to(x.device(), x.scalar_type()).view({1, -1, 1, 1}));
    }
    return {inputs, medianMap.contiguous()};
  }

  // Z_ct for every contrast (C translations, batched), Z_dr, and z = [Z_ct, Z_dr].
  Features features(const torch::Tensor& x, const torch::Tensor* mask = nullptr) {
    const int64_t n = x.size(0), C = shape_.contrasts;
    const torch::Tensor m = mask ? *mask : torch::ones({n, 1, x.size(2), x.size(3)}, x.options());
    Features f;
    {
      torch::NoGradGuard ng;  // G_ct is fixed once trained (Eq. 14 optimises DR and DE only)
      const torch::Tensor xs = x.repeat({C, 1, 1, 1});  // [C·N, C, H, W], contrast-major
      const torch::Tensor target = torch::arange(C, x.options().dtype(torch::kLong)).repeat_interleave(n);
      auto [inputs, median] = ctocInput(xs, target, m.repeat({C, 1, 1, 1}));
      f.translated = Gct_(inputs, median).view({C, n, x.size(2), x.size(3)}).permute({1, 0, 2, 3}).contiguous();
      f.zct = (x - f.translated).abs();
    }
    f.zdr = DR_->reduce(x);
    f.z = torch::cat({f.zct, f.zdr}, 1);
    return f;
  }

  // The leading map other than the energy, on the hyperintense contrast c: "hyperintensity",
  // max(0, X_c - X̂_c), brighter than the other contrasts predict; "intensity", max(0, X_c),
  // brighter than the brain's mean. Smoothed inside the mask by map_sigma pixels when set.
  torch::Tensor leadMap(const torch::Tensor& x, const Features& f, const torch::Tensor& mask) const {
    const torch::Tensor own = x.narrow(1, hyperChannel_, 1);
    const torch::Tensor h = (leadName_ == "intensity" ? own : own - f.translated.narrow(1, hyperChannel_, 1)).clamp_min(0);
    const double sigma = cfg_.values.value("map_sigma", 0.0);
    return sigma > 0 ? gaussianBlur(h, sigma, (mask > 0.5).to(h.dtype())) : h;
  }

  struct DensityTerms {
    torch::Tensor loss, reconstruction, energy;
  };
  // Eq. 14: ||X - X̂_dr||² + (λ/N)·Σ_n E_n over the N valid pixels, with the batch's GMM
  // parameters. The reconstruction term is per pixel, ||x_n - x̂_n||² over the contrasts averaged
  // over the valid pixels, like the energy term (DAGMM's form, a pixel being ADM's sample): as a
  // sum over the image's 16,384 pixels it would outweigh λ·E by four orders of magnitude more
  // and λ = 5e-4 would not act on G_dr at all.
  DensityTerms densityTerms(const torch::Tensor& x, const torch::Tensor& mask) {
    Features f = features(x, &mask);
    const torch::Tensor gamma = DE_(f.z);
    const torch::Tensor w = pixels(mask).squeeze(1);
    adm::GmmParameters p = adm::gmmParameters(pixels(f.z), pixels(gamma), w);
    p.cov = adm::guardCovariance(p.cov, eps_);
    const torch::Tensor energy = adm::gmmEnergy(pixels(f.z), p);
    const torch::Tensor wd = w.to(torch::kDouble);
    DensityTerms t;
    t.energy = (energy * wd).sum() / wd.sum().clamp_min(1.0);
    const torch::Tensor m = mask.to(x.dtype());
    t.reconstruction = ((x - DR_->reconstruct(f.zdr)).pow(2) * m).sum() / m.sum().clamp_min(1.0);
    t.loss = t.reconstruction + cfg_.values.at("lambda").get<double>() * t.energy.to(torch::kFloat);
    return t;
  }

  std::vector<std::string> contrastNames_;
  torch::Tensor hideForHyperintense_;  // [C]: 1 where CtoC may not look for the hyperintense contrast (the target itself: 0, its median stays)
  int64_t hyperTarget_ = -1;
  // The GMM fit pass's sums are not kept: a resumed fit pass starts over (it is one pass).
  nlohmann::json trainingCounters() const override {
    return {{"ctoc_iteration", ctIteration_}, {"density_iteration", deIteration_}};
  }
  void setTrainingCounters(const nlohmann::json& c) override {
    ctIteration_ = c.at("ctoc_iteration");
    deIteration_ = c.at("density_iteration");
    fitIteration_ = 0;
    s0_ = s1_ = s2_ = torch::Tensor();
    zSample_.clear();
    hyperSample_.clear();
    sampleRows_ = 0;
  }
  std::vector<std::string> optionalBuffers() const override { return {"gmm_energy_p99", "hyperintensity_p99"}; }
  std::vector<std::pair<std::string, torch::optim::Optimizer*>> optimisers(bool create) override {
    if (create) {
      makeCtocOptimiser();
      makeDensityOptimiser();
    }
    return {{"ctoc", optCt_.get()}, {"density", optDe_.get()}};
  }
  void makeCtocOptimiser() {
    if (!optCt_) optCt_ = std::make_unique<torch::optim::Adam>(Gct_->parameters(), adamOptions());
  }
  void makeDensityOptimiser() {
    if (optDe_) return;
    std::vector<torch::Tensor> p = DR_->parameters();
    for (auto& t : DE_->parameters()) p.push_back(t);
    optDe_ = std::make_unique<torch::optim::Adam>(p, adamOptions());
  }

  adm::Shape shape_;
  double eps_ = 1e-6;
  adm::CtoC Gct_{nullptr};
  adm::DimensionReduction DR_{nullptr};
  adm::DensityEstimation DE_{nullptr};
  torch::Tensor phi_, mu_, cov_, fitted_, energyP99_, hyperP99_;
  std::string leadName_ = "energy";
  bool leadHyper_ = false;  // a lead map other than the energy (hyperintensity or intensity)
  int hyperChannel_ = -1;
  std::vector<torch::Tensor> hyperSample_;
  torch::Tensor s0_, s1_, s2_;
  std::vector<torch::Tensor> zSample_;
  int64_t sampleRows_ = 0;
  std::unique_ptr<torch::optim::Adam> optCt_, optDe_;
  long ctIteration_ = 0, deIteration_ = 0, fitIteration_ = 0;
};

}  // namespace

std::unique_ptr<TorchModel> makeAdm(const std::string& preset, const nlohmann::json& overrides) {
  return std::make_unique<AdmModel>(resolveConfig(presets(), preset, overrides, "adm", {"slice_score"}));
}

ModelDescription describeAdm(const std::string& preset, const nlohmann::json& overrides) {
  const ResolvedConfig cfg = resolveConfig(presets(), preset, overrides, "adm", {"slice_score"});
  checkConfig(cfg.values);
  return {cfg.name, cfg.values, inputOf(cfg.values), stagesOf(cfg.values)};
}

}  // namespace al::models
