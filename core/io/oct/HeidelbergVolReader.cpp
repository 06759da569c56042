#include "io/oct/HeidelbergVolReader.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>

#include "errors/Error.h"

namespace al {

namespace {

constexpr std::size_t kFileHeaderSize = 2048;
constexpr std::size_t kMinBScanHeaderSize = 64;

// Little-endian readers that never step outside the buffer.
struct Cursor {
  const std::uint8_t* data;
  std::size_t size;
  const std::string& name;
  void need(std::size_t offset, std::size_t bytes) const {
    if (offset > size || bytes > size - offset) throw FileError(name, "truncated (a field at byte " + std::to_string(offset) + " lies past the end)");
  }
  std::int32_t i32(std::size_t o) const {
    need(o, 4);
    std::uint32_t v;
    std::memcpy(&v, data + o, 4);
    return static_cast<std::int32_t>(v);
  }
  float f32(std::size_t o) const {
    need(o, 4);
    float v;
    std::memcpy(&v, data + o, 4);
    return v;
  }
  double f64(std::size_t o) const {
    need(o, 8);
    double v;
    std::memcpy(&v, data + o, 8);
    return v;
  }
  std::string str(std::size_t o, std::size_t n) const {
    need(o, n);
    std::string s(reinterpret_cast<const char*>(data + o), n);
    s.erase(std::find(s.begin(), s.end(), '\0'), s.end());
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s;
  }
};

const char* layerName(int index) {
  // Layer order of the HEYEX export (as read by published readers).
  switch (index) {
    case 0: return "ILM";
    case 1: return "BM";
    case 2: return "RNFL";
    case 3: return "GCL";
    case 4: return "IPL";
    case 5: return "INL";
    case 6: return "OPL";
    case 8: return "ELM";
    case 14: return "PR1";
    case 15: return "PR2";
    case 16: return "RPE";
    default: return nullptr;
  }
}

std::string oleDate(double days) {
  // OLE automation date: days since 1899-12-30.
  if (!std::isfinite(days) || days < 1 || days > 200000) return {};
  auto z = static_cast<long>(days) - 25569 + 719468;  // to days since 1970, then civil-from-days
  const long era = (z >= 0 ? z : z - 146096) / 146097;
  const long doe = z - era * 146097;
  const long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const long mp = (5 * doy + 2) / 153;
  const long d = doy - (153 * mp + 2) / 5 + 1;
  const long m = mp + (mp < 10 ? 3 : -9);
  const long y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04ld%02ld%02ld", y, m, d);
  return buf;
}

}  // namespace

bool HeidelbergVolReader::canRead(const FileHead& head) const {
  if (head.startsWith("HSF-OCT-")) return true;
  // Files written by other tools (eyepy writes "ep-v..."): a .vol name and a header whose
  // sizes add up to the file's size.
  const std::string& p = head.path;
  if (p.size() < 4 || (p.compare(p.size() - 4, 4, ".vol") != 0 && p.compare(p.size() - 4, 4, ".VOL") != 0)) return false;
  return head.bytes.size() >= 104 && head.fileSize >= kFileHeaderSize;
}

OctStudy parseHeidelbergVol(const std::uint8_t* data, std::size_t size, const std::string& name) {
  const Cursor c{data, size, name};
  if (size < kFileHeaderSize) throw FileError(name, "too short for a Heidelberg .vol file header (" + std::to_string(size) + " bytes)");
  const std::int32_t sizeX = c.i32(12), numBScans = c.i32(16), sizeZ = c.i32(20);
  const double scaleX = c.f64(24), distance = c.f64(32), scaleZ = c.f64(40);
  const std::int32_t sloX = c.i32(48), sloY = c.i32(52);
  const double sloScaleX = c.f64(56), sloScaleY = c.f64(64);
  if (sizeX <= 0 || sizeZ <= 0 || numBScans <= 0 || sizeX > 16384 || sizeZ > 16384 || numBScans > 16384) {
    throw FileError(name, "implausible B-scan dimensions " + std::to_string(sizeX) + " x " + std::to_string(sizeZ) + " x " +
                              std::to_string(numBScans));
  }
  if (sloX < 0 || sloY < 0 || sloX > 16384 || sloY > 16384) throw FileError(name, "implausible SLO image size");
  // The B-scan header size: the file header's, or (some writers leave it wrong) the first
  // B-scan header's own; whichever makes the sizes add up to the file.
  const std::uint64_t slo = static_cast<std::uint64_t>(sloX) * static_cast<std::uint64_t>(sloY);
  const std::uint64_t bscanBytes = static_cast<std::uint64_t>(sizeX) * static_cast<std::uint64_t>(sizeZ) * 4;
  const std::uint64_t first = kFileHeaderSize + slo;
  auto fits = [&](std::int64_t header) {
    if (header < static_cast<std::int64_t>(kMinBScanHeaderSize) || header > (1 << 24)) return false;
    const std::uint64_t total = first + static_cast<std::uint64_t>(numBScans) * (static_cast<std::uint64_t>(header) + bscanBytes);
    return total <= size;
  };
  std::int64_t headerSize = c.i32(100);
  if (!fits(headerSize)) {
    headerSize = first + 16 <= size ? c.i32(static_cast<std::size_t>(first) + 12) : 0;
    if (!fits(headerSize)) {
      throw FileError(name, "truncated or inconsistent: the header describes " + std::to_string(numBScans) + " B-scans of " +
                                std::to_string(sizeX) + " x " + std::to_string(sizeZ) + ", more than the " + std::to_string(size) +
                                " bytes present hold");
    }
  }

  OctStudy out;
  out.bscans = Volume(PixelType::UInt8, Size3{sizeX, sizeZ, numBScans});
  auto positive = [](double v, double fallback) { return std::isfinite(v) && v > 0 && v < 1000 ? v : fallback; };
  out.bscans.setSpacing({positive(scaleX, 1.0), positive(scaleZ, 1.0), positive(distance, 1.0)});
  auto& m = out.bscans.metadata();
  m.modality = "OPT";
  m.sourcePath = name;
  m.sourceFormat = "Heidelberg .vol";
  const std::string position = c.str(84, 4);
  m.laterality = position == "OD" ? "R" : position == "OS" ? "L" : "";
  m.patientId = c.str(140, 21);
  m.patientBirthDate = oleDate(c.f64(164));
  m.studyDate = oleDate(c.f64(200));
  m.studyDescription = c.str(176, 24);
  m.seriesDescription = "Spectralis OCT volume";
  if (slo > 0) {
    out.fundus = Volume(PixelType::UInt8, Size3{sloX, sloY, 1});
    std::memcpy(out.fundus.bytes(), data + kFileHeaderSize, static_cast<std::size_t>(slo));
    out.fundus.setSpacing({positive(sloScaleX, 1.0), positive(sloScaleY, 1.0), 1.0});
    out.fundus.metadata() = m;
  }

  std::uint8_t* voxels = out.bscans.data<std::uint8_t>();
  std::vector<std::vector<std::vector<float>>> segmentation;  // [layer][bscan][ascan]
  out.bscanInfo.resize(static_cast<std::size_t>(numBScans));
  bool invalidSeen = false;
  for (std::int32_t b = 0; b < numBScans; ++b) {
    const std::size_t base = static_cast<std::size_t>(first + static_cast<std::uint64_t>(b) * (static_cast<std::uint64_t>(headerSize) + bscanBytes));
    auto& info = out.bscanInfo[static_cast<std::size_t>(b)];
    info.startXMm = c.f64(base + 16);
    info.startYMm = c.f64(base + 24);
    info.endXMm = c.f64(base + 32);
    info.endYMm = c.f64(base + 40);
    info.quality = c.f32(base + 56);
    // Layer lines inside the B-scan header: NumSeg lines of SizeX floats at OffSeg.
    const std::int32_t numSeg = c.i32(base + 48), offSeg = c.i32(base + 52);
    if (numSeg > 0 && numSeg <= 64 && offSeg >= 0 &&
        static_cast<std::uint64_t>(offSeg) + static_cast<std::uint64_t>(numSeg) * static_cast<std::uint64_t>(sizeX) * 4 <=
            static_cast<std::uint64_t>(headerSize)) {
      if (segmentation.size() < static_cast<std::size_t>(numSeg)) segmentation.resize(static_cast<std::size_t>(numSeg));
      for (std::int32_t l = 0; l < numSeg; ++l) {
        auto& line = segmentation[static_cast<std::size_t>(l)];
        line.resize(static_cast<std::size_t>(numBScans));
        auto& row = line[static_cast<std::size_t>(b)];
        row.resize(static_cast<std::size_t>(sizeX));
        for (std::int32_t x = 0; x < sizeX; ++x) {
          const float v = c.f32(base + static_cast<std::size_t>(offSeg) + (static_cast<std::size_t>(l) * static_cast<std::size_t>(sizeX) + static_cast<std::size_t>(x)) * 4);
          row[static_cast<std::size_t>(x)] = std::isfinite(v) && v >= 0 && v < 1e6f ? v : std::numeric_limits<float>::quiet_NaN();
        }
      }
    }
    // Intensities: float32, stored A-scan row by row (x fastest); shown as v^(1/4) in 8 bits,
    // the display transform of the HEYEX software. FLT_MAX marks invalid pixels.
    const std::size_t pixels = base + static_cast<std::size_t>(headerSize);
    c.need(pixels, static_cast<std::size_t>(bscanBytes));
    std::uint8_t* dst = voxels + out.bscans.linearIndex(0, 0, b);
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(sizeX) * sizeZ; ++i) {
      float v;
      std::memcpy(&v, data + pixels + static_cast<std::size_t>(i) * 4, 4);
      if (!std::isfinite(v) || v >= FLT_MAX / 2 || v < 0) {
        invalidSeen = invalidSeen || !(v < 0);
        v = 0;
      }
      dst[i] = static_cast<std::uint8_t>(std::lround(255.0 * std::pow(std::min(v, 1.0f), 0.25f)));
    }
  }
  for (std::size_t l = 0; l < segmentation.size(); ++l) {
    OctLayer layer;
    const char* known = layerName(static_cast<int>(l));
    layer.name = known ? known : "layer " + std::to_string(l);
    layer.depth = std::move(segmentation[l]);
    layer.depth.resize(static_cast<std::size_t>(numBScans));
    out.layers.push_back(std::move(layer));
  }
  if (invalidSeen) m.warnings.push_back("pixels the device marked invalid are shown as 0");
  return out;
}

OctStudy readHeidelbergVol(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw FileError(path, "cannot open");
  const std::streamoff size = in.tellg();
  if (size < 0) throw FileError(path, "cannot determine the file size");
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(bytes.data()), size);
  if (!in) throw FileError(path, "read error");
  return parseHeidelbergVol(bytes.data(), bytes.size(), path);
}

}  // namespace al
