#pragma once
// What an exported report says: the patient and study, each model run (the model, how it was
// trained and validated, the score against its threshold in plain words), the key images, the
// user's annotations and measurements, the user's comment. Plain C++, no Qt: the PDF
// (ui/report) and the DICOM objects (DicomExport) are both rendered from one Report, so they
// always agree, and both follow the same anonymisation.

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "image/Volume.h"
#include "inference/ScanAnalysis.h"
#include "models/ModelFile.h"
#include "report/Anonymiser.h"
#include "session/Session.h"

namespace al::report {

inline constexpr const char* kInvestigationalUse =
    "Investigational use only: not a medical device, not for diagnosis. The scores and maps show where "
    "the image differs from the healthy images the model learned from; they are not findings.";

// One model's run on the scan, as the report states it.
struct ModelRun {
  const models::ModelCard* card = nullptr;             // not owned
  const inference::ScanAnalysis* analysis = nullptr;   // not owned; its first map is the one exported
};

struct ModelRunSummary {
  std::string modelName;
  std::string kind;          // "f-AnoGAN", ...
  std::string configName;    // "lite"
  std::string version;       // "created 2026-11-20T..., LibTorch 1.13.0"
  std::string trainingData;  // "28 healthy cases (1372 images), 900 iterations on cpu"
  std::optional<double> validationAuc;
  std::optional<double> threshold;
  std::string thresholdMethod;
  double scanScore = 0;
  int scoredImages = 0, imagesAbove = 0;
  std::string reading;       // "above the healthy range", in plain words
  std::string mapName;       // the map exported and drawn on the key images
  inference::ScanAnalysis::Range mapRange;
  // The image-level ROC when the scan has labels (a lesion mask or the user's marks).
  std::vector<std::pair<double, double>> roc;  // (fpr, tpr)
  std::optional<double> rocAuc;
  std::optional<std::pair<double, double>> operatingPoint;
};

// "above the healthy range (score 1.84, threshold 1.20)"; "within the healthy range (...)";
// without a threshold, that the score cannot be read against one. A score equal to the threshold
// is above it, as everywhere (ScanAnalysis::sliceAbove, eval::confusionAt).
std::string plainReading(double score, std::optional<double> threshold);

struct KeyImage {
  int slice = 0;
  double score = 0;          // NaN when not scored
  bool topScoring = false;
  bool flagged = false;      // the user flagged it
  bool annotated = false;    // the user measured or outlined something on it
};

// The key images a report proposes: the `top` highest-scoring slices of the first run and every
// slice the user flagged or annotated, in slice order.
std::vector<KeyImage> proposeKeyImages(const inference::ScanAnalysis* analysis, const std::vector<Annotation>& annotations,
                                       int top = 3);

struct Measurement {
  int slice = 0;
  std::string kind;   // "distance", "region", "flag"
  std::string text;   // describe(): "distance 3.21 mm", ...
  std::string note;
  std::optional<double> lengthMm, areaMm2, mean, mapMean;
  Annotation annotation;  // what was measured (a copy: a Report may be copied freely)
};

struct Report {
  VolumeMetadata source;     // as exported: anonymised when chosen
  std::string scanLabel;     // file or series name (empty when anonymised)
  std::vector<ModelRun> runs;
  std::vector<ModelRunSummary> summaries;  // one per run
  std::vector<KeyImage> keyImages;
  std::vector<Annotation> annotations;     // the user's, on this scan
  std::vector<Measurement> measurements;   // one per annotation
  std::vector<std::pair<int, int>> sliceLabels;  // the user's marks (slice, 1 abnormal / 0 normal)
  std::string comment;
  std::string created;       // ISO 8601 UTC (empty time when dates are not kept)
  std::string software;      // "AnomalyLens 0.x"
  std::string anonymisation; // how it was de-identified, or empty
};

struct ReportRequest {
  const Volume* scan = nullptr;
  std::vector<ModelRun> runs;
  std::vector<Annotation> annotations;
  std::map<int, int> sliceLabels;
  std::optional<std::vector<int>> keySlices;  // the user's choice (may be none); unset: proposeKeyImages
  std::string comment;
  std::string scanLabel;
};

// Throws al::Error when there is no scan, a run without its card or analysis or for another
// scan, or an annotation or key image on a slice the scan does not have.
Report buildReport(const ReportRequest& request, const Anonymiser& anonymiser);

ModelRunSummary summariseRun(const models::ModelCard& card, const inference::ScanAnalysis& analysis,
                             const std::map<int, int>& userLabels = {});

// The display window of a scan's channel: its 0.5th to 99.5th percentile (what the viewer and
// the overlays use, so that key images look as they did on screen).
std::pair<double, double> displayWindow(const Volume& scan, int channel);

// The report as JSON (report.json beside the PDF and the DICOM objects): what tests and scripts
// read without parsing a PDF.
nlohmann::json toJson(const Report& report);

}  // namespace al::report
