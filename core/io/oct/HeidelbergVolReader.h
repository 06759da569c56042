#pragma once
// Heidelberg Engineering Spectralis ".vol" raw export, implemented from the format's published
// layout: a 2048-byte file header, the SLO fundus image (uint8), then per B-scan a header (its
// position on the fundus, the layer segmentation lines) followed by SizeX x SizeZ float32
// intensities. Every size is checked against the bytes present before anything is allocated.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "image/Volume.h"
#include "io/VolumeReader.h"

namespace al {

struct OctBScanInfo {
  double startXMm = 0, startYMm = 0, endXMm = 0, endYMm = 0;  // the B-scan's line on the fundus image
  float quality = 0;
};

struct OctLayer {
  std::string name;  // "ILM", "BM", "RNFL", ... or "layer N"
  // One depth (pixels from the top of the B-scan) per A-scan and B-scan: [bscan][ascan];
  // NaN where the device marked the position invalid.
  std::vector<std::vector<float>> depth;
};

struct OctStudy {
  Volume bscans;  // uint8, x = A-scan, y = depth, z = B-scan
  Volume fundus;  // uint8 SLO / en-face image (empty when the file has none)
  std::vector<OctBScanInfo> bscanInfo;
  std::vector<OctLayer> layers;
};

// Parses a .vol file held in memory; `name` is used in error messages. Throws FileError.
OctStudy parseHeidelbergVol(const std::uint8_t* data, std::size_t size, const std::string& name);
OctStudy readHeidelbergVol(const std::string& path);

class HeidelbergVolReader final : public VolumeReader {
 public:
  std::string formatName() const override { return "Heidelberg .vol"; }
  bool canRead(const FileHead& head) const override;
  Volume read(const std::string& path) const override { return readHeidelbergVol(path).bscans; }
};

}  // namespace al
