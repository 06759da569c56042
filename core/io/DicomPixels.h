#pragma once
// Pixel decoding for DICOM, shared by the single-file and the series readers. The voxel type
// is decided from the header alone (bits stored, sign, rescale), so every slice of a series
// lands in one buffer of one type without a second copy, and values are never clipped.

#include <string>
#include <vector>

#include "image/Volume.h"

class DcmItem;
class DcmFileFormat;

namespace al {

struct DicomPixelLayout {
  int rows = 0, columns = 0, frames = 1, samples = 1;
  bool monochrome1 = false;  // inverted so that higher values are brighter, as MONOCHROME2
  int bitsStored = 16;
  int bitsAllocated = 16;
  bool isSigned = false;
  double slope = 1.0, intercept = 0.0;
  // A Modality LUT Sequence instead of the rescale: real-world value = lut[stored - lutFirst],
  // stored values outside the table clamped to its ends (PS3.3 C.11.1).
  std::vector<double> lut;
  int lutFirst = 0;
  bool ybr422 = false;  // uncompressed YBR_FULL_422: two samples per pixel on disk
  // PALETTE COLOR: one stored sample per pixel, shown as 8-bit RGB through the palette (samples
  // is then 3, the channels the volume gets).
  bool palette = false;
  PixelType type = PixelType::Float32;  // holds every real-world value exactly
  std::string transferSyntax;
};

// Reads the Image Pixel and Modality LUT attributes. Throws FileError naming `path`.
DicomPixelLayout dicomPixelLayout(DcmItem& dataset, const std::string& path);

// Checks, before anything is allocated, that the image the header describes (rows x columns x
// `frames` x samples, in the layout's voxel type) fits the memory budget, and for uncompressed
// pixel data that the file holds the bytes the header implies. Throws FileError naming the
// file, the claimed size and the limit.
void checkDicomPixelSize(DcmItem& dataset, const std::string& path, const DicomPixelLayout& layout, std::int64_t frames,
                         const std::string& transferSyntaxUid);

// The wider of two voxel types (so that a series whose slices differ needs no clipping).
PixelType widerPixelType(PixelType a, PixelType b);

// Decodes every frame of `file` into `out` (rows x columns, channels = samples), frame f into
// slice sliceOfFrame[f]. Throws FileError naming `path` (unsupported transfer syntax, missing or
// short pixel data).
void decodeDicomPixels(DcmFileFormat& file, const std::string& path, const DicomPixelLayout& layout, Volume& out,
                       const std::vector<std::int64_t>& sliceOfFrame);

// The transfer syntax as the file's meta header states it (DCMTK may not know it), and its name.
std::string transferSyntaxUid(DcmFileFormat& file);
std::string transferSyntaxName(const std::string& uid);

// Patient, study and series attributes into `m` (the transfer syntax is the caller's: it
// comes from the file's meta header, see transferSyntaxName).
void readDicomMetadata(DcmItem& dataset, VolumeMetadata& m);

}  // namespace al
