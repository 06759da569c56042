#pragma once
// The one image type of AnomalyLens: a 3D voxel grid with one or more channels (contrasts),
// its physical geometry and the metadata a report needs. Plain C++: no ITK, no torch, no Qt,
// so every layer can include it cheaply. Conversions live in ItkBridge and TorchBridge.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace al {

enum class PixelType { UInt8, Int16, Float32 };

const char* pixelTypeName(PixelType type);
std::size_t pixelTypeSize(PixelType type);

using Vec3 = std::array<double, 3>;
// Direction cosines, row-major 3x3; column j is the physical direction of index axis j (ITK's
// convention, so DICOM's row/column cosines and the slice normal are columns 0, 1 and 2).
using Mat3 = std::array<double, 9>;

struct Size3 {
  std::int64_t x = 0, y = 0, z = 0;
  std::int64_t count() const { return x * y * z; }
  bool operator==(const Size3& o) const { return x == o.x && y == o.y && z == o.z; }
};

// What a report, the study browser and the exports need to know about where a volume came from.
struct VolumeMetadata {
  std::string patientName;
  std::string patientId;
  std::string patientBirthDate;  // DICOM DA, YYYYMMDD
  std::string patientSex;
  std::string studyInstanceUid;
  std::string studyDate;
  std::string studyTime;
  std::string studyId;
  std::string studyDescription;
  std::string referringPhysicianName;
  std::string accessionNumber;
  std::string seriesInstanceUid;
  std::string seriesNumber;
  std::string seriesDescription;
  std::string modality;    // DICOM modality code: MR, CT, OPT, ...
  std::string laterality;  // R, L or empty
  std::string bodyPartExamined;
  std::string frameOfReferenceUid;
  // The DICOM images the slices were decoded from, so that what is exported (maps,
  // segmentations, reports) can reference them: per slice z its instance and, in a multi-frame
  // instance, its frame (1-based; 0 for a single-frame image). Empty for other formats.
  struct SourceImage {
    std::string sopInstanceUid;
    int frame = 0;
  };
  std::string sopClassUid;
  std::vector<SourceImage> sourceImages;
  std::string sourcePath;  // file or folder the volume was read from
  std::string sourceFormat;  // "NIfTI", "DICOM", ...
  std::string transferSyntax;  // DICOM only: the UID's name
  // What the reader had to decide or could not fix, for the user to see (a gantry tilt shown
  // without shear correction, MONOCHROME1 inverted, duplicates set aside, ...).
  std::vector<std::string> warnings;
};

struct ValueRange {
  double min = 0.0;
  double max = 0.0;
};

class Volume {
 public:
  Volume() = default;
  // Zero-filled voxels. Throws std::invalid_argument on a non-positive size or channel count.
  Volume(PixelType type, Size3 size, int channels = 1);

  PixelType pixelType() const { return type_; }
  const Size3& size() const { return size_; }
  int channels() const { return channels_; }
  bool empty() const { return voxels_.empty(); }
  std::int64_t voxelsPerChannel() const { return size_.count(); }
  std::size_t byteSize() const { return voxels_.size(); }

  const Vec3& spacing() const { return spacing_; }
  const Vec3& origin() const { return origin_; }
  const Mat3& direction() const { return direction_; }
  void setSpacing(const Vec3& spacing);
  void setOrigin(const Vec3& origin) { origin_ = origin; }
  void setDirection(const Mat3& direction) { direction_ = direction; }

  // One name per channel ("T1", "FLAIR", ...); empty names for a single unnamed channel.
  const std::vector<std::string>& channelNames() const { return channelNames_; }
  void setChannelNames(std::vector<std::string> names);

  VolumeMetadata& metadata() { return metadata_; }
  const VolumeMetadata& metadata() const { return metadata_; }

  // Planar layout: channel-major, then z, y, x (x fastest), i.e. the order of a [C, Z, Y, X]
  // tensor. Typed access checks the pixel type.
  template <typename T> T* data();
  template <typename T> const T* data() const;
  std::byte* bytes() { return voxels_.data(); }
  const std::byte* bytes() const { return voxels_.data(); }

  std::int64_t linearIndex(std::int64_t x, std::int64_t y, std::int64_t z, int c = 0) const {
    return ((static_cast<std::int64_t>(c) * size_.z + z) * size_.y + y) * size_.x + x;
  }
  bool contains(std::int64_t x, std::int64_t y, std::int64_t z) const {
    return x >= 0 && y >= 0 && z >= 0 && x < size_.x && y < size_.y && z < size_.z;
  }
  // Voxel value as double; the caller checks contains().
  double value(std::int64_t x, std::int64_t y, std::int64_t z, int c = 0) const;
  void setValue(std::int64_t x, std::int64_t y, std::int64_t z, int c, double v);

  ValueRange valueRange(int channel = -1) const;  // -1: over all channels
  Vec3 indexToPhysical(const Vec3& index) const;

 private:
  void checkType(PixelType expected) const;

  PixelType type_ = PixelType::Float32;
  Size3 size_;
  int channels_ = 0;
  Vec3 spacing_{1.0, 1.0, 1.0};
  Vec3 origin_{0.0, 0.0, 0.0};
  Mat3 direction_{1, 0, 0, 0, 1, 0, 0, 0, 1};
  std::vector<std::string> channelNames_;
  VolumeMetadata metadata_;
  std::vector<std::byte> voxels_;
};

template <typename T> struct PixelTypeOf;
template <> struct PixelTypeOf<std::uint8_t> { static constexpr PixelType value = PixelType::UInt8; };
template <> struct PixelTypeOf<std::int16_t> { static constexpr PixelType value = PixelType::Int16; };
template <> struct PixelTypeOf<float> { static constexpr PixelType value = PixelType::Float32; };

template <typename T> T* Volume::data() {
  checkType(PixelTypeOf<T>::value);
  return reinterpret_cast<T*>(voxels_.data());
}
template <typename T> const T* Volume::data() const {
  checkType(PixelTypeOf<T>::value);
  return reinterpret_cast<const T*>(voxels_.data());
}

// Calls f(const T* begin, std::int64_t count) with the volume's typed buffer.
template <typename F> decltype(auto) visitVoxels(const Volume& v, F&& f) {
  const std::int64_t n = v.voxelsPerChannel() * v.channels();
  switch (v.pixelType()) {
    case PixelType::UInt8: return f(v.data<std::uint8_t>(), n);
    case PixelType::Int16: return f(v.data<std::int16_t>(), n);
    case PixelType::Float32: break;
  }
  return f(v.data<float>(), n);
}

}  // namespace al
