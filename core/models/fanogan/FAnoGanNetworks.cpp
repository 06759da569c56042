#include "models/fanogan/FAnoGanNetworks.h"

namespace al::models::fanogan {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

namespace {
nn::Conv2d conv(int in, int out, int k) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, k).padding(k / 2));
}
torch::Tensor upsample(const torch::Tensor& x) {
  return F::interpolate(x, F::InterpolateFuncOptions().scale_factor(std::vector<double>{2.0, 2.0})
                               .mode(torch::kNearest));
}
torch::Tensor meanPool(const torch::Tensor& x) { return F::avg_pool2d(x, F::AvgPool2dFuncOptions(2)); }
nn::AnyModule makeNorm(Norm norm, int channels) {
  if (norm == Norm::Batch) return nn::AnyModule(nn::BatchNorm2d(channels));
  return nn::AnyModule(nn::GroupNorm(nn::GroupNormOptions(1, channels)));
}
}  // namespace

ResBlockUpImpl::ResBlockUpImpl(int in, int out) {
  bn1 = register_module("bn1", nn::BatchNorm2d(in));
  conv1 = register_module("conv1", conv(in, out, 3));
  bn2 = register_module("bn2", nn::BatchNorm2d(out));
  conv2 = register_module("conv2", conv(out, out, 3));
  shortcut = register_module("shortcut", conv(in, out, 1));
}

torch::Tensor ResBlockUpImpl::forward(const torch::Tensor& x) {
  torch::Tensor h = conv1(upsample(torch::relu(bn1(x))));
  h = conv2(torch::relu(bn2(h)));
  return shortcut(upsample(x)) + h;
}

ResBlockDownImpl::ResBlockDownImpl(int in, int out, Norm norm) {
  norm1 = makeNorm(norm, in);
  register_module("norm1", norm1.ptr());
  conv1 = register_module("conv1", conv(in, in, 3));
  norm2 = makeNorm(norm, in);
  register_module("norm2", norm2.ptr());
  conv2 = register_module("conv2", conv(in, out, 3));
  shortcut = register_module("shortcut", conv(in, out, 1));
}

torch::Tensor ResBlockDownImpl::forward(const torch::Tensor& x) {
  torch::Tensor h = conv1(torch::relu(norm1.forward(x)));
  h = meanPool(conv2(torch::relu(norm2.forward(h))));
  return meanPool(shortcut(x)) + h;
}

GeneratorImpl::GeneratorImpl(const ResShape& s) : s_(s) {
  const int d = s.dim, f = s.imageSize / 16;
  fc = register_module("fc", nn::Linear(s.zDim, 8 * d * f * f));
  up1 = register_module("up1", ResBlockUp(8 * d, 8 * d));
  up2 = register_module("up2", ResBlockUp(8 * d, 4 * d));
  up3 = register_module("up3", ResBlockUp(4 * d, 2 * d));
  up4 = register_module("up4", ResBlockUp(2 * d, d));
  bn_out = register_module("bn_out", nn::BatchNorm2d(d));
  conv_out = register_module("conv_out", conv(d, s.channels, 3));
}

torch::Tensor GeneratorImpl::forward(const torch::Tensor& z) {
  const int f = s_.imageSize / 16;
  torch::Tensor h = fc(z).view({z.size(0), 8 * s_.dim, f, f});
  h = up4(up3(up2(up1(h))));
  return torch::tanh(conv_out(torch::relu(bn_out(h))));
}

ResNetTrunkImpl::ResNetTrunkImpl(const ResShape& s, Norm norm, int outputs, bool tanhOutput)
    : tanh_(tanhOutput) {
  const int d = s.dim, f = s.imageSize / 16;
  conv_in = register_module("conv_in", conv(s.channels, d, 3));
  down1 = register_module("down1", ResBlockDown(d, 2 * d, norm));
  down2 = register_module("down2", ResBlockDown(2 * d, 4 * d, norm));
  down3 = register_module("down3", ResBlockDown(4 * d, 8 * d, norm));
  down4 = register_module("down4", ResBlockDown(8 * d, 8 * d, norm));
  fc = register_module("fc", nn::Linear(8 * d * f * f, outputs));
}

std::pair<torch::Tensor, torch::Tensor> ResNetTrunkImpl::forward(const torch::Tensor& x) {
  torch::Tensor features = down4(down3(down2(down1(conv_in(x))))).flatten(1);
  torch::Tensor out = fc(features);
  return {tanh_ ? torch::tanh(out) : out, features};
}

}  // namespace al::models::fanogan
