#pragma once
// A2B-GAN's networks, after the authors' released code (HealthyGAN, StarGAN-style): a generator
// with a 7x7 stem, two stride-2 downsamplings, residual blocks, two upsamplings and a 7x7 head
// giving one image channel per input channel plus one mask channel; a PatchGAN critic of
// stride-2 4x4 convolutions with LeakyReLU 0.01. Instance norm is affine and uses each image's
// own statistics in training and inference alike (StarGAN tracks running statistics, which
// makes a single image's result depend on the batches seen: a documented deviation).
// Tensor names match tests/reference/anomalylens_reference.py.

#include <torch/torch.h>

namespace al::models::a2bgan {

struct Shape {
  int imageSize = 256;
  int channels = 1;
  int base = 64;
  int resBlocks = 6;
  int criticLayers = 6;  // stride-2 convolutions of the critic
};

class ResidualBlockImpl : public torch::nn::Module {
 public:
  explicit ResidualBlockImpl(int channels);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::InstanceNorm2d in1{nullptr}, in2{nullptr};
};
TORCH_MODULE(ResidualBlock);

class GeneratorImpl : public torch::nn::Module {
 public:
  explicit GeneratorImpl(const Shape& s);
  // The raw head output [N, C + 1, H, W]; split by the model into B_int (tanh) and M.
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d stem{nullptr}, down1{nullptr}, down2{nullptr}, head{nullptr};
  torch::nn::InstanceNorm2d in0{nullptr}, in1{nullptr}, in2{nullptr}, in3{nullptr}, in4{nullptr};
  torch::nn::ConvTranspose2d up1{nullptr}, up2{nullptr};
  torch::nn::Sequential blocks{nullptr};
};
TORCH_MODULE(Generator);

class CriticImpl : public torch::nn::Module {
 public:
  explicit CriticImpl(const Shape& s);
  torch::Tensor forward(const torch::Tensor& x);  // [N, 1, h, w] patch scores

 private:
  torch::nn::Sequential main{nullptr};
  torch::nn::Conv2d out{nullptr};
};
TORCH_MODULE(Critic);

}  // namespace al::models::a2bgan
