#pragma once
// The one conversion between Volume and itk::Image. Includes ITK templates: only the
// translation units that run ITK filters or writers include this header.

#include <itkImage.h>

#include "image/Volume.h"

namespace al {

template <typename TPixel>
using ItkImage3 = itk::Image<TPixel, 3>;

// One channel of the volume as an ITK image of pixel type TPixel (values cast), with the
// volume's spacing, origin and direction.
template <typename TPixel>
typename ItkImage3<TPixel>::Pointer toItk(const Volume& volume, int channel = 0);

// A single-channel Volume with the image's geometry; TPixel must be uint8_t, int16_t or float.
template <typename TPixel>
Volume fromItk(const ItkImage3<TPixel>* image);

extern template ItkImage3<std::uint8_t>::Pointer toItk<std::uint8_t>(const Volume&, int);
extern template ItkImage3<std::int16_t>::Pointer toItk<std::int16_t>(const Volume&, int);
extern template ItkImage3<float>::Pointer toItk<float>(const Volume&, int);
extern template Volume fromItk<std::uint8_t>(const ItkImage3<std::uint8_t>*);
extern template Volume fromItk<std::int16_t>(const ItkImage3<std::int16_t>*);
extern template Volume fromItk<float>(const ItkImage3<float>*);

}  // namespace al
