#include "io/VolumeWriter.h"

#include <itkImageIOBase.h>
#include <itkImageIOFactory.h>

#include "errors/Error.h"
#include "io/AtomicFile.h"
#include "io/ItkFactories.h"

namespace al {

namespace {
bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

void writeVolume(const Volume& volume, const std::string& path) {
  if (volume.empty()) throw FileError(path, "nothing to write: the volume is empty");
  // Single-file formats only: a header/data pair could not be renamed into place atomically.
  bool known = false;
  for (const char* ext : {".nii", ".nii.gz", ".mha", ".nrrd"}) known = known || endsWith(path, ext);
  if (!known) throw FileError(path, "unknown extension; use .nii, .nii.gz, .mha or .nrrd");
  registerItkImageIOFactories();
  writeAtomically(path, [&](const std::string& tmp) {
    itk::ImageIOBase::Pointer io =
        itk::ImageIOFactory::CreateImageIO(tmp.c_str(), itk::ImageIOFactory::IOFileModeEnum::WriteMode);
    if (!io) throw FileError(path, "ITK has no writer for this extension");
    const unsigned dims = volume.channels() > 1 ? 4 : 3;
    io->SetNumberOfDimensions(dims);
    const auto& s = volume.size();
    const std::int64_t extent[4] = {s.x, s.y, s.z, volume.channels()};
    for (unsigned d = 0; d < dims; ++d) {
      io->SetDimensions(d, static_cast<itk::SizeValueType>(extent[d]));
      io->SetSpacing(d, d < 3 ? volume.spacing()[d] : 1.0);
      io->SetOrigin(d, d < 3 ? volume.origin()[d] : 0.0);
      std::vector<double> axis(dims, 0.0);
      if (d < 3) {
        for (unsigned r = 0; r < 3; ++r) axis[r] = volume.direction()[r * 3 + d];
      } else {
        axis[3] = 1.0;
      }
      io->SetDirection(d, axis);
    }
    io->SetPixelType(itk::IOPixelEnum::SCALAR);
    io->SetNumberOfComponents(1);
    switch (volume.pixelType()) {
      case PixelType::UInt8: io->SetComponentType(itk::IOComponentEnum::UCHAR); break;
      case PixelType::Int16: io->SetComponentType(itk::IOComponentEnum::SHORT); break;
      case PixelType::Float32: io->SetComponentType(itk::IOComponentEnum::FLOAT); break;
    }
    io->SetUseCompression(true);
    io->SetFileName(tmp);
    itk::ImageIORegion region(dims);
    for (unsigned d = 0; d < dims; ++d) {
      region.SetIndex(d, 0);
      region.SetSize(d, static_cast<itk::SizeValueType>(extent[d]));
    }
    io->SetIORegion(region);
    try {
      io->WriteImageInformation();
      io->Write(volume.bytes());
    } catch (const itk::ExceptionObject& e) {
      throw FileError(path, std::string("cannot write: ") + e.GetDescription());
    }
  });
}

}  // namespace al
