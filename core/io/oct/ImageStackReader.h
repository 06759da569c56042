#pragma once
// A folder of 2D images (PNG, TIFF, JPEG, BMP) as one volume: the "folder of B-scans" form in
// which many OCT devices and data sets exchange scans. Slices are ordered by their file names
// in natural order (B2 before B10), the only order such a folder has. One such image file alone
// is a one-B-scan volume: the form of OCT2017, OCTDL and most public OCT sets.

#include <string>
#include <vector>

#include "image/Volume.h"
#include "io/VolumeReader.h"

namespace al {

// The image files of `folder` (not recursive), in natural order.
std::vector<std::string> imageStackFiles(const std::string& folder);

// Throws FileError naming the folder, or the file that does not fit (another size, unreadable).
Volume readImageStack(const std::string& folder);

// One 2D image file as a [1, 1, H, W] volume (uint8, or float32 for 16-bit images); colour
// images become grey. Throws FileError naming the file.
Volume readImageFile(const std::string& path);

// True for the extensions imageStackFiles() takes (.png, .tif, .tiff, .jpg, .jpeg, .bmp).
bool isImageFileName(const std::string& path);

// A single PNG, JPEG, TIFF or BMP file, recognised by its signature.
class ImageFileReader final : public VolumeReader {
 public:
  std::string formatName() const override { return "2D image (PNG, JPEG, TIFF, BMP)"; }
  bool canRead(const FileHead& head) const override;
  Volume read(const std::string& path) const override { return readImageFile(path); }
};

// "B2" < "B10": digit runs compare as numbers.
bool naturalLess(const std::string& a, const std::string& b);

}  // namespace al
