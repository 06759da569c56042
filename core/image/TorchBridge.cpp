#include "image/TorchBridge.h"

#include <cstring>
#include <stdexcept>

namespace al {

torch::Tensor toTensor(const Volume& volume) {
  if (volume.empty()) throw std::invalid_argument("toTensor: empty volume");
  const auto& s = volume.size();
  const std::vector<std::int64_t> shape{volume.channels(), s.z, s.y, s.x};
  // from_blob only views the buffer; to(kFloat)/clone() make the tensor own its data.
  auto* data = const_cast<std::byte*>(volume.bytes());
  switch (volume.pixelType()) {
    case PixelType::UInt8: return torch::from_blob(data, shape, torch::kUInt8).to(torch::kFloat);
    case PixelType::Int16: return torch::from_blob(data, shape, torch::kInt16).to(torch::kFloat);
    case PixelType::Float32: break;
  }
  return torch::from_blob(data, shape, torch::kFloat).clone();
}

Volume fromTensor(const torch::Tensor& tensor, const Volume* like) {
  torch::Tensor t = tensor.detach();
  if (t.dim() == 3) t = t.unsqueeze(0);
  if (t.dim() != 4) throw std::invalid_argument("fromTensor: expected a [C, Z, Y, X] tensor");
  t = t.to(torch::kCPU, torch::kFloat).contiguous();
  const Size3 size{t.size(3), t.size(2), t.size(1)};
  Volume v(PixelType::Float32, size, static_cast<int>(t.size(0)));
  std::memcpy(v.bytes(), t.data_ptr<float>(), v.byteSize());
  if (like && like->size() == size) {
    v.setSpacing(like->spacing());
    v.setOrigin(like->origin());
    v.setDirection(like->direction());
    v.metadata() = like->metadata();
    if (like->channels() == v.channels()) v.setChannelNames(like->channelNames());
  }
  return v;
}

}  // namespace al
