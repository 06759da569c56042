#include "models/a2bgan/A2BGanNetworks.h"

namespace al::models::a2bgan {

namespace nn = torch::nn;

namespace {
nn::InstanceNorm2d inorm(int c) { return nn::InstanceNorm2d(nn::InstanceNorm2dOptions(c).affine(true)); }
nn::Conv2d conv(int in, int out, int k, int stride, int pad, bool bias) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, k).stride(stride).padding(pad).bias(bias));
}
}  // namespace

ResidualBlockImpl::ResidualBlockImpl(int c) {
  conv1 = register_module("conv1", conv(c, c, 3, 1, 1, false));
  in1 = register_module("in1", inorm(c));
  conv2 = register_module("conv2", conv(c, c, 3, 1, 1, false));
  in2 = register_module("in2", inorm(c));
}

torch::Tensor ResidualBlockImpl::forward(const torch::Tensor& x) {
  return x + in2(conv2(torch::relu(in1(conv1(x)))));
}

GeneratorImpl::GeneratorImpl(const Shape& s) {
  const int b = s.base;
  stem = register_module("stem", conv(s.channels, b, 7, 1, 3, false));
  in0 = register_module("in0", inorm(b));
  down1 = register_module("down1", conv(b, 2 * b, 4, 2, 1, false));
  in1 = register_module("in1", inorm(2 * b));
  down2 = register_module("down2", conv(2 * b, 4 * b, 4, 2, 1, false));
  in2 = register_module("in2", inorm(4 * b));
  blocks = nn::Sequential();
  for (int i = 0; i < s.resBlocks; ++i) blocks->push_back(ResidualBlock(4 * b));
  register_module("blocks", blocks);
  up1 = register_module("up1", nn::ConvTranspose2d(nn::ConvTranspose2dOptions(4 * b, 2 * b, 4).stride(2).padding(1).bias(false)));
  in3 = register_module("in3", inorm(2 * b));
  up2 = register_module("up2", nn::ConvTranspose2d(nn::ConvTranspose2dOptions(2 * b, b, 4).stride(2).padding(1).bias(false)));
  in4 = register_module("in4", inorm(b));
  head = register_module("head", conv(b, s.channels + 1, 7, 1, 3, false));
}

torch::Tensor GeneratorImpl::forward(const torch::Tensor& x) {
  torch::Tensor h = torch::relu(in0(stem(x)));
  h = torch::relu(in1(down1(h)));
  h = torch::relu(in2(down2(h)));
  h = blocks->forward(h);
  h = torch::relu(in3(up1(h)));
  h = torch::relu(in4(up2(h)));
  return head(h);
}

CriticImpl::CriticImpl(const Shape& s) {
  main = nn::Sequential();
  int c = s.channels, next = s.base;
  for (int i = 0; i < s.criticLayers; ++i) {
    main->push_back(conv(c, next, 4, 2, 1, true));
    main->push_back(nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.01)));
    c = next;
    next *= 2;
  }
  register_module("main", main);
  out = register_module("out", conv(c, 1, 3, 1, 1, false));
}

torch::Tensor CriticImpl::forward(const torch::Tensor& x) { return out(main->forward(x)); }

}  // namespace al::models::a2bgan
