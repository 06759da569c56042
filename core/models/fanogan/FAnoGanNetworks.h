#pragma once
// f-AnoGAN's networks (Schlegl et al., MedIA 2019), after the authors' TensorFlow code, which
// follows Gulrajani et al.'s 64x64 ResNet WGAN-GP: a generator of up-sampling residual blocks, a
// critic of down-sampling residual blocks with layer norm (GroupNorm with one group), and the
// izi_f encoder: the critic's trunk with batch norm, a linear layer to z and tanh.
// Tensor names match tests/reference/anomalylens_reference.py.

#include <torch/torch.h>

namespace al::models::fanogan {

struct ResShape {
  int imageSize = 64;  // four resampling blocks: 4x4 at the bottom for 64
  int channels = 1;
  int zDim = 128;
  int dim = 64;        // DIM of the paper's code: 64 -> 128 -> 256 -> 512
};

enum class Norm { Batch, Layer };

// Nearest-neighbour upsampling, then 3x3 convolutions; a 1x1 convolution on the shortcut.
class ResBlockUpImpl : public torch::nn::Module {
 public:
  ResBlockUpImpl(int in, int out);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, shortcut{nullptr};
};
TORCH_MODULE(ResBlockUp);

// 3x3 convolutions then 2x2 mean pooling; a 1x1 convolution and mean pooling on the shortcut.
class ResBlockDownImpl : public torch::nn::Module {
 public:
  ResBlockDownImpl(int in, int out, Norm norm);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::AnyModule norm1, norm2;
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, shortcut{nullptr};
};
TORCH_MODULE(ResBlockDown);

class GeneratorImpl : public torch::nn::Module {
 public:
  explicit GeneratorImpl(const ResShape& s);
  torch::Tensor forward(const torch::Tensor& z);

 private:
  ResShape s_;
  torch::nn::Linear fc{nullptr};
  ResBlockUp up1{nullptr}, up2{nullptr}, up3{nullptr}, up4{nullptr};
  torch::nn::BatchNorm2d bn_out{nullptr};
  torch::nn::Conv2d conv_out{nullptr};
};
TORCH_MODULE(Generator);

// The critic (Norm::Layer, output 1) and the encoder (Norm::Batch, output zDim through tanh)
// share this trunk.
class ResNetTrunkImpl : public torch::nn::Module {
 public:
  ResNetTrunkImpl(const ResShape& s, Norm norm, int outputs, bool tanhOutput);
  // Output [N, outputs] and the flattened features before the linear layer.
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& x);

 private:
  bool tanh_;
  torch::nn::Conv2d conv_in{nullptr};
  ResBlockDown down1{nullptr}, down2{nullptr}, down3{nullptr}, down4{nullptr};
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(ResNetTrunk);

}  // namespace al::models::fanogan
