#include "models/sparsegan/SparseGanNetworks.h"

namespace al::models::sparsegan {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

namespace {
nn::Conv2d down(int in, int out, bool bias) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, 4).stride(2).padding(1).bias(bias));
}
nn::ConvTranspose2d up(int in, int out, bool bias) {
  return nn::ConvTranspose2d(nn::ConvTranspose2dOptions(in, out, 4).stride(2).padding(1).bias(bias));
}
torch::Tensor lrelu(const torch::Tensor& t) {
  return F::leaky_relu(t, F::LeakyReLUFuncOptions().negative_slope(0.2));
}
}  // namespace

EncoderImpl::EncoderImpl(const Shape& s) {
  const int b = s.base;
  conv1 = register_module("conv1", down(s.channels, b, true));
  conv2 = register_module("conv2", down(b, 2 * b, false));
  bn2 = register_module("bn2", nn::BatchNorm2d(2 * b));
  conv3 = register_module("conv3", down(2 * b, 4 * b, false));
  bn3 = register_module("bn3", nn::BatchNorm2d(4 * b));
  conv4 = register_module("conv4", down(4 * b, 8 * b, false));
  bn4 = register_module("bn4", nn::BatchNorm2d(8 * b));
  conv5 = register_module("conv5", down(8 * b, 16 * b, false));
  bn5 = register_module("bn5", nn::BatchNorm2d(16 * b));
}

std::vector<torch::Tensor> EncoderImpl::latentAffine() const { return {bn5->weight, bn5->bias}; }

torch::Tensor EncoderImpl::forward(const torch::Tensor& x) {
  torch::Tensor h = lrelu(conv1(x));
  h = lrelu(bn2(conv2(h)));
  h = lrelu(bn3(conv3(h)));
  h = lrelu(bn4(conv4(h)));
  return lrelu(bn5(conv5(h)));
}

DecoderImpl::DecoderImpl(const Shape& s) {
  const int b = s.base;
  up1 = register_module("up1", up(16 * b, 8 * b, false));
  bn1 = register_module("bn1", nn::BatchNorm2d(8 * b));
  up2 = register_module("up2", up(8 * b, 4 * b, false));
  bn2 = register_module("bn2", nn::BatchNorm2d(4 * b));
  up3 = register_module("up3", up(4 * b, 2 * b, false));
  bn3 = register_module("bn3", nn::BatchNorm2d(2 * b));
  up4 = register_module("up4", up(2 * b, b, false));
  bn4 = register_module("bn4", nn::BatchNorm2d(b));
  up5 = register_module("up5", up(b, s.channels, true));
}

torch::Tensor DecoderImpl::forward(const torch::Tensor& h) {
  torch::Tensor y = torch::relu(bn1(up1(h)));
  y = torch::relu(bn2(up2(y)));
  y = torch::relu(bn3(up3(y)));
  y = torch::relu(bn4(up4(y)));
  return torch::tanh(up5(y));
}

DiscriminatorImpl::DiscriminatorImpl(const Shape& s) : EncoderImpl(s) {
  const int b = s.base;
  joint = register_module("joint", nn::Conv2d(nn::Conv2dOptions(32 * b, 8 * b, 1)));
  out = register_module("out", nn::Conv2d(nn::Conv2dOptions(8 * b, 1, 3).padding(1)));
}

torch::Tensor DiscriminatorImpl::forward(const torch::Tensor& x, const torch::Tensor& h) {
  torch::Tensor y = EncoderImpl::forward(x);
  y = lrelu(joint(torch::cat({y, h}, 1)));
  return out(y).flatten(1);  // [N, cells]
}

SparsityNetImpl::SparsityNetImpl(const Shape& s) : steps_(s.lstmSteps) {
  const int c = s.latentChannels(), k = s.sparseKernel;
  auto conv = [&](bool bias) { return nn::Conv2d(nn::Conv2dOptions(c, c, k).padding(k / 2).bias(bias)); };
  w_i = register_module("w_i", conv(true));
  w_f = register_module("w_f", conv(true));
  w_c = register_module("w_c", conv(true));
  u_i = register_module("u_i", conv(false));
  u_f = register_module("u_f", conv(false));
  u_c = register_module("u_c", conv(false));
  theta = register_parameter("theta", torch::full({c}, 0.1));
  dictionary = register_module("dictionary", nn::Conv2d(nn::Conv2dOptions(c, c, 1).bias(false)));
  normaliseAtoms();
}

torch::Tensor SparsityNetImpl::code(const torch::Tensor& h) {
  const torch::Tensor xi = w_i(h), xf = w_f(h), xc = w_c(h);
  const torch::Tensor th = theta.abs().view({1, -1, 1, 1});
  torch::Tensor c = torch::zeros_like(xc), s = torch::zeros_like(xc);
  for (int t = 0; t < steps_; ++t) {
    const torch::Tensor i = torch::sigmoid(xi + u_i(s));
    const torch::Tensor f = torch::sigmoid(xf + u_f(s));
    c = f * c + i * (xc + u_c(s));
    s = torch::sign(c) * torch::relu(c.abs() - th);
  }
  return s;
}

torch::Tensor SparsityNetImpl::loss(const torch::Tensor& h, const torch::Tensor& s) {
  return (h - dictionary(s)).pow(2).flatten(1).mean(1) + s.abs().flatten(1).mean(1);
}

void SparsityNetImpl::normaliseAtoms() {
  torch::NoGradGuard ng;
  // weight [out = H's channels, in = code channels, 1, 1]: atom j is column j.
  torch::Tensor& w = dictionary->weight;
  w.div_(w.norm(2, {0, 2, 3}, true).clamp_min(1e-8));
}

}  // namespace al::models::sparsegan
