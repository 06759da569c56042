#include "preprocess/OctEnFace.h"

#include <stdexcept>

namespace al {

Volume octEnFaceProjection(const Volume& oct, int channel) {
  if (oct.empty() || channel < 0 || channel >= oct.channels()) throw std::invalid_argument("octEnFaceProjection: empty volume");
  const auto& s = oct.size();
  Volume out(PixelType::Float32, Size3{s.x, s.z, 1});
  out.setSpacing({oct.spacing()[0], oct.spacing()[2], 1.0});
  out.metadata() = oct.metadata();
  float* dst = out.data<float>();
  visitVoxels(oct, [&](const auto* p, std::int64_t) {
    for (std::int64_t z = 0; z < s.z; ++z) {
      for (std::int64_t x = 0; x < s.x; ++x) {
        double sum = 0;
        for (std::int64_t y = 0; y < s.y; ++y) sum += static_cast<double>(p[oct.linearIndex(x, y, z, channel)]);
        dst[z * s.x + x] = static_cast<float>(sum / static_cast<double>(s.y));
      }
    }
  });
  return out;
}

}  // namespace al
