#include "io/ItkVolumeReader.h"

#include <itkImageIOBase.h>
#include <itkImageIOFactory.h>
#include <itkMetaImageIOFactory.h>
#include <itkNiftiImageIOFactory.h>
#include <itkNrrdImageIOFactory.h>
#include <itkBMPImageIOFactory.h>
#include <itkJPEGImageIOFactory.h>
#include <itkPNGImageIOFactory.h>
#include <itkTIFFImageIOFactory.h>

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>

#include "errors/Error.h"
#include "runtime/MemoryBudget.h"
#include "io/ItkFactories.h"

namespace al {

void registerItkImageIOFactories() {
  // Registered by hand rather than through ITK's generated factory manager, so that no
  // ITK-wide include directories or defines leak into the rest of the build.
  static std::once_flag once;
  std::call_once(once, [] {
    itk::NiftiImageIOFactory::RegisterOneFactory();
    itk::MetaImageIOFactory::RegisterOneFactory();
    itk::NrrdImageIOFactory::RegisterOneFactory();
    itk::PNGImageIOFactory::RegisterOneFactory();
    itk::TIFFImageIOFactory::RegisterOneFactory();
    itk::JPEGImageIOFactory::RegisterOneFactory();
    itk::BMPImageIOFactory::RegisterOneFactory();
  });
}

namespace {

bool endsWith(const std::string& s, const char* suffix) {
  const std::size_t n = std::char_traits<char>::length(suffix);
  if (s.size() < n) return false;
  return std::equal(s.end() - static_cast<std::ptrdiff_t>(n), s.end(), suffix,
                    [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; });
}

std::int32_t readInt32(const FileHead& head, std::size_t offset, bool swap) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    const unsigned b = head.bytes[offset + static_cast<std::size_t>(swap ? 3 - i : i)];
    v |= static_cast<std::uint32_t>(b) << (8 * i);
  }
  return static_cast<std::int32_t>(v);
}

bool isNiftiOrAnalyzeHeader(const FileHead& head) {
  if (head.bytes.size() < 348) return false;
  for (bool swap : {false, true}) {
    const std::int32_t sizeofHdr = readInt32(head, 0, swap);
    if (sizeofHdr == 348 || sizeofHdr == 540) return true;
  }
  return false;
}

// The file that holds the voxels of a header/data pair, when it is not the header itself.
std::uint64_t dataBytesOnDisk(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::uint64_t total = fs::file_size(path, ec);
  if (ec) total = 0;
  const fs::path p(path);
  for (const char* ext : {".img", ".img.gz", ".raw", ".zraw", ".raw.gz"}) {
    fs::path sibling = p.parent_path() / (p.stem().string() + ext);
    const auto s = fs::file_size(sibling, ec);
    if (!ec) total += s;
  }
  return total;
}

bool hasSuffix(const std::string& s, const char* suffix) { return endsWith(s, suffix); }

// A byte count computed from a header, for a message: headers hold any float (1e30 included,
// found by tests/fuzz/fuzz_volume_header), which must not be converted to an integer unchecked.
std::string byteCount(double bytes) {
  if (!(bytes >= 0)) return "an invalid number of";
  if (bytes >= 9.0e18) return "more than 2^63";
  return std::to_string(static_cast<long long>(bytes));
}

// The first 540 bytes of a NIfTI/Analyze header (gzip or plain): how many were read.
int readNiftiHeader(const std::string& path, unsigned char (&hdr)[540]) {
  gzFile gz = gzopen(path.c_str(), "rb");
  if (!gz) throw FileError(path, "cannot open");
  const int got = gzread(gz, hdr, sizeof(hdr));
  gzclose(gz);
  if (got < 348) throw FileError(path, "the NIfTI header is truncated");
  return got;
}

// ITK's NIfTI reader fills a short file's missing voxels without an error. Check that the
// bytes are there before reading: file size for .nii and .img, the gzip trailer's length
// (ISIZE, the uncompressed size mod 2^32) for .nii.gz, which a truncated stream lacks.
void checkNiftiComplete(const std::string& path, double voxelBytes) {
  namespace fs = std::filesystem;
  unsigned char hdr[540] = {};
  (void)readNiftiHeader(path, hdr);
  auto int32At = [&](std::size_t off, bool swap) {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(hdr[off + static_cast<std::size_t>(swap ? 3 - i : i)]) << (8 * i);
    return static_cast<std::int32_t>(v);
  };
  const bool swap = int32At(0, false) != 348 && int32At(0, false) != 540;
  const bool nifti2 = int32At(0, swap) == 540;
  double voxOffset = 0;
  if (nifti2) {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(hdr[168 + static_cast<std::size_t>(swap ? 7 - i : i)]) << (8 * i);
    voxOffset = static_cast<double>(v);
  } else {
    std::uint32_t bits = static_cast<std::uint32_t>(int32At(108, swap));
    float f;
    std::memcpy(&f, &bits, sizeof(f));
    voxOffset = std::isfinite(f) && f > 0 ? static_cast<double>(f) : 0.0;
  }
  std::error_code ec;
  bool compressed = false;
  {
    std::ifstream raw(path, std::ios::binary);
    unsigned char magic[2] = {};
    raw.read(reinterpret_cast<char*>(magic), 2);
    compressed = magic[0] == 0x1f && magic[1] == 0x8b;
  }
  std::string dataFile = path;
  const bool pair = hasSuffix(path, ".hdr") || hasSuffix(path, ".hdr.gz");
  if (pair) {
    dataFile = path.substr(0, path.rfind(".hdr")) + (compressed ? ".img.gz" : ".img");
    if (!fs::exists(dataFile, ec)) throw FileError(path, "the data file " + fs::path(dataFile).filename().string() + " is missing");
  } else if (voxOffset < 348) {
    voxOffset = nifti2 ? 544 : 352;
  }
  const double expected = voxOffset + voxelBytes;
  if (compressed) {
    std::ifstream in(dataFile, std::ios::binary | std::ios::ate);
    const auto size = static_cast<std::int64_t>(in.tellg());
    if (size < 18) throw FileError(path, "the compressed file is truncated");
    unsigned char trailer[4];
    in.seekg(size - 4);
    in.read(reinterpret_cast<char*>(trailer), 4);
    const std::uint32_t isize = trailer[0] | (trailer[1] << 8) | (trailer[2] << 16) | (static_cast<std::uint32_t>(trailer[3]) << 24);
    const auto want = static_cast<std::uint32_t>(static_cast<std::uint64_t>(expected) & 0xffffffffu);
    if (isize != want) {
      throw FileError(path, "the compressed file is truncated or damaged (it holds fewer bytes than its header describes)");
    }
  } else {
    const auto size = static_cast<double>(fs::file_size(dataFile, ec));
    if (ec || size < expected) {
      throw FileError(path, "the file is truncated: " + byteCount(expected) + " bytes expected, " + byteCount(size) + " present");
    }
  }
}

// ITK 5.2 takes a NIfTI header's orientation (quaternion and sform rows) through an SVD that
// aborts on a value that is not finite (vnl's assert_finite) and loops for minutes on huge ones
// (1.7e38; both found by tests/fuzz/fuzz_volume_header). Before ITK reads it, every voxel size
// and, for NIfTI, every orientation and offset value it uses must be finite and below 1e7 (mm).
void checkNiftiGeometry(const std::string& path) {
  unsigned char hdr[540] = {};
  const int got = readNiftiHeader(path, hdr);
  auto bytesAt = [&](std::size_t off, std::size_t n, bool swap) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(hdr[off + (swap ? n - 1 - i : i)]) << (8 * i);
    return v;
  };
  const bool swap = static_cast<std::int32_t>(bytesAt(0, 4, false)) != 348 && static_cast<std::int32_t>(bytesAt(0, 4, false)) != 540;
  const bool nifti2 = static_cast<std::int32_t>(bytesAt(0, 4, swap)) == 540;
  if (nifti2 && got < 540) throw FileError(path, "the NIfTI-2 header is truncated");
  auto value = [&](std::size_t off) {
    if (nifti2) {
      const std::uint64_t bits = bytesAt(off, 8, swap);
      double d;
      std::memcpy(&d, &bits, sizeof(d));
      return d;
    }
    const auto bits = static_cast<std::uint32_t>(bytesAt(off, 4, swap));
    float f;
    std::memcpy(&f, &bits, sizeof(f));
    return static_cast<double>(f);
  };
  auto check = [&](const char* what, std::size_t off, int count) {
    for (int i = 0; i < count; ++i) {
      const double v = value(off + static_cast<std::size_t>(i) * (nifti2 ? 8 : 4));
      if (!std::isfinite(v) || std::abs(v) >= 1e7)
        throw FileError(path, std::string("the NIfTI header's ") + what + " holds " + (std::isfinite(v) ? "an implausible value" : "a value that is not a number"));
    }
  };
  const std::size_t pixdim = nifti2 ? 104 : 76;
  check("voxel size (pixdim)", pixdim, 4);
  // The fields ITK reads: the quaternion when qform_code is set, the rows when sform_code is.
  // Whatever the magic says (nifticlib reads a 348-byte header with any "n+" magic as NIfTI); in
  // an Analyze 7.5 header these bytes are its history fields, small integers in real files.
  const std::size_t codes = nifti2 ? 344 : 252, codeBytes = nifti2 ? 4 : 2;
  if (bytesAt(codes, codeBytes, swap) != 0) check("orientation (quatern_b/c/d, qoffset)", nifti2 ? 352 : 256, 6);
  if (bytesAt(codes + codeBytes, codeBytes, swap) != 0) check("orientation (srow_x/y/z)", nifti2 ? 400 : 280, 12);
}

// ITK 5.2's MetaIO copies header keys and string values into fixed buffers of 255 bytes: a
// longer one overflowed them, and glibc ended the process ("buffer overflow detected", found by
// tests/fuzz/fuzz_volume_header). Before ITK reads it, the header up to its ElementDataFile line
// must be short lines of text, "Key = Value" (read from the first 64 KiB only).
void checkMetaImageHeaderText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, "cannot open");
  std::string head(64 << 10, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(in.gcount()));
  std::size_t start = 0;
  for (int lines = 0; start < head.size(); ++lines) {
    if (lines >= 200) throw FileError(path, "the MetaImage header has more than 200 lines before ElementDataFile");
    std::size_t end = head.find('\n', start);
    if (end == std::string::npos) end = head.size();
    std::string line = head.substr(start, end - start);
    start = end + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.size() > 250) throw FileError(path, "a MetaImage header line is longer than 250 characters");
    for (const char ch : line) {
      const auto c = static_cast<unsigned char>(ch);
      if (c < 0x20 && c != '\t') throw FileError(path, "the MetaImage header holds binary data before its ElementDataFile line");
    }
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    const std::size_t eq = line.find_first_of("=:");
    if (eq == std::string::npos) throw FileError(path, "a MetaImage header line is not \"Key = Value\"");
    std::string key = line.substr(0, eq);
    key.erase(0, key.find_first_not_of(" \t"));
    key.erase(key.find_last_not_of(" \t") + 1);
    if (key == "ElementDataFile") {
      // MetaIO reads a value with '%' as a numbered file pattern ("slice%03d.raw 1 40 1") and
      // formats it into a buffer sized for the plain name: ITK 5.2 then reads past that buffer
      // (found by fuzz_volume_header). Patterns are refused; LOCAL and one data file are read.
      if (line.find('%', eq) != std::string::npos)
        throw FileError(path, "the MetaImage ElementDataFile is a file-name pattern (%), which is not supported");
      return;
    }
  }
  throw FileError(path, "the MetaImage header has no ElementDataFile line in its first 64 KiB");
}

// ITK's MetaImage reader, too, accepts a short file. The header says how many bytes follow
// (CompressedDataSize, or the voxel bytes when uncompressed) and where (LOCAL: right after the
// ElementDataFile line; otherwise a file beside the header).
void checkMetaImageComplete(const std::string& path, double voxelBytes) {
  namespace fs = std::filesystem;
  std::ifstream in(path, std::ios::binary);
  std::string line, dataFile;
  bool compressed = false;
  double compressedSize = -1;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    auto trim = [](std::string& t) {
      t.erase(0, t.find_first_not_of(" \t\r"));
      t.erase(t.find_last_not_of(" \t\r") + 1);
    };
    trim(key);
    trim(value);
    if (key == "CompressedData") compressed = value == "True" || value == "true";
    if (key == "CompressedDataSize") compressedSize = std::atof(value.c_str());
    if (key == "ElementDataFile") {
      dataFile = value;
      break;
    }
  }
  if (dataFile.empty()) throw FileError(path, "the MetaImage header has no ElementDataFile line");
  double available = 0;
  std::error_code ec;
  if (dataFile == "LOCAL") {
    const auto headerEnd = static_cast<double>(in.tellg());
    available = static_cast<double>(fs::file_size(path, ec)) - headerEnd;
  } else if (dataFile.find_first_of("%*") == std::string::npos && dataFile != "LIST") {
    const fs::path data = fs::path(path).parent_path() / dataFile;
    if (!fs::exists(data, ec)) throw FileError(path, "the data file " + dataFile + " is missing");
    available = static_cast<double>(fs::file_size(data, ec));
  } else {
    return;  // file lists and patterns: each slice file is checked by ITK as it is read
  }
  const double expected = compressed ? compressedSize : voxelBytes;
  if (expected >= 0 && available < expected) {
    throw FileError(path, "the file is truncated: " + byteCount(expected) + " bytes of voxel data expected, " +
                              byteCount(available) + " present");
  }
}

template <typename In, typename Out>
void convertPlanar(const In* src, Out* dst, std::int64_t voxels, int components) {
  // ITK buffers interleave components per voxel; Volume keeps one plane per channel.
  for (int c = 0; c < components; ++c) {
    Out* plane = dst + static_cast<std::int64_t>(c) * voxels;
    for (std::int64_t i = 0; i < voxels; ++i) {
      plane[i] = static_cast<Out>(src[i * components + c]);
    }
  }
}

template <typename In>
Volume toVolume(const std::vector<char>& buffer, Size3 size, int components) {
  const auto* src = reinterpret_cast<const In*>(buffer.data());
  const std::int64_t voxels = size.count();
  const std::int64_t n = voxels * components;
  // Choose the smallest Volume pixel type that holds every value exactly.
  PixelType target = PixelType::Float32;
  if constexpr (std::is_same_v<In, std::uint8_t>) {
    target = PixelType::UInt8;
  } else if constexpr (std::is_same_v<In, std::int8_t> || std::is_same_v<In, std::int16_t>) {
    target = PixelType::Int16;
  } else if constexpr (std::is_integral_v<In>) {
    const auto [lo, hi] = std::minmax_element(src, src + n);
    if (n > 0 && static_cast<double>(*lo) >= std::numeric_limits<std::int16_t>::min() &&
        static_cast<double>(*hi) <= std::numeric_limits<std::int16_t>::max()) {
      target = PixelType::Int16;
    }
  }
  Volume v(target, size, components);
  switch (target) {
    case PixelType::UInt8: convertPlanar(src, v.data<std::uint8_t>(), voxels, components); break;
    case PixelType::Int16: convertPlanar(src, v.data<std::int16_t>(), voxels, components); break;
    case PixelType::Float32: convertPlanar(src, v.data<float>(), voxels, components); break;
  }
  return v;
}

}  // namespace

bool ItkVolumeReader::canRead(const FileHead& head) const {
  if (head.startsWith("NRRD000")) return true;
  if (head.startsWith("ObjectType") || head.startsWith("NDims")) return true;
  if (isNiftiOrAnalyzeHeader(head)) return true;
  const bool gzip = head.bytes.size() >= 2 && head.bytes[0] == 0x1f && head.bytes[1] == 0x8b;
  if (gzip && (endsWith(head.path, ".nii.gz") || endsWith(head.path, ".hdr.gz"))) return true;
  if (endsWith(head.path, ".mha") || endsWith(head.path, ".mhd")) return true;
  return false;
}

Volume ItkVolumeReader::read(const std::string& path) const {
  registerItkImageIOFactories();
  itk::ImageIOBase::Pointer io =
      itk::ImageIOFactory::CreateImageIO(path.c_str(), itk::ImageIOFactory::IOFileModeEnum::ReadMode);
  if (!io) throw FileError(path, "ITK found no reader for this file");
  // This reader opens the volume formats only. ITK picks its IO by the content, so a file named
  // .mha (or .nii.gz) that holds a PNG, TIFF, JPEG or BMP would reach ITK's 2D readers, which are
  // registered for writing: ITK 5.2's PNGImageIO calls png_read_info without an error handler, and
  // a malformed PNG aborts the process (found by fuzz_volume_header). Images go through
  // ImageStackReader.
  const std::string ioClass = io->GetNameOfClass();
  if (ioClass != "NiftiImageIO" && ioClass != "MetaImageIO" && ioClass != "NrrdImageIO") {
    std::string held = ioClass.substr(0, ioClass.find("ImageIO"));
    throw FileError(path, "holds " + held + " data, not a NIfTI, Analyze, MetaImage or NRRD volume as its name says" +
                              " (rename it to match its content)");
  }
  if (ioClass == "MetaImageIO") checkMetaImageHeaderText(path);
  if (ioClass == "NiftiImageIO") checkNiftiGeometry(path);
  try {
    io->SetFileName(path);
    io->ReadImageInformation();
  } catch (const itk::ExceptionObject& e) {
    throw FileError(path, std::string("unreadable header: ") + e.GetDescription());
  }

  const unsigned dims = io->GetNumberOfDimensions();
  if (dims < 2 || dims > 4) {
    throw FileError(path, "has " + std::to_string(dims) + " dimensions; 2, 3 or 4 are supported");
  }
  Size3 size{static_cast<std::int64_t>(io->GetDimensions(0)),
             static_cast<std::int64_t>(io->GetDimensions(1)),
             dims > 2 ? static_cast<std::int64_t>(io->GetDimensions(2)) : 1};
  std::int64_t components = static_cast<std::int64_t>(io->GetNumberOfComponents());
  if (dims == 4) {
    // A 4D file is a stack of co-registered 3D volumes: contrasts, or time points.
    if (components != 1) throw FileError(path, "4D images with vector pixels are not supported");
    components = static_cast<std::int64_t>(io->GetDimensions(3));
  }
  if (size.x <= 0 || size.y <= 0 || size.z <= 0 || components <= 0 || components > 64) {
    throw FileError(path, "implausible dimensions in the header");
  }

  // Never trust the header's size alone: refuse allocations that the bytes on disk (allowing
  // for deflate's best ratio of about 1:1032) cannot fill.
  const std::uint64_t componentSize = io->GetComponentSize();
  const double needed = static_cast<double>(size.count()) * static_cast<double>(components) *
                        static_cast<double>(componentSize);
  const double available = static_cast<double>(dataBytesOnDisk(path)) * 1100.0;
  if (needed > available) {
    throw FileError(path, "the header claims " + byteCount(needed) + " bytes of voxels, more than the file can hold");
  }
  checkMemoryBudget(path, static_cast<std::uint64_t>(std::min(needed, 1.8e19)),
                    "the image (" + std::to_string(size.x) + " x " + std::to_string(size.y) + " x " + std::to_string(size.z) + " x " +
                        std::to_string(components) + " components)");

  if (ioClass == "NiftiImageIO") checkNiftiComplete(path, needed);
  if (ioClass == "MetaImageIO") checkMetaImageComplete(path, needed);

  std::vector<char> buffer(static_cast<std::size_t>(needed));
  itk::ImageIORegion region(dims);
  for (unsigned d = 0; d < dims; ++d) {
    region.SetIndex(d, 0);
    region.SetSize(d, io->GetDimensions(d));
  }
  io->SetIORegion(region);
  try {
    io->Read(buffer.data());
  } catch (const itk::ExceptionObject& e) {
    throw FileError(path, std::string("cannot read the voxels: ") + e.GetDescription());
  }

  // A 4D scalar buffer is already planar (x fastest, the 4th axis slowest); treat it as
  // single-component data of size x*y*(z*C) and then relabel.
  const int interleaved = dims == 4 ? 1 : static_cast<int>(components);
  const Size3 bufferSize = dims == 4 ? Size3{size.x, size.y, size.z * components} : size;
  Volume v;
  using IOC = itk::IOComponentEnum;
  switch (io->GetComponentType()) {
    case IOC::UCHAR: v = toVolume<std::uint8_t>(buffer, bufferSize, interleaved); break;
    case IOC::CHAR: v = toVolume<std::int8_t>(buffer, bufferSize, interleaved); break;
    case IOC::SHORT: v = toVolume<std::int16_t>(buffer, bufferSize, interleaved); break;
    case IOC::USHORT: v = toVolume<std::uint16_t>(buffer, bufferSize, interleaved); break;
    case IOC::INT: v = toVolume<std::int32_t>(buffer, bufferSize, interleaved); break;
    case IOC::UINT: v = toVolume<std::uint32_t>(buffer, bufferSize, interleaved); break;
    case IOC::LONG: v = toVolume<long>(buffer, bufferSize, interleaved); break;
    case IOC::ULONG: v = toVolume<unsigned long>(buffer, bufferSize, interleaved); break;
    case IOC::LONGLONG: v = toVolume<long long>(buffer, bufferSize, interleaved); break;
    case IOC::ULONGLONG: v = toVolume<unsigned long long>(buffer, bufferSize, interleaved); break;
    case IOC::FLOAT: v = toVolume<float>(buffer, bufferSize, interleaved); break;
    case IOC::DOUBLE: v = toVolume<double>(buffer, bufferSize, interleaved); break;
    default:
      throw FileError(path, std::string("unsupported voxel type ") +
                                itk::ImageIOBase::GetComponentTypeAsString(io->GetComponentType()));
  }
  buffer.clear();
  buffer.shrink_to_fit();
  if (dims == 4) {
    Volume stacked(v.pixelType(), size, static_cast<int>(components));
    std::copy(v.bytes(), v.bytes() + v.byteSize(), stacked.bytes());
    v = std::move(stacked);
  }

  Vec3 spacing{1, 1, 1}, origin{0, 0, 0};
  Mat3 direction{1, 0, 0, 0, 1, 0, 0, 0, 1};
  const unsigned spatial = std::min(dims, 3u);
  for (unsigned d = 0; d < spatial; ++d) {
    const double s = io->GetSpacing(d);
    spacing[d] = (s > 0 && std::isfinite(s)) ? s : 1.0;
    origin[d] = io->GetOrigin(d);
    const auto axis = io->GetDirection(d);
    for (unsigned r = 0; r < spatial && r < axis.size(); ++r) direction[r * 3 + d] = axis[r];
  }
  v.setSpacing(spacing);
  v.setOrigin(origin);
  v.setDirection(direction);
  auto& m = v.metadata();
  m.sourcePath = path;
  const std::string ioName = io->GetNameOfClass();
  m.sourceFormat = ioName == "NiftiImageIO" ? "NIfTI"
                   : ioName == "MetaImageIO" ? "MetaImage"
                   : ioName == "NrrdImageIO" ? "NRRD"
                                             : ioName;
  return v;
}

}  // namespace al
