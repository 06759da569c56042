#include "io/GdcmDecoder.h"

#include <gdcmTrace.h>
#include <itkGDCMImageIO.h>

#include <cmath>
#include <vector>

#include "errors/Error.h"

namespace al {

bool isJpeg2000TransferSyntax(const std::string& uid) {
  // 1.2.840.10008.1.2.4.90/91 (JPEG 2000), .92/.93 (multi-component), .201-.203 (HTJ2K).
  for (const char* j2k : {"1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.92",
                          "1.2.840.10008.1.2.4.93", "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202",
                          "1.2.840.10008.1.2.4.203"}) {
    if (uid == j2k) return true;
  }
  return false;
}

namespace {

template <typename T>
void copyInto(const std::vector<char>& buffer, Volume& out, int components) {
  const auto* src = reinterpret_cast<const T*>(buffer.data());
  const std::int64_t voxels = out.voxelsPerChannel();
  for (int c = 0; c < out.channels(); ++c)
    for (std::int64_t i = 0; i < voxels; ++i) {
      const double v = static_cast<double>(src[i * components + c]);
      switch (out.pixelType()) {
        case PixelType::UInt8: out.data<std::uint8_t>()[c * voxels + i] = static_cast<std::uint8_t>(std::lround(v)); break;
        case PixelType::Int16: out.data<std::int16_t>()[c * voxels + i] = static_cast<std::int16_t>(std::lround(v)); break;
        case PixelType::Float32: out.data<float>()[c * voxels + i] = static_cast<float>(v); break;
      }
    }
}

}  // namespace

void decodeWithGdcm(const std::string& path, const DicomPixelLayout& layout, Volume& out) {
  if (layout.monochrome1) throw FileError(path, "JPEG 2000 with MONOCHROME1 is not supported");
  // GDCM prints its own warnings to the console; our error names the file and the reason.
  gdcm::Trace::SetWarning(false);
  gdcm::Trace::SetError(false);
  auto io = itk::GDCMImageIO::New();
  io->SetFileName(path);
  try {
    io->ReadImageInformation();
  } catch (const itk::ExceptionObject& e) {
    throw FileError(path, std::string("GDCM cannot read the header: ") + e.GetDescription());
  }
  const unsigned dims = io->GetNumberOfDimensions();
  const std::int64_t w = static_cast<std::int64_t>(io->GetDimensions(0)), h = dims > 1 ? static_cast<std::int64_t>(io->GetDimensions(1)) : 1;
  const std::int64_t frames = dims > 2 ? static_cast<std::int64_t>(io->GetDimensions(2)) : 1;
  const int components = static_cast<int>(io->GetNumberOfComponents());
  if (w != out.size().x || h != out.size().y || frames != out.size().z || components != out.channels()) {
    throw FileError(path, "GDCM sees another image size than the header describes");
  }
  std::vector<char> buffer(io->GetImageSizeInBytes());
  try {
    io->Read(buffer.data());  // GDCM applies Rescale Slope/Intercept: these are real-world values
  } catch (const itk::ExceptionObject& e) {
    throw FileError(path, std::string("cannot decode the JPEG 2000 pixel data: ") + e.GetDescription());
  }
  using IOC = itk::IOComponentEnum;
  switch (io->GetComponentType()) {
    case IOC::UCHAR: copyInto<unsigned char>(buffer, out, components); break;
    case IOC::CHAR: copyInto<signed char>(buffer, out, components); break;
    case IOC::USHORT: copyInto<unsigned short>(buffer, out, components); break;
    case IOC::SHORT: copyInto<short>(buffer, out, components); break;
    case IOC::UINT: copyInto<unsigned int>(buffer, out, components); break;
    case IOC::INT: copyInto<int>(buffer, out, components); break;
    case IOC::FLOAT: copyInto<float>(buffer, out, components); break;
    case IOC::DOUBLE: copyInto<double>(buffer, out, components); break;
    default: throw FileError(path, "GDCM returned an unsupported pixel type");
  }
}

}  // namespace al
