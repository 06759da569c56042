#pragma once
// ADM's networks (Kim et al., multi-contrast MRI): the contrast-to-contrast (CtoC) translation
// net, the dimension-reduction pair G_dr / F_dr, the density-estimation net G_de, and the GMM
// numerics (batch parameters, the eigenvalue lower bound, energy through log-sum-exp).
// Tensor names match tests/reference/anomalylens_reference.py.

#include <torch/torch.h>

namespace al::models::adm {

struct Shape {
  int contrasts = 4;
  int imageSize = 128;
  int base = 64;       // 64 -> 128 -> 256: the residual blocks run at 256 channels (Supplement I.A)
  int resBlocks = 4;
  int components = 6;  // K
  int deHidden = 8;
  double dropout = 0.5;
  int features() const { return contrasts + 3; }
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

// Input: the contrasts with the target's channel replaced by its median m (the channel's place
// tells the net which contrast to synthesise); m is also concatenated, as a constant map, to
// the last convolution's input ("an intensity bias", Fig. 3). Output: the target contrast.
class CtoCImpl : public torch::nn::Module {
 public:
  explicit CtoCImpl(const Shape& s);
  torch::Tensor forward(const torch::Tensor& input, const torch::Tensor& medianMap);

 private:
  torch::nn::Conv2d conv_in{nullptr}, down1{nullptr}, down2{nullptr}, conv_out{nullptr};
  torch::nn::InstanceNorm2d in0{nullptr}, in1{nullptr}, in2{nullptr}, in3{nullptr}, in4{nullptr};
  torch::nn::ConvTranspose2d up1{nullptr}, up2{nullptr};
  torch::nn::Sequential blocks{nullptr};
};
TORCH_MODULE(CtoC);

// G_dr: Conv3x3(C,16)-tanh-Conv3x3(16,8)-tanh-Conv3x3(8,3); F_dr: 1x1 convs 3-8-16-C with tanh.
class DimensionReductionImpl : public torch::nn::Module {
 public:
  explicit DimensionReductionImpl(const Shape& s);
  torch::Tensor reduce(const torch::Tensor& x);
  torch::Tensor reconstruct(const torch::Tensor& zdr);

 private:
  torch::nn::Conv2d g1{nullptr}, g2{nullptr}, g3{nullptr}, f1{nullptr}, f2{nullptr}, f3{nullptr};
};
TORCH_MODULE(DimensionReduction);

// G_de: the per-pixel MLP FC(C+3, 8)-tanh-Dropout(0.5)-FC(8, K)-softmax as 1x1 convolutions.
class DensityEstimationImpl : public torch::nn::Module {
 public:
  explicit DensityEstimationImpl(const Shape& s);
  torch::Tensor forward(const torch::Tensor& z);  // memberships [N, K, H, W]

 private:
  torch::nn::Conv2d fc1{nullptr}, fc2{nullptr};
  torch::nn::Dropout drop{nullptr};
};
TORCH_MODULE(DensityEstimation);

// ---- GMM numerics (float64) -----------------------------------------------------------------
struct GmmParameters {
  torch::Tensor phi;  // [K]
  torch::Tensor mu;   // [K, d]
  torch::Tensor cov;  // [K, d, d]
};

// Membership-weighted parameters of points z [P, d] with memberships gamma [P, K] and pixel
// weights w [P] (1 inside the mask).
GmmParameters gmmParameters(const torch::Tensor& z, const torch::Tensor& gamma, const torch::Tensor& w);

// The singularity guard: Σ = QΛQᵀ -> Q(ReLU(Λ - ε) + ε)Qᵀ. Computed as Σ - PΣP + εP with P
// the constant projector onto the eigenvectors whose eigenvalues are clipped: the same value,
// and the gradient the paper's ReLU gives, zero along clipped directions and the identity along
// the others, without the eigendecomposition's backward (it divides by eigenvalue gaps, which
// vanish exactly when the guard is needed).
torch::Tensor guardCovariance(const torch::Tensor& cov, double eps);

// E = -log Σ_k φ_k N(z | μ_k, Σ_k) per point, by log-sum-exp, log-determinants and Mahalanobis
// distances from the Cholesky factors of the (guarded) covariances.
torch::Tensor gmmEnergy(const torch::Tensor& z, const GmmParameters& params);

}  // namespace al::models::adm
