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

std::vector<std::string> imageStackFiles(const std::string& folder) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::string ext = it->path().extension().string();
    for (auto& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (ext == ".png" || ext == ".tif" || ext == ".tiff" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp") {
      files.push_back(it->path().string());
    }
  }
  std::sort(files.begin(), files.end(), [](const std::string& a, const std::string& b) {
    return naturalLess(std::filesystem::path(a).filename().string(), std::filesystem::path(b).filename().string());
  });
  return files;
}

Volume readImageStack(const std::string& folder) {
  registerItkImageIOFactories();
  const auto files = imageStackFiles(folder);
  if (files.empty()) throw FileError(folder, "holds no DICOM series and no PNG, TIFF, JPEG or BMP images");
  Volume v;
  std::vector<char> buffer;
  for (std::size_t z = 0; z < files.size(); ++z) {
    const std::string& path = files[z];
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
    const auto w = static_cast<std::int64_t>(io->GetDimensions(0)), h = static_cast<std::int64_t>(io->GetDimensions(1));
    const int components = static_cast<int>(io->GetNumberOfComponents());
    const bool bytes = io->GetComponentType() == itk::IOComponentEnum::UCHAR;
    if (!bytes && io->GetComponentType() != itk::IOComponentEnum::USHORT) throw FileError(path, "only 8- and 16-bit images are supported");
    if (w <= 0 || h <= 0 || w > 65535 || h > 65535 || components < 1 || components > 4) throw FileError(path, "implausible image size");
    if (z == 0) {
      v = Volume(bytes ? PixelType::UInt8 : PixelType::Float32, Size3{w, h, static_cast<std::int64_t>(files.size())});
      v.metadata().sourcePath = folder;
      v.metadata().sourceFormat = "image stack";
      if (io->GetSpacing(0) > 0 && io->GetSpacing(1) > 0 && std::isfinite(io->GetSpacing(0))) {
        v.setSpacing({io->GetSpacing(0), io->GetSpacing(1), 1.0});
      }
    } else if (w != v.size().x || h != v.size().y || (bytes != (v.pixelType() == PixelType::UInt8))) {
      throw FileError(path, "differs from the first image of the folder (" + std::to_string(w) + " x " + std::to_string(h) + " where " +
                                std::to_string(v.size().x) + " x " + std::to_string(v.size().y) + " were expected)");
    }
    buffer.resize(io->GetImageSizeInBytes());
    itk::ImageIORegion region(2);
    region.SetSize(0, static_cast<itk::SizeValueType>(w));
    region.SetSize(1, static_cast<itk::SizeValueType>(h));
    io->SetIORegion(region);
    try {
      io->Read(buffer.data());
    } catch (const itk::ExceptionObject& e) {
      throw FileError(path, std::string("cannot read the pixels: ") + e.GetDescription());
    }
    // Grey value of each pixel: the first channel of grey-as-RGB images, else the luminance.
    const std::int64_t plane = w * h;
    auto sample = [&](std::int64_t i, int c) -> double {
      const std::size_t k = static_cast<std::size_t>(i * components + c);
      return bytes ? static_cast<double>(static_cast<unsigned char>(buffer[k])) : static_cast<double>(reinterpret_cast<const std::uint16_t*>(buffer.data())[k]);
    };
    for (std::int64_t i = 0; i < plane; ++i) {
      double g = sample(i, 0);
      if (components >= 3) g = 0.299 * sample(i, 0) + 0.587 * sample(i, 1) + 0.114 * sample(i, 2);
      const std::int64_t x = i % w, y = i / w;
      v.setValue(x, y, static_cast<std::int64_t>(z), 0, bytes ? std::round(g) : g);
    }
  }
  return v;
}

}  // namespace al
