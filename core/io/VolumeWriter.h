#pragma once
// Writes a Volume as NIfTI (.nii, .nii.gz), MetaImage (.mha) or NRRD (.nrrd), chosen by
// the extension; multi-channel volumes become 4D files. Atomic: temp file, then rename.

#include <string>

#include "image/Volume.h"

namespace al {

void writeVolume(const Volume& volume, const std::string& path);  // throws FileError

}  // namespace al
