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
  bool isSigned = false;
  double slope = 1.0, intercept = 0.0;
  PixelType type = PixelType::Float32;  // holds every real-world value exactly
  std::string transferSyntax;
};

// Reads the Image Pixel and Modality LUT attributes. Throws FileError naming `path`.
DicomPixelLayout dicomPixelLayout(DcmItem& dataset, const std::string& path);

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
