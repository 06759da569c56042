#include "io/PngStackWriter.h"

#include <itkImageIOBase.h>
#include <itkImageIOFactory.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "errors/Error.h"
#include "io/AtomicFile.h"
#include "io/ItkFactories.h"

namespace al {

std::vector<std::string> writePngStack(const Volume& volume, const std::string& folder, int channel,
                                       const std::string& prefix) {
  if (volume.empty() || channel < 0 || channel >= volume.channels()) throw FileError(folder, "nothing to write");
  registerItkImageIOFactories();
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec) throw FileError(folder, "cannot create the folder: " + ec.message());
  const auto& s = volume.size();
  const auto range = volume.valueRange(channel);
  const bool raw = volume.pixelType() == PixelType::UInt8;
  const double scale = range.max > range.min ? 255.0 / (range.max - range.min) : 0.0;
  std::vector<unsigned char> slice(static_cast<std::size_t>(s.x * s.y));
  std::vector<std::string> files;
  const int digits = std::max(3, static_cast<int>(std::to_string(s.z - 1).size()));
  for (std::int64_t z = 0; z < s.z; ++z) {
    for (std::int64_t y = 0; y < s.y; ++y)
      for (std::int64_t x = 0; x < s.x; ++x) {
        const double v = volume.value(x, y, z, channel);
        slice[static_cast<std::size_t>(y * s.x + x)] =
            raw ? static_cast<unsigned char>(v)
                : static_cast<unsigned char>(std::lround(std::clamp((v - range.min) * scale, 0.0, 255.0)));
      }
    std::string number = std::to_string(z);
    number.insert(0, static_cast<std::size_t>(std::max(0, digits - static_cast<int>(number.size()))), '0');
    const std::string name = prefix + number + ".png";
    const std::string path = (std::filesystem::path(folder) / name).string();
    writeAtomically(path, [&](const std::string& tmp) {
      itk::ImageIOBase::Pointer io =
          itk::ImageIOFactory::CreateImageIO(tmp.c_str(), itk::ImageIOFactory::IOFileModeEnum::WriteMode);
      if (!io) throw FileError(path, "no PNG writer available");
      io->SetNumberOfDimensions(2);
      io->SetDimensions(0, static_cast<itk::SizeValueType>(s.x));
      io->SetDimensions(1, static_cast<itk::SizeValueType>(s.y));
      io->SetSpacing(0, volume.spacing()[0]);
      io->SetSpacing(1, volume.spacing()[1]);
      io->SetPixelType(itk::IOPixelEnum::SCALAR);
      io->SetComponentType(itk::IOComponentEnum::UCHAR);
      io->SetNumberOfComponents(1);
      io->SetFileName(tmp);
      itk::ImageIORegion region(2);
      region.SetSize(0, static_cast<itk::SizeValueType>(s.x));
      region.SetSize(1, static_cast<itk::SizeValueType>(s.y));
      io->SetIORegion(region);
      try {
        io->WriteImageInformation();
        io->Write(slice.data());
      } catch (const itk::ExceptionObject& e) {
        throw FileError(path, std::string("cannot write: ") + e.GetDescription());
      }
    });
    files.push_back(path);
  }
  return files;
}

void writeRgbPng(const std::string& path, int width, int height, const std::vector<unsigned char>& rgb) {
  if (width <= 0 || height <= 0 || rgb.size() != static_cast<std::size_t>(width) * height * 3)
    throw FileError(path, "RGB image of the wrong size");
  registerItkImageIOFactories();  // a run that read only DICOM (DCMTK) has not registered them
  writeAtomically(path, [&](const std::string& tmp) {
    itk::ImageIOBase::Pointer io =
        itk::ImageIOFactory::CreateImageIO(tmp.c_str(), itk::ImageIOFactory::IOFileModeEnum::WriteMode);
    if (!io) throw FileError(path, "no PNG writer available");
    io->SetNumberOfDimensions(2);
    io->SetDimensions(0, static_cast<itk::SizeValueType>(width));
    io->SetDimensions(1, static_cast<itk::SizeValueType>(height));
    io->SetPixelType(itk::IOPixelEnum::RGB);
    io->SetComponentType(itk::IOComponentEnum::UCHAR);
    io->SetNumberOfComponents(3);
    io->SetFileName(tmp);
    itk::ImageIORegion region(2);
    region.SetSize(0, static_cast<itk::SizeValueType>(width));
    region.SetSize(1, static_cast<itk::SizeValueType>(height));
    io->SetIORegion(region);
    try {
      io->WriteImageInformation();
      io->Write(rgb.data());
    } catch (const itk::ExceptionObject& e) {
      throw FileError(path, std::string("cannot write: ") + e.GetDescription());
    }
  });
}

}  // namespace al
