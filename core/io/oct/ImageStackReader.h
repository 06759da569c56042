#pragma once
// A folder of 2D images (PNG, TIFF, JPEG, BMP) as one volume: the "folder of B-scans" form in
// which many OCT devices and data sets exchange scans. Slices are ordered by their file names
// in natural order (B2 before B10), the only order such a folder has.

#include <string>
#include <vector>

#include "image/Volume.h"

namespace al {

// The image files of `folder` (not recursive), in natural order.
std::vector<std::string> imageStackFiles(const std::string& folder);

// Throws FileError naming the folder, or the file that does not fit (another size, unreadable).
Volume readImageStack(const std::string& folder);

// "B2" < "B10": digit runs compare as numbers.
bool naturalLess(const std::string& a, const std::string& b);

}  // namespace al
