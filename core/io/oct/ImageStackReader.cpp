#include "io/oct/ImageStackReader.h"

#include <itkImageIOBase.h>
#include <itkBMPImageIO.h>
#include <itkImageIOFactory.h>
#include <itkJPEGImageIO.h>
#include <itkTIFFImageIO.h>
#include <png.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "errors/Error.h"
#include "io/ItkFactories.h"
#include "runtime/MemoryBudget.h"

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

// PNG through libpng directly, not ITK's PNGImageIO: ITK 5.2 calls png_read_info without an
// error handler in place, so a malformed chunk made libpng abort the whole process (found by
// tests/fuzz/fuzz_bscan_folder). Here every libpng error returns through setjmp into a FileError.
// The two functions that call setjmp hold only trivially destructible locals, as longjmp needs.
struct PngHeader {
  png_uint_32 width = 0, height = 0;
  int bitDepth = 0, channels = 0;
  int scaleUnit = 0;
  double scaleX = 0, scaleY = 0;
};

void pngError(png_structp png, png_const_charp message) {
  char* out = static_cast<char*>(png_get_error_ptr(png));
  std::snprintf(out, 256, "%s", message ? message : "unknown libpng error");
  png_longjmp(png, 1);
}

void pngWarning(png_structp, png_const_charp) {}

bool pngReadHeader(png_structp png, png_infop info, std::FILE* file, PngHeader* h) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_init_io(png, file);
  png_set_user_limits(png, 65535, 65535);
  png_set_chunk_malloc_max(png, 8u << 20);
  png_read_info(png, info);
  // Grey or RGB, 8 or 16 bits, no palette, no alpha, host byte order.
  png_set_expand(png);
  png_set_strip_alpha(png);
  if (png_get_bit_depth(png, info) == 16) png_set_swap(png);
  png_read_update_info(png, info);
  h->width = png_get_image_width(png, info);
  h->height = png_get_image_height(png, info);
  h->bitDepth = png_get_bit_depth(png, info);
  h->channels = png_get_channels(png, info);
#ifdef PNG_sCAL_SUPPORTED
  int unit = 0;
  double sx = 0, sy = 0;
  if (png_get_sCAL(png, info, &unit, &sx, &sy)) {
    h->scaleUnit = unit;
    h->scaleX = sx;
    h->scaleY = sy;
  }
#endif
  return true;
}

bool pngReadRows(png_structp png, png_bytep* rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_image(png, rows);
  png_read_end(png, nullptr);
  return true;
}

// Every chunk's length must fit in the file. Debian's libpng 1.6.39 allocates and zeroes what an
// ancillary chunk claims before reading it, whatever png_set_chunk_malloc_max says: a 127-byte
// PNG whose sCAL chunk claimed 2 GB took 4 s and 2 GB (found by fuzz_bscan_folder).
void checkPngChunks(std::FILE* file, const std::string& path) {
  std::fseek(file, 0, SEEK_END);
  const long size = std::ftell(file);
  long at = 8;  // after the signature
  while (size > 0 && at + 8 <= size) {
    unsigned char head[8];
    if (std::fseek(file, at, SEEK_SET) != 0 || std::fread(head, 1, 8, file) != 8) break;
    const std::uint32_t length = (std::uint32_t{head[0]} << 24) | (std::uint32_t{head[1]} << 16) | (std::uint32_t{head[2]} << 8) | head[3];
    const std::string type(reinterpret_cast<const char*>(head + 4), 4);
    if (static_cast<double>(at) + 12.0 + length > static_cast<double>(size)) {
      const bool printable = std::all_of(type.begin(), type.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; });
      throw FileError(path, "unreadable PNG: its " + (printable ? type + " chunk" : std::string("chunk at byte ") + std::to_string(at)) +
                                " claims " + std::to_string(length) + " bytes, more than the file holds");
    }
    if (type == "IEND") break;
    at += 12 + static_cast<long>(length);
  }
  std::rewind(file);
}

Plane readPngPlane(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) throw FileError(path, "cannot open the image");
  checkPngChunks(file.get(), path);
  char message[256] = "";
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, message, pngError, pngWarning);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  struct Destroy {
    png_structp* png;
    png_infop* info;
    ~Destroy() {
      if (*png) png_destroy_read_struct(png, info, nullptr);
    }
  } destroy{&png, &info};
  if (!info) throw FileError(path, "cannot start the PNG decoder");
  PngHeader h;
  if (!pngReadHeader(png, info, file.get(), &h)) throw FileError(path, std::string("unreadable PNG: ") + message);
  if (h.width == 0 || h.height == 0 || (h.bitDepth != 8 && h.bitDepth != 16) || h.channels < 1 || h.channels > 4) {
    throw FileError(path, "unsupported PNG layout");
  }
  const std::uint64_t rowBytes = static_cast<std::uint64_t>(h.width) * static_cast<std::uint64_t>(h.channels) * (h.bitDepth / 8);
  checkMemoryBudget(path, rowBytes * h.height, "the image (" + std::to_string(h.width) + " x " + std::to_string(h.height) + ")");
  std::vector<unsigned char> buffer(static_cast<std::size_t>(rowBytes * h.height));
  std::vector<png_bytep> rows(h.height);
  for (png_uint_32 y = 0; y < h.height; ++y) rows[y] = buffer.data() + y * rowBytes;
  if (!pngReadRows(png, rows.data())) throw FileError(path, std::string("unreadable PNG pixels: ") + message);

  Plane p;
  p.w = h.width;
  p.h = h.height;
  p.bytes = h.bitDepth == 8;
  // sCAL says metres, but ITK's PNG writer (and so writePngStack) stores millimetres under that
  // unit, and ITK reads them back as millimetres. Values under 0.001 are taken as the spec's
  // metres (a pixel under 1 mm, as other writers store B-scans), larger ones as ITK's millimetres.
  if (h.scaleUnit == 1 && h.scaleX > 0 && h.scaleY > 0 && std::isfinite(h.scaleX) && std::isfinite(h.scaleY)) {
    const double toMm = std::max(h.scaleX, h.scaleY) < 0.001 ? 1000.0 : 1.0;
    p.spacingX = h.scaleX * toMm;
    p.spacingY = h.scaleY * toMm;
  }
  const std::int64_t plane = p.w * p.h;
  p.grey.resize(static_cast<std::size_t>(plane));
  for (std::int64_t i = 0; i < plane; ++i) {
    auto sample = [&](int c) -> double {
      const std::size_t k = static_cast<std::size_t>(i * h.channels + c);
      if (p.bytes) return buffer[k];
      std::uint16_t v;
      std::memcpy(&v, buffer.data() + 2 * k, 2);
      return v;
    };
    double g = sample(0);
    if (h.channels >= 3) g = 0.299 * sample(0) + 0.587 * sample(1) + 0.114 * sample(2);
    p.grey[static_cast<std::size_t>(i)] = p.bytes ? std::round(g) : g;
  }
  return p;
}

bool startsWithPngSignature(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  unsigned char sig[8] = {};
  return file && std::fread(sig, 1, 8, file.get()) == 8 && png_sig_cmp(sig, 0, 8) == 0;
}

// The decoder the file's first bytes call for (JPEG, TIFF, BMP), whatever its name says: ITK's
// factory asks the name first, and a JPEG exported as ".png" would be "not a readable image".
itk::ImageIOBase::Pointer ioForContent(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  unsigned char m[4] = {};
  if (!file || std::fread(m, 1, 4, file.get()) != 4) return nullptr;
  if (m[0] == 0xff && m[1] == 0xd8 && m[2] == 0xff) return itk::JPEGImageIO::New().GetPointer();
  if ((m[0] == 'I' && m[1] == 'I' && m[2] == 42 && m[3] == 0) || (m[0] == 'M' && m[1] == 'M' && m[2] == 0 && m[3] == 42))
    return itk::TIFFImageIO::New().GetPointer();
  if (m[0] == 'B' && m[1] == 'M') return itk::BMPImageIO::New().GetPointer();
  return nullptr;
}

Plane readPlane(const std::string& path) {
  if (startsWithPngSignature(path)) return readPngPlane(path);
  registerItkImageIOFactories();
  itk::ImageIOBase::Pointer io = ioForContent(path);
  if (!io) io = itk::ImageIOFactory::CreateImageIO(path.c_str(), itk::ImageIOFactory::IOFileModeEnum::ReadMode);
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
