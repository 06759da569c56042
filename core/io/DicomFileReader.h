#pragma once
// One DICOM file (single- or multi-frame) through DCMTK, with the JPEG, JPEG-LS and RLE
// decoders registered. Series assembly from many files is the DICOM series reader's job.

#include "io/VolumeReader.h"

namespace al {

class DicomFileReader final : public VolumeReader {
 public:
  std::string formatName() const override { return "DICOM"; }
  bool canRead(const FileHead& head) const override;
  Volume read(const std::string& path) const override;
};

// Registers DCMTK's decoders and quiets its console logger. Idempotent and thread-safe.
void initDcmtk();

// Whether DCMTK's own JPEG-LS codec may be called in this process (see DicomFileReader.cpp).
bool dcmtkJpegLsIsSafe();

}  // namespace al
