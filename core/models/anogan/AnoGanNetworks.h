#pragma once
// AnoGAN's DCGAN (Schlegl et al. 2017, after Radford et al.): the generator and the
// discriminator whose 4th convolution gives the features f(x) of the mapping loss.
// Tensor names match tests/reference/anomalylens_reference.py.

#include <torch/torch.h>

namespace al::models::anogan {

struct DcganShape {
  int imageSize = 64;  // 4 stride-2 layers: the first feature map is imageSize / 16
  int channels = 1;
  int zDim = 100;
  int base = 64;       // 64 -> 128 -> 256 -> 512 in the paper
  int kernel = 5;      // 5 in the paper; 4 in lite (documented deviation)
};

class GeneratorImpl : public torch::nn::Module {
 public:
  explicit GeneratorImpl(const DcganShape& s);
  torch::Tensor forward(const torch::Tensor& z);

 private:
  DcganShape s_;
  torch::nn::Linear fc{nullptr};
  torch::nn::BatchNorm2d bn0{nullptr}, bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::ConvTranspose2d up1{nullptr}, up2{nullptr}, up3{nullptr}, up4{nullptr};
};
TORCH_MODULE(Generator);

class DiscriminatorImpl : public torch::nn::Module {
 public:
  explicit DiscriminatorImpl(const DcganShape& s);
  // Logits [N] and the features f(x) [N, 8*base*(size/16)^2].
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr}, conv4{nullptr};
  torch::nn::BatchNorm2d bn2{nullptr}, bn3{nullptr}, bn4{nullptr};
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(Discriminator);

// DCGAN's initialisation: convolutions N(0, 0.02), batch-norm scales N(1, 0.02), biases 0.
void dcganInit(torch::nn::Module& module);

}  // namespace al::models::anogan
