#include "models/TorchModel.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include "image/TorchBridge.h"
#include "runtime/TorchRuntime.h"

namespace al::models {

namespace F = torch::nn::functional;

torch::Device resolveDevice(const std::string& device) {
  if (device.empty() || device == "auto")
    return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  if (device == "cpu") return torch::Device(torch::kCPU);
  if (device.rfind("cuda", 0) == 0) {
    if (!torch::cuda::is_available())
      throw Error("device " + device,
                  "CUDA is not available (this LibTorch has no CUDA support or no GPU was found); "
                  "use \"cpu\" or \"auto\"");
    int index = 0;
    if (device.size() > 4) {
      if (device[4] != ':') throw Error("device " + device, "expected cuda or cuda:N");
      try {
        index = std::stoi(device.substr(5));
      } catch (const std::exception&) {
        throw Error("device " + device, "expected cuda or cuda:N");
      }
    }
    if (index < 0 || index >= static_cast<int>(torch::cuda::device_count()))
      throw Error("device " + device, "no such CUDA device (found " +
                                          std::to_string(torch::cuda::device_count()) + ")");
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  throw Error("device " + device, "unknown device; use auto, cpu, cuda or cuda:N");
}

nlohmann::json applyOverrides(const nlohmann::json& preset, const nlohmann::json& overrides,
                              const std::string& kind) {
  nlohmann::json out = preset;
  if (overrides.is_null()) return out;
  if (!overrides.is_object()) throw Error(kind + " config", "overrides must be a JSON object");
  for (const auto& [key, value] : overrides.items()) {
    if (!out.contains(key)) {
      std::string known;
      for (const auto& [k, v] : preset.items()) known += (known.empty() ? "" : ", ") + k;
      throw Error(kind + " config", "unknown hyper-parameter \"" + key + "\" (known: " + known + ")");
    }
    if (out[key].type() != value.type() && !(out[key].is_number() && value.is_number()))
      throw Error(kind + " config", "hyper-parameter \"" + key + "\" has the wrong type");
    out[key] = value;
  }
  return out;
}

torch::Tensor seededUniform(std::vector<int64_t> shape, double lo, double hi, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return torch::empty(shape, torch::kFloat).uniform_(lo, hi, gen);
}

torch::Tensor seededNormal(std::vector<int64_t> shape, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return torch::empty(shape, torch::kFloat).normal_(0.0, 1.0, gen);
}

torch::Tensor gaussianBlur(const torch::Tensor& x, double sigma, const torch::Tensor& mask) {
  if (!(sigma > 0)) return x;
  const int radius = std::max(1, static_cast<int>(std::ceil(3 * sigma)));
  torch::Tensor k = torch::arange(-radius, radius + 1, x.options()).pow(2).div(-2 * sigma * sigma).exp();
  k = k / k.sum();
  namespace F = torch::nn::functional;
  auto blur = [&](const torch::Tensor& t) {
    torch::Tensor y = F::pad(t, F::PadFuncOptions({radius, radius, radius, radius}).mode(torch::kReplicate));
    y = F::conv2d(y, k.view({1, 1, 1, -1}));
    return F::conv2d(y, k.view({1, 1, -1, 1}));
  };
  if (!mask.defined()) return blur(x);
  const torch::Tensor m = mask.to(x.dtype());
  return blur(x * m) / blur(m).clamp_min(1e-6) * m;
}

torch::Tensor gradientPenalty(const std::function<torch::Tensor(const torch::Tensor&)>& critic,
                              const torch::Tensor& real, const torch::Tensor& fake,
                              const torch::Tensor& alpha) {
  torch::Tensor xHat = (alpha * real + (1 - alpha) * fake).detach().requires_grad_(true);
  torch::Tensor out = critic(xHat);
  torch::Tensor grad = torch::autograd::grad({out.sum()}, {xHat}, {}, /*retain_graph=*/true,
                                             /*create_graph=*/true)[0];
  torch::Tensor norm = grad.flatten(1).norm(2, 1);
  return (norm - 1).pow(2).mean();
}

double patchAggregation(std::vector<double> windowScores) {
  if (windowScores.empty()) return 0.0;
  std::sort(windowScores.begin(), windowScores.end(), std::greater<double>());
  const std::size_t k = std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(0.05 * windowScores.size())));
  double sum = 0;
  for (std::size_t i = 0; i < k; ++i) sum += windowScores[i];
  return sum / static_cast<double>(k);
}

torch::optim::AdamOptions TorchModel::adamOptions() const {
  return torch::optim::AdamOptions(cfg_.values.at("lr").get<double>())
      .betas({cfg_.values.at("beta1").get<double>(), cfg_.values.at("beta2").get<double>()});
}

TorchModel::TorchModel(ResolvedConfig config)
    : cfg_(std::move(config)), root_(std::make_shared<torch::nn::Module>("root")) {
  (void)torchRuntime();  // once: intra-op threads set to the cores this process may use
}

void TorchModel::setDevice(const std::string& device) {
  device_ = resolveDevice(device);
  root_->to(device_);
}

std::string TorchModel::device() const { return device_.str(); }

void TorchModel::setTraining(bool training) { root_->train(training); }

long TorchModel::parameterCount() const {
  long n = 0;
  for (const auto& p : root_->parameters()) n += p.numel();
  return n;
}

namespace {
constexpr std::int64_t kCheckpointFormat = 1;

torch::Tensor textTensor(const std::string& text) {
  torch::Tensor t = torch::empty({static_cast<std::int64_t>(text.size())}, torch::kUInt8);
  if (!text.empty()) std::memcpy(t.data_ptr<std::uint8_t>(), text.data(), text.size());
  return t;
}

std::string tensorText(const torch::Tensor& t) {
  const torch::Tensor c = t.to(torch::kCPU).contiguous();
  return std::string(reinterpret_cast<const char*>(c.data_ptr<std::uint8_t>()), static_cast<std::size_t>(c.numel()));
}
}  // namespace

void AnomalyModel::chooseScore(const std::string& variant) {
  throw Error(toString(kind()), "offers no score \"" + variant + "\" (it has one score)");
}

void seedRandom(unsigned long long seed) {
  torch::manual_seed(seed);  // the CPU generator and, when present, every CUDA device's
}

// One torch archive: "meta" (JSON: format, kind, config, tensor names, counters, the caller's
// state), the tensors by index (archive keys may not hold the dots of parameter names), each
// optimiser's own archive, and the CPU generator's state.
void TorchModel::saveCheckpoint(const std::string& path, const std::string& callerState) {
  torch::serialize::OutputArchive archive;
  const NamedTensors tensors = namedTensors();
  nlohmann::json names = nlohmann::json::array();
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    names.push_back(tensors[i].first);
    archive.write("tensor_" + std::to_string(i), tensors[i].second, true);
  }
  nlohmann::json optimiserNames = nlohmann::json::array();
  for (auto& [name, opt] : optimisers(false)) {
    if (!opt) continue;
    torch::serialize::OutputArchive sub;
    opt->save(sub);
    archive.write("optimiser_" + name, sub);
    optimiserNames.push_back(name);
  }
  const nlohmann::json meta = {{"format", kCheckpointFormat}, {"kind", toString(kind())},
                               {"config", cfg_.values}, {"tensors", names},
                               {"optimisers", optimiserNames}, {"counters", trainingCounters()},
                               {"caller", callerState}};
  archive.write("meta", textTensor(meta.dump()), true);
  {
    at::Generator gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    archive.write("rng_cpu", gen.get_state(), true);
  }
  try {
    archive.save_to(path);
  } catch (const c10::Error& e) {
    throw FileError(path, std::string("cannot write the checkpoint: ") + e.what_without_backtrace());
  }
}

std::string TorchModel::loadCheckpoint(const std::string& path) {
  torch::serialize::InputArchive archive;
  nlohmann::json meta;
  try {
    archive.load_from(path, torch::kCPU);
    torch::Tensor m;
    archive.read("meta", m, true);
    meta = nlohmann::json::parse(tensorText(m));
  } catch (const c10::Error& e) {
    throw FileError(path, std::string("not a readable checkpoint: ") + e.what_without_backtrace());
  } catch (const nlohmann::json::exception& e) {
    throw FileError(path, std::string("checkpoint metadata unreadable: ") + e.what());
  }
  if (meta.value("format", 0) != kCheckpointFormat) throw FileError(path, "checkpoint of an unknown format");
  if (meta.value("kind", "") != toString(kind()))
    throw FileError(path, "checkpoint of a " + meta.value("kind", std::string("?")) + " model, not " + toString(kind()));
  if (meta.at("config") != cfg_.values) throw FileError(path, "checkpoint made with other hyper-parameters");
  NamedTensors tensors;
  const auto names = meta.at("tensors").get<std::vector<std::string>>();
  try {
    for (std::size_t i = 0; i < names.size(); ++i) {
      torch::Tensor t;
      archive.read("tensor_" + std::to_string(i), t, true);
      tensors.emplace_back(names[i], t);
    }
  } catch (const c10::Error& e) {
    throw FileError(path, std::string("checkpoint truncated: ") + e.what_without_backtrace());
  }
  loadNamedTensors(tensors, path);
  const auto wanted = meta.at("optimisers").get<std::vector<std::string>>();
  for (auto& [name, opt] : optimisers(true)) {
    if (std::find(wanted.begin(), wanted.end(), name) == wanted.end() || !opt) continue;
    torch::serialize::InputArchive sub;
    try {
      archive.read("optimiser_" + name, sub);
      opt->load(sub);
    } catch (const c10::Error& e) {
      throw FileError(path, "optimiser " + name + " state unreadable: " + e.what_without_backtrace());
    }
  }
  // Optimiser state was read on the CPU: move it to where the parameters are.
  for (auto& [name, opt] : optimisers(false)) {
    if (!opt) continue;
    // Iterate the state itself: its key type differs between LibTorch 1.13 and 2.x.
    for (auto& entry : opt->state()) {
      auto* st = entry.second.get();
      if (auto* adam = dynamic_cast<torch::optim::AdamParamState*>(st)) {
        adam->exp_avg(adam->exp_avg().to(dev()));
        adam->exp_avg_sq(adam->exp_avg_sq().to(dev()));
        if (adam->max_exp_avg_sq().defined()) adam->max_exp_avg_sq(adam->max_exp_avg_sq().to(dev()));
      } else if (auto* rms = dynamic_cast<torch::optim::RMSpropParamState*>(st)) {
        rms->square_avg(rms->square_avg().to(dev()));
        if (rms->momentum_buffer().defined()) rms->momentum_buffer(rms->momentum_buffer().to(dev()));
        if (rms->grad_avg().defined()) rms->grad_avg(rms->grad_avg().to(dev()));
      }
    }
  }
  setTrainingCounters(meta.at("counters"));
  torch::Tensor rng;
  if (archive.try_read("rng_cpu", rng)) {
    at::Generator gen = at::detail::getDefaultCPUGenerator();  // a handle on the global one
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(rng);
  }
  return meta.value("caller", std::string());
}

NamedTensors TorchModel::namedTensors() const {
  NamedTensors out;
  for (const auto& item : root_->named_parameters())
    out.emplace_back(item.key(), item.value().detach().to(torch::kCPU).contiguous());
  for (const auto& item : root_->named_buffers())
    out.emplace_back(item.key(), item.value().detach().to(torch::kCPU).contiguous());
  return out;
}

void TorchModel::loadNamedTensors(const NamedTensors& tensors, const std::string& source) {
  std::map<std::string, torch::Tensor> given;
  for (const auto& [name, t] : tensors) given[name] = t;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> assignments;
  std::set<std::string> used;
  auto match = [&](const std::string& name, const torch::Tensor& target) {
    auto it = given.find(name);
    if (it == given.end()) throw Error(source, "the weights lack tensor \"" + name + "\"");
    if (it->second.sizes() != target.sizes())
      throw Error(source, "tensor \"" + name + "\" has shape " + c10::str(it->second.sizes()) +
                              ", the model needs " + c10::str(target.sizes()));
    if (it->second.scalar_type() != target.scalar_type())
      throw Error(source, "tensor \"" + name + "\" has the wrong element type");
    if (target.is_floating_point() && !torch::isfinite(it->second).all().item<bool>())
      throw Error(source, "tensor \"" + name + "\" holds NaN or infinite values");
    assignments.emplace_back(target, it->second);
    used.insert(name);
  };
  for (const auto& item : root_->named_parameters()) match(item.key(), item.value());
  const std::vector<std::string> optional = optionalBuffers();
  for (const auto& item : root_->named_buffers()) {
    if (!given.count(item.key()) &&
        std::find(optional.begin(), optional.end(), item.key()) != optional.end())
      continue;  // written by a later version: an older file keeps the initial value
    match(item.key(), item.value());
  }
  for (const auto& [name, t] : given)
    if (!used.count(name)) throw Error(source, "unexpected tensor \"" + name + "\" for this model");
  torch::NoGradGuard noGrad;
  for (auto& [target, value] : assignments) target.copy_(value);
}

torch::Tensor TorchModel::batchTensor(const Volume& v, const char* what) const {
  const InputSpec spec = input();
  if (v.channels() != spec.channels)
    throw Error(what, "has " + std::to_string(v.channels()) + " channels, the model takes " +
                          std::to_string(spec.channels));
  if (v.size().y != spec.height || v.size().x != spec.width)
    throw Error(what, "images are " + std::to_string(v.size().x) + "x" + std::to_string(v.size().y) +
                          ", the model trains on " + std::to_string(spec.width) + "x" +
                          std::to_string(spec.height));
  // Volume [C, N, H, W] -> [N, C, H, W]
  return toTensor(v).permute({1, 0, 2, 3}).contiguous().to(device_);
}

namespace {

// Window starts covering [0, extent) with windows of `size` and at most `stride` apart; the
// last window ends at the edge (images smaller than a window are padded beforehand).
std::vector<int64_t> windowStarts(int64_t extent, int64_t size, int64_t stride) {
  std::vector<int64_t> starts;
  if (extent <= size) return {0};
  for (int64_t s = 0; s + size < extent; s += stride) starts.push_back(s);
  starts.push_back(extent - size);
  return starts;
}

// Blending weight of a window: a separable tent, highest at the centre, so that seams between
// overlapping windows fade instead of stepping; never zero so the image edge is covered.
torch::Tensor tentWeight(int64_t h, int64_t w) {
  auto ramp = [](int64_t n) {
    auto i = torch::arange(n, torch::kFloat);
    return torch::minimum(i + 1, n - i) / static_cast<float>((n + 1) / 2);
  };
  return torch::outer(ramp(h), ramp(w)).clamp_min(0.05f);
}

void checkCancel(const ProgressFn& progress, double fraction) {
  if (progress && !progress(std::clamp(fraction, 0.0, 1.0))) throw Cancelled();
}

}  // namespace

Analysis TorchModel::analyse(const Volume& images, const Volume* mask,
                             const RunOptions& options) const {
  const InputSpec spec = input();
  if (images.empty()) throw Error("analysis", "the image is empty");
  if (images.channels() != spec.channels)
    throw Error("analysis", "the image has " + std::to_string(images.channels()) +
                                " channel(s), the model takes " + std::to_string(spec.channels) +
                                (spec.channelNames.empty() ? "" : " (" + [&] {
                                  std::string s;
                                  for (const auto& n : spec.channelNames) s += (s.empty() ? "" : ", ") + n;
                                  return s;
                                }() + ")"));
  if (mask && !(mask->size() == images.size()))
    throw Error("analysis", "the mask's size differs from the image's");
  const int64_t Z = images.size().z, H = images.size().y, W = images.size().x, C = spec.channels;
  const int batchSize = std::max(1, options.batchSize);

  torch::NoGradGuard noGrad;
  // Inference always runs the networks in eval mode (batch-norm running statistics, no
  // dropout), whatever mode training left them in.
  struct EvalGuard {
    torch::nn::Module& m;
    bool was;
    ~EvalGuard() { m.train(was); }
  } evalGuard{*root_, root_->is_training()};
  root_->eval();
  const torch::Tensor all = toTensor(images).permute({1, 0, 2, 3}).contiguous();  // [Z, C, H, W]
  const torch::Tensor allMask =
      mask ? (toTensor(*mask).narrow(0, 0, 1).permute({1, 0, 2, 3}) != 0).to(torch::kFloat).contiguous()
           : torch::ones({Z, 1, H, W});
  if (!torch::isfinite(all).all().item<bool>())
    throw Error("analysis", "the image holds NaN or infinite values");

  Analysis result;
  result.scores.assign(static_cast<std::size_t>(Z), 0.0);
  std::map<std::string, torch::Tensor> mapSums;
  torch::Tensor reconSum, weightSum = torch::zeros({Z, 1, H, W});

  if (spec.mode == InputMode::WholeImage) {
    const int64_t batches = (Z + batchSize - 1) / batchSize;
    for (int64_t b = 0; b < batches; ++b) {
      checkCancel(options.progress, static_cast<double>(b) / batches);
      const int64_t z0 = b * batchSize, n = std::min<int64_t>(batchSize, Z - z0);
      torch::Tensor x = all.narrow(0, z0, n), m = allMask.narrow(0, z0, n);
      const bool resize = H != spec.height || W != spec.width;
      if (resize) {
        // Antialiased when shrinking so that speckle does not alias into the model's input.
        x = F::interpolate(x, F::InterpolateFuncOptions()
                                  .size(std::vector<int64_t>{spec.height, spec.width})
                                  .mode(torch::kBilinear).align_corners(false)
                                  .antialias(H > spec.height || W > spec.width));
        m = (F::interpolate(m, F::InterpolateFuncOptions()
                                   .size(std::vector<int64_t>{spec.height, spec.width})
                                   .mode(torch::kNearest)) > 0.5).to(torch::kFloat);
      }
      const ProgressFn within = [&](double f) {
        return !options.progress || options.progress((b + std::clamp(f, 0.0, 1.0)) / batches);
      };
      BatchResult r = inferBatch(x.to(device_), m.to(device_), within);
      auto back = [&](const torch::Tensor& t) {
        torch::Tensor c = t.to(torch::kCPU, torch::kFloat);
        if (!resize) return c;
        return F::interpolate(c, F::InterpolateFuncOptions()
                                     .size(std::vector<int64_t>{H, W})
                                     .mode(torch::kBilinear).align_corners(false));
      };
      for (auto& [name, t] : r.maps) {
        auto& sum = mapSums[name];
        if (!sum.defined()) sum = torch::zeros({Z, 1, H, W});
        sum.narrow(0, z0, n).copy_(back(t));
      }
      if (r.reconstruction.defined()) {
        if (!reconSum.defined()) reconSum = torch::zeros({Z, C, H, W});
        reconSum.narrow(0, z0, n).copy_(back(r.reconstruction));
      }
      const torch::Tensor s = r.scores.to(torch::kCPU, torch::kDouble);
      for (int64_t i = 0; i < n; ++i) result.scores[z0 + i] = s[i].item<double>();
      for (const auto& [name, t] : r.scoreVariants) {
        auto& out = result.scoreVariants[name];
        out.resize(static_cast<std::size_t>(Z), 0.0);
        const torch::Tensor v = t.to(torch::kCPU, torch::kDouble);
        for (int64_t i = 0; i < n; ++i) out[static_cast<std::size_t>(z0 + i)] = v[i].item<double>();
      }
    }
    weightSum.fill_(1.0);
  } else {
    // Sliding window: pad images smaller than a window (replicating the edge), tile with the
    // requested overlap, score every window that is mostly valid, blend maps with tent weights.
    const int64_t h = spec.height, w = spec.width;
    const int64_t padY = std::max<int64_t>(0, h - H), padX = std::max<int64_t>(0, w - W);
    torch::Tensor padded = all, paddedMask = allMask;
    if (padY || padX) {
      padded = F::pad(all, F::PadFuncOptions({0, padX, 0, padY}).mode(torch::kReplicate));
      paddedMask = F::pad(allMask, F::PadFuncOptions({0, padX, 0, padY}));
    }
    const int64_t PH = H + padY, PW = W + padX;
    const double overlap = std::clamp(options.windowOverlap, 0.0, 0.9);
    const auto ys = windowStarts(PH, h, std::max<int64_t>(1, std::llround(h * (1 - overlap))));
    const auto xs = windowStarts(PW, w, std::max<int64_t>(1, std::llround(w * (1 - overlap))));
    struct Window { int64_t z, y, x; };
    std::vector<Window> windows;
    result.windowScores.assign(static_cast<std::size_t>(Z), {});
    for (int64_t z = 0; z < Z; ++z)
      for (int64_t y : ys)
        for (int64_t x : xs) {
          // The share of the window's pixels inside the image (not padding) that are valid.
          const int64_t inY = std::min(h, H - y), inX = std::min(w, W - x);
          const float valid = paddedMask[z].narrow(1, y, inY).narrow(2, x, inX).mean().item<float>();
          if (valid >= 0.5f) windows.push_back({z, y, x});
        }
    const torch::Tensor tent = tentWeight(h, w).view({1, h, w});
    torch::Tensor pWeight = torch::zeros({Z, 1, PH, PW});
    std::map<std::string, torch::Tensor> pSums;
    torch::Tensor pRecon;
    const int64_t total = static_cast<int64_t>(windows.size());
    const int64_t batches = (total + batchSize - 1) / batchSize;
    for (int64_t b = 0; b < batches; ++b) {
      checkCancel(options.progress, static_cast<double>(b) / batches);
      const int64_t i0 = b * batchSize, n = std::min<int64_t>(batchSize, total - i0);
      std::vector<torch::Tensor> xb, mb;
      for (int64_t i = i0; i < i0 + n; ++i) {
        const Window& win = windows[static_cast<std::size_t>(i)];
        xb.push_back(padded[win.z].narrow(1, win.y, h).narrow(2, win.x, w));
        mb.push_back(paddedMask[win.z].narrow(1, win.y, h).narrow(2, win.x, w));
      }
      const ProgressFn within = [&](double f) {
        return !options.progress || options.progress((b + std::clamp(f, 0.0, 1.0)) / batches);
      };
      BatchResult r = inferBatch(torch::stack(xb).to(device_), torch::stack(mb).to(device_), within);
      const torch::Tensor s = r.scores.to(torch::kCPU, torch::kDouble);
      std::map<std::string, torch::Tensor> cpuMaps;
      for (auto& [name, t] : r.maps) cpuMaps[name] = t.to(torch::kCPU, torch::kFloat);
      torch::Tensor cpuRecon = r.reconstruction.defined() ? r.reconstruction.to(torch::kCPU, torch::kFloat)
                                                          : torch::Tensor();
      for (int64_t k = 0; k < n; ++k) {
        const Window& win = windows[static_cast<std::size_t>(i0 + k)];
        result.windowScores[win.z].push_back(s[k].item<double>());
        pWeight[win.z].narrow(1, win.y, h).narrow(2, win.x, w).add_(tent);
        for (auto& [name, t] : cpuMaps) {
          auto& sum = pSums[name];
          if (!sum.defined()) sum = torch::zeros({Z, 1, PH, PW});
          sum[win.z].narrow(1, win.y, h).narrow(2, win.x, w).add_(t[k] * tent);
        }
        if (cpuRecon.defined()) {
          if (!pRecon.defined()) pRecon = torch::zeros({Z, C, PH, PW});
          pRecon[win.z].narrow(1, win.y, h).narrow(2, win.x, w).add_(cpuRecon[k] * tent);
        }
      }
    }
    for (int64_t z = 0; z < Z; ++z) result.scores[z] = patchAggregation(result.windowScores[z]);
    weightSum = pWeight.narrow(2, 0, H).narrow(3, 0, W);
    for (auto& [name, t] : pSums) mapSums[name] = t.narrow(2, 0, H).narrow(3, 0, W);
    if (pRecon.defined()) reconSum = pRecon.narrow(2, 0, H).narrow(3, 0, W);
  }
  checkCancel(options.progress, 1.0);

  // Pixels no scored window covered get 0 in the maps (and the input in the reconstruction).
  const torch::Tensor covered = weightSum > 0;
  const torch::Tensor norm = weightSum.clamp_min(1e-12f);
  // Patch models' map_sigma (a deviation, default 0): the blended map smoothed by a Gaussian of
  // that many pixels inside the covered pixels, so that a lesion shows as a region rather than
  // grainy residual; whole-image models smooth their own maps.
  const double patchSigma = spec.mode == InputMode::Patches ? cfg_.values.value("map_sigma", 0.0) : 0.0;
  for (const auto& name : mapNames()) {
    auto it = mapSums.find(name);
    torch::Tensor map = it == mapSums.end() ? torch::zeros({Z, 1, H, W})
                                            : torch::where(covered, it->second / norm, torch::zeros({}));
    if (patchSigma > 0 && it != mapSums.end()) map = gaussianBlur(map, patchSigma, covered.to(map.dtype()));
    Volume v = fromTensor(map.permute({1, 0, 2, 3}), &images);
    v.setChannelNames({name});
    result.maps.emplace(name, std::move(v));
  }
  if (reconSum.defined()) {
    torch::Tensor recon = torch::where(covered.expand({Z, C, H, W}), reconSum / norm, all);
    result.reconstruction = fromTensor(recon.permute({1, 0, 2, 3}), &images);
  }
  return result;
}

}  // namespace al::models
