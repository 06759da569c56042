#include "models/adm/AdmNetworks.h"

#include <cmath>

namespace al::models::adm {

namespace nn = torch::nn;

namespace {
nn::InstanceNorm2d inorm(int c) { return nn::InstanceNorm2d(nn::InstanceNorm2dOptions(c).affine(true)); }
nn::Conv2d conv(int in, int out, int k, int stride = 1) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, k).stride(stride).padding(k / 2));
}
nn::ConvTranspose2d deconv(int in, int out) {
  return nn::ConvTranspose2d(nn::ConvTranspose2dOptions(in, out, 3).stride(2).padding(1).output_padding(1));
}
}  // namespace

ResidualBlockImpl::ResidualBlockImpl(int c) {
  conv1 = register_module("conv1", conv(c, c, 3));
  in1 = register_module("in1", inorm(c));
  conv2 = register_module("conv2", conv(c, c, 3));
  in2 = register_module("in2", inorm(c));
}

torch::Tensor ResidualBlockImpl::forward(const torch::Tensor& x) {
  return x + in2(conv2(torch::relu(in1(conv1(x)))));
}

CtoCImpl::CtoCImpl(const Shape& s) {
  const int b = s.base;
  conv_in = register_module("conv_in", conv(s.contrasts, b, 3));
  in0 = register_module("in0", inorm(b));
  down1 = register_module("down1", conv(b, 2 * b, 3, 2));
  in1 = register_module("in1", inorm(2 * b));
  down2 = register_module("down2", conv(2 * b, 4 * b, 3, 2));
  in2 = register_module("in2", inorm(4 * b));
  blocks = nn::Sequential();
  for (int i = 0; i < s.resBlocks; ++i) blocks->push_back(ResidualBlock(4 * b));
  register_module("blocks", blocks);
  up1 = register_module("up1", deconv(4 * b, 2 * b));
  in3 = register_module("in3", inorm(2 * b));
  up2 = register_module("up2", deconv(2 * b, b));
  in4 = register_module("in4", inorm(b));
  conv_out = register_module("conv_out", conv(b + 1, 1, 3));
}

torch::Tensor CtoCImpl::forward(const torch::Tensor& input, const torch::Tensor& medianMap) {
  torch::Tensor h = torch::relu(in0(conv_in(input)));
  h = torch::relu(in1(down1(h)));
  h = torch::relu(in2(down2(h)));
  h = blocks->forward(h);
  h = torch::relu(in3(up1(h)));
  h = torch::relu(in4(up2(h)));
  return conv_out(torch::cat({h, medianMap}, 1));
}

DimensionReductionImpl::DimensionReductionImpl(const Shape& s) {
  g1 = register_module("g1", conv(s.contrasts, 16, 3));
  g2 = register_module("g2", conv(16, 8, 3));
  g3 = register_module("g3", conv(8, 3, 3));
  f1 = register_module("f1", conv(3, 8, 1));
  f2 = register_module("f2", conv(8, 16, 1));
  f3 = register_module("f3", conv(16, s.contrasts, 1));
}

torch::Tensor DimensionReductionImpl::reduce(const torch::Tensor& x) {
  return g3(torch::tanh(g2(torch::tanh(g1(x)))));
}

torch::Tensor DimensionReductionImpl::reconstruct(const torch::Tensor& zdr) {
  return f3(torch::tanh(f2(torch::tanh(f1(zdr)))));
}

DensityEstimationImpl::DensityEstimationImpl(const Shape& s) {
  fc1 = register_module("fc1", conv(s.features(), s.deHidden, 1));
  drop = register_module("drop", nn::Dropout(s.dropout));
  fc2 = register_module("fc2", conv(s.deHidden, s.components, 1));
}

torch::Tensor DensityEstimationImpl::forward(const torch::Tensor& z) {
  return torch::softmax(fc2(drop(torch::tanh(fc1(z)))), 1);
}

GmmParameters gmmParameters(const torch::Tensor& z, const torch::Tensor& gamma, const torch::Tensor& w) {
  const torch::Tensor zd = z.to(torch::kDouble), g = gamma.to(torch::kDouble) * w.to(torch::kDouble).unsqueeze(1);
  const torch::Tensor mass = g.sum(0);                                 // [K]
  GmmParameters p;
  p.phi = mass / mass.sum().clamp_min(1e-12);
  const torch::Tensor denom = mass.clamp_min(1e-12).unsqueeze(1);      // [K, 1]
  p.mu = g.t().mm(zd) / denom;                                         // [K, d]
  const torch::Tensor diff = zd.unsqueeze(1) - p.mu.unsqueeze(0);      // [P, K, d]
  p.cov = torch::einsum("pk,pki,pkj->kij", {g, diff, diff}) / denom.unsqueeze(2);
  return p;
}

torch::Tensor guardCovariance(const torch::Tensor& cov, double eps) {
  torch::Tensor projector;
  {
    torch::NoGradGuard ng;
    auto [values, vectors] = at::linalg_eigh(cov.detach(), "L");
    const torch::Tensor clipped = (values < eps).to(vectors.dtype());  // [K, d]
    projector = (vectors * clipped.unsqueeze(-2)).matmul(vectors.transpose(-1, -2));
  }
  torch::Tensor out = cov - projector.matmul(cov).matmul(projector) + eps * projector;
  return (out + out.transpose(-1, -2)) / 2;  // exactly symmetric for the Cholesky factorisation
}

torch::Tensor gmmEnergy(const torch::Tensor& z, const GmmParameters& params) {
  const torch::Tensor zd = z.to(torch::kDouble);
  const int64_t d = zd.size(1);
  const torch::Tensor L = at::linalg_cholesky(params.cov);                               // [K, d, d]
  const torch::Tensor eye = torch::eye(d, L.options()).expand_as(L);
  const torch::Tensor Linv = at::linalg_solve_triangular(L, eye, /*upper=*/false);        // [K, d, d]
  const torch::Tensor diff = zd.unsqueeze(1) - params.mu.unsqueeze(0);                    // [P, K, d]
  const torch::Tensor y = torch::einsum("kij,pkj->pki", {Linv, diff});
  const torch::Tensor maha = y.pow(2).sum(2);                                             // [P, K]
  const torch::Tensor logDet = 2 * torch::diagonal(L, 0, -2, -1).log().sum(1);            // [K]
  const torch::Tensor logP = params.phi.clamp_min(1e-12).log().unsqueeze(0) -
                             0.5 * (static_cast<double>(d) * std::log(2 * M_PI) + logDet.unsqueeze(0) + maha);
  return -torch::logsumexp(logP, 1);
}

}  // namespace al::models::adm
