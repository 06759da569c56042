#include "io/oct/ImageStackReader.h"

#include <itkImageIOBase.h>
#include <itkImageIOFactory.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>

#include "errors/Error.h"
#include "io/ItkFactories.h"

namespace al {

bool naturalLess(const std::string& a, const std::string& b) {
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) && std::isdigit(static_cast<unsigned char>(b[j]))) {
      std::size_t ie = i, je = j;
      while (ie < a.size() && std::isdigit(static_cast<unsigned char>(a[ie]))) ++ie;
      while (je < b.size() && std::isdigit(static_cast<unsigned char>(b[je]))) ++je;
      // Compare digit runs as numbers without overflow: strip zeros, then length, then text.
      std::string na = a.substr(i, ie - i), nb = b.substr(j, je - j);
      na.erase(0, std::min(na.find_first_not_of('0'), na.size()));
      nb.erase(0, std::min(nb.find_first_not_of('0'), nb.size()));
      if (na.size() != nb.size()) return na.size() < nb.size();
      if (na != nb) return na < nb;
      i = ie;
      j = je;
    } else {
      const int ca = std::tolower(static_cast<unsigned char>(a[i])), cb = std::tolower(static_cast<unsigned char>(b[j]));
      if (ca != cb) return ca < cb;
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

bool isImageFileName(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  for (auto& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return ext == ".png" || ext == ".tif" || ext == ".tiff" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

std::vector<std::string> imageStackFiles(const std::string& folder) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    if (isImageFileName(it->path().string())) files.push_back(it->path().string());
  }
  std::sort(files.begin(), files.end(), [](const std::string& a, const std::string& b) {
    return naturalLess(std::filesystem::path(a).filename().string(), std::filesystem::path(b).filename().string());
  });
  return files;
}

namespace {

// One image's grey values, rows top to bottom.
struct Plane {
  std::int64_t w = 0, h = 0;
  bool bytes = true;  // 8-bit (else 16-bit)
  double spacingX = 0, spacingY = 0;
  std::vector<double> grey;
};

Plane readPlane(const std::string& path) {
  registerItkImageIOFactories();
  itk::ImageIOBase::Pointer io = itk::ImageIOFactory::CreateImageIO(path.c_str(), itk::ImageIOFactory::IOFileModeEnum::ReadMode);
  if (!io) throw FileError(path, "not a readable image");
  try {
    io->SetFileName(path);
    io->ReadImageInformation();
  } catch (const itk::ExceptionObject& e) {
    throw FileError(path, std::string("unreadable image: ") + e.GetDescription());
  }
  if (io->GetNumberOfDimensions() < 2 || (io->GetNumberOfDimensions() > 2 && io->GetDimensions(2) > 1)) {
    throw FileError(path, "is not a 2D image");
  }
  Plane p;
  p.w = static_cast<std::int64_t>(io->GetDimensions(0));
  p.h = static_cast<std::int64_t>(io->GetDimensions(1));
  const int components = static_cast<int>(io->GetNumberOfComponents());
  p.bytes = io->GetComponentType() == itk::IOComponentEnum::UCHAR;
  if (!p.bytes && io->GetComponentType() != itk::IOComponentEnum::USHORT) throw FileError(path, "only 8- and 16-bit images are supported");
  if (p.w <= 0 || p.h <= 0 || p.w > 65535 || p.h > 65535 || components < 1 || components > 4) throw FileError(path, "implausible image size");
  if (io->GetSpacing(0) > 0 && io->GetSpacing(1) > 0 && std::isfinite(io->GetSpacing(0))) {
    p.spacingX = io->GetSpacing(0);
    p.spacingY = io->GetSpacing(1);
  }
  std::vector<char> buffer(io->GetImageSizeInBytes());
  itk::ImageIORegion region(2);
  region.SetSize(0, static_cast<itk::SizeValueType>(p.w));
  region.SetSize(1, static_cast<itk::SizeValueType>(p.h));
  io->SetIORegion(region);
  try {
    io->Read(buffer.data());
  } catch (const itk::ExceptionObject& e) {
    throw FileError(path, std::string("cannot read the pixels: ") + e.GetDescription());
  }
  // Grey value of each pixel: the first channel of grey-as-RGB images, else the luminance.
  const std::int64_t plane = p.w * p.h;
  auto sample = [&](std::int64_t i, int c) -> double {
    const std::size_t k = static_cast<std::size_t>(i * components + c);
    return p.bytes ? static_cast<double>(static_cast<unsigned char>(buffer[k]))
                   : static_cast<double>(reinterpret_cast<const std::uint16_t*>(buffer.data())[k]);
  };
  p.grey.resize(static_cast<std::size_t>(plane));
  for (std::int64_t i = 0; i < plane; ++i) {
    double g = sample(i, 0);
    if (components >= 3) g = 0.299 * sample(i, 0) + 0.587 * sample(i, 1) + 0.114 * sample(i, 2);
    p.grey[static_cast<std::size_t>(i)] = p.bytes ? std::round(g) : g;
  }
  return p;
}

Volume volumeFor(const Plane& p, std::int64_t slices, const std::string& source, const char* format) {
  Volume v(p.bytes ? PixelType::UInt8 : PixelType::Float32, Size3{p.w, p.h, slices});
  v.metadata().sourcePath = source;
  v.metadata().sourceFormat = format;
  if (p.spacingX > 0) v.setSpacing({p.spacingX, p.spacingY, 1.0});
  return v;
}

void copyPlane(const Plane& p, Volume& v, std::int64_t z) {
  for (std::int64_t i = 0; i < p.w * p.h; ++i) v.setValue(i % p.w, i / p.w, z, 0, p.grey[static_cast<std::size_t>(i)]);
}

}  // namespace

Volume readImageFile(const std::string& path) {
  const Plane p = readPlane(path);
  Volume v = volumeFor(p, 1, path, "image");
  copyPlane(p, v, 0);
  return v;
}

bool ImageFileReader::canRead(const FileHead& head) const {
  if (head.startsWith("\x89PNG\r\n\x1a\n")) return true;
  if (head.startsWith("\xff\xd8\xff")) return true;           // JPEG (JFIF, Exif, raw)
  if (head.startsWith("II*") || head.startsWith("MM")) {        // TIFF, little or big endian
    return head.bytes.size() >= 4 && ((head.bytes[0] == 'I' && head.bytes[2] == 42 && head.bytes[3] == 0) ||
                                      (head.bytes[0] == 'M' && head.bytes[2] == 0 && head.bytes[3] == 42));
  }
  return head.startsWith("BM") && isImageFileName(head.path);  // BMP's two bytes are too weak alone
}

Volume readImageStack(const std::string& folder) {
  const auto files = imageStackFiles(folder);
  if (files.empty()) throw FileError(folder, "holds no DICOM series and no PNG, TIFF, JPEG or BMP images");
  Volume v;
  for (std::size_t z = 0; z < files.size(); ++z) {
    const std::string& path = files[z];
    const Plane p = readPlane(path);
    if (z == 0) {
      v = volumeFor(p, static_cast<std::int64_t>(files.size()), folder, "image stack");
    } else if (p.w != v.size().x || p.h != v.size().y || (p.bytes != (v.pixelType() == PixelType::UInt8))) {
      throw FileError(path, "differs from the first image of the folder (" + std::to_string(p.w) + " x " + std::to_string(p.h) +
                                " where " + std::to_string(v.size().x) + " x " + std::to_string(v.size().y) + " were expected)");
    }
    copyPlane(p, v, static_cast<std::int64_t>(z));
  }
  return v;
}

}  // namespace al
