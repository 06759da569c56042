#pragma once
// The report as DICOM, for hospital systems: each object a new series of the scan's study that
// references the images it was derived from.
//   - the anomaly map as a Parametric Map (float32 frames, Real World Value Mapping saying what
//     the values are), written with DCMTK's dcmpmap;
//   - the map thresholded at the model's healthy limit as a binary Segmentation (dcmseg);
//   - a Comprehensive SR (dcmsr) with the model, its scores, the threshold, the reading and the
//     user's measurements (lengths and areas with their outlines on the images);
//   - Secondary Capture images of the key images with the overlay burnt in, for PACS viewers that
//     show nothing else.
// When the scan is not DICOM (NIfTI, ...) the objects start a new study of their own.
// Anonymisation follows the report's Anonymiser: the identity the report shows is the identity
// the objects carry.

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "render/Raster.h"
#include "report/Anonymiser.h"
#include "report/Report.h"

namespace al::report {

struct DicomExportOptions {
  bool parametricMap = true;
  bool segmentation = true;
  bool structuredReport = true;
  bool secondaryCapture = true;
  // Asked between objects; true stops the export (ExportCancelled).
  std::function<bool()> cancelled;
};

// An export stopped by DicomExportOptions::cancelled; what it had written is removed.
struct ExportCancelled : std::runtime_error {
  ExportCancelled() : std::runtime_error("export cancelled") {}
};

struct ExportedObject {
  std::string kind;  // "parametric-map", "segmentation", "sr", "secondary-capture"
  std::string path;
  std::string sopClassUid, sopInstanceUid, seriesInstanceUid, studyInstanceUid;
  int frames = 1;
};

// Draws a key image as it is shown (the scan, the overlay, the annotations, a colorbar) into
// RGB; the viewer and the CLI pass their Qt renderer, which writes the colorbar's scale. Without
// one the scan and overlay are drawn with render::overlay (no text).
using KeyImageRenderer = std::function<render::RgbImage(const Report&, const KeyImage&)>;

// Writes the chosen objects into `outDir` (created): pmap.dcm, seg.dcm, sr.dcm, sc_NNN.dcm,
// each atomically; key images left from an earlier export into the same folder are removed. All
// or nothing: on an error or a cancel, the objects already written are removed. `scan` is the
// volume the report is about. The Segmentation is written only when the model's map range is
// calibrated to its healthy data (otherwise there is no healthy limit to segment above).
// Throws al::Error naming the object and the reason, or ExportCancelled.
std::vector<ExportedObject> writeDicomExport(const Report& report, const Volume& scan, const Anonymiser& anonymiser,
                                             const std::string& outDir, const DicomExportOptions& options = {},
                                             const KeyImageRenderer& renderKeyImage = {});

// A Parametric Map read back: the map on its grid (float32, real-world values), the series it
// was derived from, and its label. Throws al::FileError naming the file and the reason.
struct ImportedMap {
  Volume map;
  std::string label;                 // the Content Label / LUT label ("ANOMALY_MAP")
  std::string description;           // Content Description (model and map names)
  std::string referencedSeriesUid;   // the source series, when recorded
  std::string frameOfReferenceUid;
  std::vector<std::string> referencedInstances;  // per frame, the source instance it was derived from
};
bool isParametricMap(const std::string& path);
ImportedMap readParametricMap(const std::string& path);
// A binary or fractional Segmentation read back the same way: its first segment as a map of 0..1
// (fractional values scaled by Maximum Fractional Value).
bool isSegmentation(const std::string& path);
ImportedMap readSegmentation(const std::string& path);

}  // namespace al::report
