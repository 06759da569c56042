#pragma once
// NIfTI-1/-2 (and Analyze), MetaImage and NRRD through ITK's ImageIO classes.

#include "io/VolumeReader.h"

namespace al {

class ItkVolumeReader final : public VolumeReader {
 public:
  std::string formatName() const override { return "ITK (NIfTI, MetaImage, NRRD)"; }
  bool canRead(const FileHead& head) const override;
  Volume read(const std::string& path) const override;
};

}  // namespace al
