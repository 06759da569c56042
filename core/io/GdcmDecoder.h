#pragma once
// JPEG 2000 DICOM: DCMTK's free build has no JPEG 2000 codec, so these files are decoded with
// GDCM (OpenJPEG) through ITK's GDCMImageIO, into the buffer and type DCMTK's layout chose.

#include <string>

#include "image/Volume.h"
#include "io/DicomPixels.h"

namespace al {

bool isJpeg2000TransferSyntax(const std::string& uid);

// Decodes all frames of `path` into `out` (size and channels as the layout says), slices in
// file order. Throws FileError naming the file.
void decodeWithGdcm(const std::string& path, const DicomPixelLayout& layout, Volume& out);

}  // namespace al
