#pragma once
// Writes a volume as a folder of 8-bit PNG slices (slice_000.png, ...), one per z index: the
// "folder of B-scan images" form many OCT tools exchange. uint8 voxels are written as they are
// (mask labels stay labels); other types are scaled from the volume's value range to 0..255.

#include <string>
#include <vector>

#include "image/Volume.h"

namespace al {

// Returns the files written, in slice order. Throws FileError.
std::vector<std::string> writePngStack(const Volume& volume, const std::string& folder, int channel = 0,
                                       const std::string& prefix = "slice_");

// One 8-bit RGB image (rows top to bottom, rgb interleaved), written atomically. Throws FileError.
void writeRgbPng(const std::string& path, int width, int height, const std::vector<unsigned char>& rgb);

}  // namespace al
