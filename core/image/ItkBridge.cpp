#include "image/ItkBridge.h"

#include <stdexcept>

namespace al {

template <typename TPixel>
typename ItkImage3<TPixel>::Pointer toItk(const Volume& volume, int channel) {
  if (volume.empty() || channel < 0 || channel >= volume.channels()) {
    throw std::invalid_argument("toItk: empty volume or channel out of range");
  }
  using Image = ItkImage3<TPixel>;
  auto image = Image::New();
  typename Image::SizeType size;
  size[0] = static_cast<itk::SizeValueType>(volume.size().x);
  size[1] = static_cast<itk::SizeValueType>(volume.size().y);
  size[2] = static_cast<itk::SizeValueType>(volume.size().z);
  image->SetRegions(typename Image::RegionType(size));
  typename Image::SpacingType spacing;
  typename Image::PointType origin;
  typename Image::DirectionType direction;
  for (unsigned r = 0; r < 3; ++r) {
    spacing[r] = volume.spacing()[r];
    origin[r] = volume.origin()[r];
    for (unsigned c = 0; c < 3; ++c) direction[r][c] = volume.direction()[r * 3 + c];
  }
  image->SetSpacing(spacing);
  image->SetOrigin(origin);
  image->SetDirection(direction);
  image->Allocate();
  TPixel* out = image->GetBufferPointer();
  const std::int64_t n = volume.voxelsPerChannel();
  const std::int64_t first = n * channel;
  visitVoxels(volume, [&](const auto* p, std::int64_t) {
    for (std::int64_t i = 0; i < n; ++i) out[i] = static_cast<TPixel>(p[first + i]);
  });
  return image;
}

template <typename TPixel>
Volume fromItk(const ItkImage3<TPixel>* image) {
  const auto region = image->GetLargestPossibleRegion();
  const auto size = region.GetSize();
  Volume v(PixelTypeOf<TPixel>::value,
           Size3{static_cast<std::int64_t>(size[0]), static_cast<std::int64_t>(size[1]),
                 static_cast<std::int64_t>(size[2])},
           1);
  std::copy(image->GetBufferPointer(), image->GetBufferPointer() + v.voxelsPerChannel(), v.data<TPixel>());
  Vec3 spacing, origin;
  Mat3 direction;
  for (unsigned r = 0; r < 3; ++r) {
    spacing[r] = image->GetSpacing()[r];
    origin[r] = image->GetOrigin()[r];
    for (unsigned c = 0; c < 3; ++c) direction[r * 3 + c] = image->GetDirection()[r][c];
  }
  v.setSpacing(spacing);
  v.setOrigin(origin);
  v.setDirection(direction);
  return v;
}

template ItkImage3<std::uint8_t>::Pointer toItk<std::uint8_t>(const Volume&, int);
template ItkImage3<std::int16_t>::Pointer toItk<std::int16_t>(const Volume&, int);
template ItkImage3<float>::Pointer toItk<float>(const Volume&, int);
template Volume fromItk<std::uint8_t>(const ItkImage3<std::uint8_t>*);
template Volume fromItk<std::int16_t>(const ItkImage3<std::int16_t>*);
template Volume fromItk<float>(const ItkImage3<float>*);

}  // namespace al
