#include <gtest/gtest.h>
#include <torch/torch.h>

#include "image/TorchBridge.h"
#include "runtime/TorchRuntime.h"

using namespace al;

TEST(TorchBridge, RoundTripKeepsValuesLayoutAndGeometry) {
  Volume v(PixelType::Int16, Size3{5, 4, 3}, 2);
  for (std::int64_t i = 0; i < v.voxelsPerChannel() * 2; ++i) v.data<std::int16_t>()[i] = static_cast<std::int16_t>(i - 50);
  v.setSpacing({0.5, 0.25, 2.0});
  v.setChannelNames({"T1", "FLAIR"});
  const torch::Tensor t = toTensor(v);
  ASSERT_EQ(t.sizes(), (std::vector<std::int64_t>{2, 3, 4, 5}));
  EXPECT_EQ(t.scalar_type(), torch::kFloat);
  EXPECT_FLOAT_EQ(t[1][2][3][4].item<float>(), static_cast<float>(v.value(4, 3, 2, 1)));
  const Volume back = fromTensor(t * 2, &v);
  EXPECT_EQ(back.pixelType(), PixelType::Float32);
  EXPECT_EQ(back.spacing(), v.spacing());
  EXPECT_EQ(back.channelNames(), v.channelNames());
  EXPECT_FLOAT_EQ(static_cast<float>(back.value(4, 3, 2, 1)), 2.0f * static_cast<float>(v.value(4, 3, 2, 1)));
}

TEST(TorchBridge, TensorOwnsItsData) {
  auto v = std::make_unique<Volume>(PixelType::Float32, Size3{2, 2, 2});
  v->data<float>()[0] = 3.0f;
  const torch::Tensor t = toTensor(*v);
  v.reset();  // the tensor must not point into the freed volume
  EXPECT_FLOAT_EQ(t[0][0][0][0].item<float>(), 3.0f);
}

TEST(TorchRuntime, ReportsVersionAndCudaStatus) {
  const auto& info = torchRuntime();
  EXPECT_EQ(info.libtorchVersion.rfind(std::to_string(TORCH_VERSION_MAJOR) + ".", 0), 0u);
  EXPECT_FALSE(info.cudaStatus.empty());
  EXPECT_EQ(info.cudaAvailable, torch::cuda::is_available());
  EXPECT_GE(info.intraOpThreads, 1);
  if (!info.cudaAvailable) EXPECT_NE(info.cudaStatus.find("not usable"), std::string::npos);
  EXPECT_NE(info.summary().find(info.libtorchVersion), std::string::npos);
}

TEST(TorchRuntime, RunsAConvolutionOnTheChosenDevice) {
  const torch::Device device = torchRuntime().cudaAvailable ? torch::kCUDA : torch::kCPU;
  torch::NoGradGuard noGrad;
  auto conv = torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 4, 3).padding(1));
  conv->to(device);
  const auto x = torch::ones({2, 1, 16, 16}, device);
  const auto y = conv->forward(x);
  EXPECT_EQ(y.sizes(), (std::vector<std::int64_t>{2, 4, 16, 16}));
  EXPECT_EQ(y.device().type(), device.type());
}
