#pragma once
// A model run on one scan, from the scan as read to maps on the scan's own grid: what the
// viewer's models panel and the CLI's `infer` both call. The model's card says how to prepare
// the scan (training::Pipeline), how the model was scored when it was trained (its sliding-window
// overlap) and what its healthy range is, so the overlays' colours mean the same in every
// patient.

#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "image/Volume.h"
#include "models/ModelFile.h"

namespace al::inference {

struct ScanAnalysisOptions {
  const Volume* lesionMask = nullptr;  // labels the slices (ROC) when given
  const Volume* brainMask = nullptr;   // MRI: otherwise estimated
  // Progress in [0, 1] with what is being done; return false to cancel (analyseScan then
  // throws models::Cancelled).
  std::function<bool(double fraction, const std::string& stage)> progress;
};

struct ScanAnalysis {
  std::string modelName;
  std::string modelKind;                 // "fanogan", ...
  std::vector<std::string> mapNames;     // the model's maps present here, the overlay default first
  std::map<std::string, Volume> maps;    // each [1, Z, Y, X] float32 on the scan's grid, 0 unscored
  // Per slice of the scan (Z entries): the image score, NaN where the slice was not scored (an
  // MRI slice without brain).
  std::vector<double> sliceScores;
  // Per slice: 1 abnormal, 0 healthy, -1 not counted (from the lesion mask); empty without one.
  std::vector<int> sliceLabels;
  double scanScore = -std::numeric_limits<double>::infinity();  // the highest slice score
  std::optional<double> threshold;      // the card's
  std::string thresholdMethod;
  // Per map: the colour range calibrated to the model's healthy data where the card has it
  // (the first map), else the map's own robust range; `calibrated` says which.
  struct Range {
    double lo = 0, hi = 1;
    bool calibrated = false;
  };
  std::map<std::string, Range> ranges;
  // With a lesion mask: what a reader sees of the findings on the first map at its colour range
  // (coloured = above `ranges[first].lo`, the healthy 99th percentile when calibrated), over the
  // tissue the model scores (retina, brain), and how the slice flags match the lesion slices.
  struct Findings {
    double colourFrom = 0;                        // the map value where colour starts
    long lesionVoxels = 0, lesionColoured = 0;    // lesion voxels inside the scored tissue
    long healthyVoxels = 0, healthyColoured = 0;  // the other scored tissue voxels
    int flagged = 0, flaggedWithLesion = 0, lesionSlices = 0;  // counted slices (label 0 or 1)
    double lesionFraction() const { return lesionVoxels ? static_cast<double>(lesionColoured) / lesionVoxels : 0; }
    double healthyFraction() const { return healthyVoxels ? static_cast<double>(healthyColoured) / healthyVoxels : 0; }
    double flagPrecision() const { return flagged ? static_cast<double>(flaggedWithLesion) / flagged : 0; }
    double flagRecall() const { return lesionSlices ? static_cast<double>(flaggedWithLesion) / lesionSlices : 0; }
  };
  std::optional<Findings> findings;
  std::vector<std::string> warnings;
  double seconds = 0;                    // wall time of the run

  bool sliceAbove(int z) const;          // false when unscored or without a threshold
  std::vector<int> slicesAbove() const;
};

// Throws al::Error naming the scan or the model and the reason (a model for MRI contrasts on a
// one-channel scan, ...), models::Cancelled when progress returned false.
ScanAnalysis analyseScan(const models::LoadedModel& model, const Volume& scan, const ScanAnalysisOptions& options = {});

// The colour range of a map: from the card's healthy calibration when it has one and this is the
// model's first map (the one calibrated: colour starts at the healthy 99th percentile), else
// from this map's own percentiles (90th to 99.9th of its nonzero values).
ScanAnalysis::Range calibratedMapRange(const models::ModelCard& card, bool firstMap, const Volume& map);

// The card's training specification (window overlap, evaluation sample), or an empty object.
const nlohmann::json& trainedSpec(const models::ModelCard& card);

// The lesion mask and brain mask a manifest (manifest.json or manifest.csv in the scan's folder
// or the one above) gives for this scan, or that a BraTS-style folder holds (_seg, _brainmask);
// empty strings when there are none. Image labels likewise: a manifest's per-image labels, or
// the class of a B-scan file in a class-folder data set (ROOT/test/CNV/x.jpeg).
struct CaseMasks {
  std::string lesionMask;
  std::string brainMask;
  std::map<int, int> imageLabels;  // B-scan / slice -> 0 healthy, 1 abnormal, from image labels
};
CaseMasks masksFor(const std::string& scanPath);

// Whether the model can take this scan: "" when it can, else why not (for a disabled Run).
std::string compatibility(const models::ModelCard& card, const Volume& scan);

}  // namespace al::inference
