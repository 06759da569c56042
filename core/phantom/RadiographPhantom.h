#pragma once
// A synthetic chest radiograph with known lesions, and sets of them on disk as DICOM CR/DX
// files: the test data for the radiograph pipeline and the single-channel GANs on 2D X-ray.
// Attenuation is built up along each ray from a body outline, two lungs (little attenuation:
// dark), the mediastinum and heart (bright), ribs, the spine and the diaphragm domes; lesions
// are round opacities (nodules) or a patch of consolidation in a lung. Detector noise and a
// per-image exposure and size vary from image to image, as real exposures do.

#include <cstdint>
#include <string>
#include <vector>

#include "image/Volume.h"

namespace al {

struct RadiographPhantomOptions {
  int width = 200;       // columns; each image's own aspect ratio varies around it
  int height = 240;      // rows
  double pixelMm = 1.6;  // detector pixel
  std::uint64_t seed = 1;
  int nodules = 0;           // round opacities
  int consolidations = 0;    // larger, irregular opacity
  double noise = 0.02;
};

struct RadiographPhantom {
  Volume image;  // int16 [1, 1, H, W], 12-bit values, higher = more attenuation (MONOCHROME2)
  Volume mask;   // uint8, 1 on lesions
  bool anomalous() const { return mask.valueRange().max > 0; }
};

RadiographPhantom makeRadiographPhantom(const RadiographPhantomOptions& options);

struct RadiographStudyRequest {
  std::string outDir;
  int healthy = 4;
  int anomalous = 2;
  std::uint64_t seed = 1;
  std::string modality = "CR";  // CR or DX
  bool monochrome1 = false;     // store inverted with MONOCHROME1 (as many CR systems do)
  int width = 200, height = 240;
};

// Writes one DICOM file per image (CASE.dcm), its lesion mask (CASE_mask.nii.gz) and a
// manifest.csv (file, label, mask, split; splits as the other phantoms'). Returns the folder.
std::string writeRadiographStudies(const RadiographStudyRequest& request);

// One radiograph as a DICOM CR (or DX) file; `monochrome1` stores the inverted values with that
// photometric interpretation. Throws FileError.
void writeRadiographDicom(const Volume& image, const std::string& path, const std::string& modality, bool monochrome1);

}  // namespace al
