#pragma once
// Sparse-GAN's networks (Zhou et al., ISBI 2020): an image-to-image generator (pix2pix's
// encoder/decoder, without skip connections so that nothing bypasses the latent H, 1024x7x7 in
// the paper), a discriminator conditioned on H as Eq. 2 writes it, and the Sparsity
// Regularisation Net: SC2Net's sparse LSTM with convolutions for the products, unrolled over a
// few steps, whose output is the sparse code s of H under a learned dictionary W_d.
// Tensor names match tests/reference/anomalylens_reference.py.

#include <torch/torch.h>

namespace al::models::sparsegan {

struct Shape {
  int imageSize = 224;   // five stride-2 layers: the latent is imageSize / 32 square
  int channels = 1;
  int base = 64;         // 64 -> 128 -> 256 -> 512 -> 1024 (the latent's channels)
  int lstmSteps = 3;
  int sparseKernel = 3;  // kernel of the LSTM's convolutions
  int latentChannels() const { return 16 * base; }
};

class EncoderImpl : public torch::nn::Module {
 public:
  explicit EncoderImpl(const Shape& s);
  torch::Tensor forward(const torch::Tensor& x);
  // The last batch norm's scale and shift. The generator's optimiser leaves them out (at 1 and
  // 0): the decoder's batch norm would undo any scale of H, so a trained scale would let the
  // sparsity loss fall by shrinking H towards zero.
  std::vector<torch::Tensor> latentAffine() const;

 private:
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr}, conv4{nullptr}, conv5{nullptr};
  torch::nn::BatchNorm2d bn2{nullptr}, bn3{nullptr}, bn4{nullptr}, bn5{nullptr};
};
TORCH_MODULE(Encoder);

class DecoderImpl : public torch::nn::Module {
 public:
  explicit DecoderImpl(const Shape& s);
  torch::Tensor forward(const torch::Tensor& h);

 private:
  torch::nn::ConvTranspose2d up1{nullptr}, up2{nullptr}, up3{nullptr}, up4{nullptr}, up5{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr}, bn4{nullptr};
};
TORCH_MODULE(Decoder);

// D(image, H): the image's convolutional features at the latent's resolution (the encoder's
// layout, its own weights), concatenated with H, give a logit per latent cell (PatchGAN-style).
class DiscriminatorImpl : public EncoderImpl {
 public:
  explicit DiscriminatorImpl(const Shape& s);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& h);

 private:
  torch::nn::Conv2d joint{nullptr}, out{nullptr};
};
TORCH_MODULE(Discriminator);

// s_{t+1} = shrink(c_{t+1}, θ) with c_{t+1} = f ⊙ c_t + i ⊙ (W_c·H + U_c·s_t), i and f sigmoid
// gates of W·H + U·s_t; shrink(c, θ) = sign(c)·max(|c| - θ, 0) with a learned θ per channel.
class SparsityNetImpl : public torch::nn::Module {
 public:
  explicit SparsityNetImpl(const Shape& s);
  torch::Tensor code(const torch::Tensor& h);
  // Eq. 6 per sample, as per-element means: mean (H - W_dᵀ s)² + mean |s|. Means rather than the
  // paper's sums so that λ_re = 20, λ_adv = 1 and λ_sp = 50 weigh terms of comparable size.
  torch::Tensor loss(const torch::Tensor& h, const torch::Tensor& s);
  // Every atom (column of W_d) to unit L2 norm, after each optimiser step: otherwise ||s||_1
  // falls by growing W_d and shrinking s, and the sparsity term says nothing about H.
  void normaliseAtoms();

 private:
  int steps_;
  torch::nn::Conv2d w_i{nullptr}, w_f{nullptr}, w_c{nullptr}, u_i{nullptr}, u_f{nullptr}, u_c{nullptr};
  torch::Tensor theta;
  torch::nn::Conv2d dictionary{nullptr};
};
TORCH_MODULE(SparsityNet);

}  // namespace al::models::sparsegan
