#include "models/anogan/AnoGanNetworks.h"

namespace al::models::anogan {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

namespace {
// Stride-2 layers that exactly halve/double: padding (k-1)/2 for odd kernels plus an output
// padding of 1 on the way up; padding 1 for 4x4.
int pad(int k) { return k % 2 ? (k - 1) / 2 : (k - 2) / 2; }
int outPad(int k) { return k % 2 ? 1 : 0; }
}  // namespace

GeneratorImpl::GeneratorImpl(const DcganShape& s) : s_(s) {
  const int b = s.base, k = s.kernel, f = s.imageSize / 16;
  fc = register_module("fc", nn::Linear(nn::LinearOptions(s.zDim, 8 * b * f * f).bias(false)));
  bn0 = register_module("bn0", nn::BatchNorm2d(8 * b));
  auto up = [&](int in, int out, bool bias) {
    return nn::ConvTranspose2d(nn::ConvTranspose2dOptions(in, out, k).stride(2).padding(pad(k))
                                   .output_padding(outPad(k)).bias(bias));
  };
  up1 = register_module("up1", up(8 * b, 4 * b, false));
  bn1 = register_module("bn1", nn::BatchNorm2d(4 * b));
  up2 = register_module("up2", up(4 * b, 2 * b, false));
  bn2 = register_module("bn2", nn::BatchNorm2d(2 * b));
  up3 = register_module("up3", up(2 * b, b, false));
  bn3 = register_module("bn3", nn::BatchNorm2d(b));
  up4 = register_module("up4", up(b, s.channels, true));
}

torch::Tensor GeneratorImpl::forward(const torch::Tensor& z) {
  const int f = s_.imageSize / 16;
  torch::Tensor h = fc(z).view({z.size(0), 8 * s_.base, f, f});
  h = torch::relu(bn0(h));
  h = torch::relu(bn1(up1(h)));
  h = torch::relu(bn2(up2(h)));
  h = torch::relu(bn3(up3(h)));
  return torch::tanh(up4(h));
}

DiscriminatorImpl::DiscriminatorImpl(const DcganShape& s) {
  const int b = s.base, k = s.kernel, f = s.imageSize / 16;
  auto down = [&](int in, int out, bool bias) {
    return nn::Conv2d(nn::Conv2dOptions(in, out, k).stride(2).padding(pad(k)).bias(bias));
  };
  conv1 = register_module("conv1", down(s.channels, b, true));
  conv2 = register_module("conv2", down(b, 2 * b, false));
  bn2 = register_module("bn2", nn::BatchNorm2d(2 * b));
  conv3 = register_module("conv3", down(2 * b, 4 * b, false));
  bn3 = register_module("bn3", nn::BatchNorm2d(4 * b));
  conv4 = register_module("conv4", down(4 * b, 8 * b, false));
  bn4 = register_module("bn4", nn::BatchNorm2d(8 * b));
  fc = register_module("fc", nn::Linear(8 * b * f * f, 1));
}

std::pair<torch::Tensor, torch::Tensor> DiscriminatorImpl::forward(const torch::Tensor& x) {
  auto lrelu = [](const torch::Tensor& t) { return F::leaky_relu(t, F::LeakyReLUFuncOptions().negative_slope(0.2)); };
  torch::Tensor h = lrelu(conv1(x));
  h = lrelu(bn2(conv2(h)));
  h = lrelu(bn3(conv3(h)));
  h = lrelu(bn4(conv4(h)));
  torch::Tensor features = h.flatten(1);
  return {fc(features).squeeze(1), features};
}

void dcganInit(nn::Module& module) {
  torch::NoGradGuard noGrad;
  for (auto& m : module.modules(/*include_self=*/false)) {
    if (auto* c = m->as<nn::Conv2d>()) {
      c->weight.normal_(0.0, 0.02);
    } else if (auto* t = m->as<nn::ConvTranspose2d>()) {
      t->weight.normal_(0.0, 0.02);
    } else if (auto* l = m->as<nn::Linear>()) {
      l->weight.normal_(0.0, 0.02);
    } else if (auto* bn = m->as<nn::BatchNorm2d>()) {
      bn->weight.normal_(1.0, 0.02);
      bn->bias.zero_();
    }
  }
  for (auto& p : module.named_parameters())
    if (p.key().size() > 5 && p.key().compare(p.key().size() - 5, 5, ".bias") == 0 &&
        p.key().find("bn") == std::string::npos)
      p.value().zero_();
}

}  // namespace al::models::anogan
