#pragma once
// Checks a training, mixed, validation or test data source before any training starts: every
// case is read, its scan checked against the model's pipeline (modality, contrasts) and its
// masks against the scan's grid; images and labels are counted, and a few thumbnails made. The
// training wizard's Data page shows the report; data it refuses never reaches the engine, which
// would otherwise fail on it hours into a run.

#include <functional>
#include <string>
#include <vector>

#include "image/Volume.h"
#include "training/DataSet.h"
#include "training/Pipeline.h"

namespace al::training {

enum class DataRole { Healthy, Mixed, Validation, Test };
std::string roleName(DataRole role);  // "healthy training data", ...

struct DataThumbnail {
  std::string id;
  Volume image;  // [1, 1, h, w] float32 in [0, 1]: the middle image, at most 128 pixels a side
};

struct DataReport {
  std::string source;
  DataRole role = DataRole::Healthy;
  int cases = 0;
  int images = 0;  // B-scans / slices over all readable cases
  int healthyCases = 0, abnormalCases = 0, unlabelledCases = 0, casesWithMasks = 0;
  std::vector<std::string> problems;  // each one refuses the data: "<file>: <reason>"
  std::vector<std::string> notes;     // worth knowing, refusing nothing
  std::vector<DataThumbnail> thumbnails;
  bool usable() const { return problems.empty() && cases > 0; }
};

struct DataCheckOptions {
  int minImages = 8;   // fewer usable images refuses the data (healthy and mixed sets)
  int thumbnails = 6;
  // Cases done, cases in all; return false to cancel (throws models::Cancelled).
  std::function<bool(int done, int total)> progress;
};

// The split a role reads from a manifest with splits ("train", "", "val", "test") and the label
// it gives unlabelled cases (0 for healthy training data, else unknown), as the engine reads them.
std::string splitFor(DataRole role);
int defaultLabelFor(DataRole role);

// Opens `source` as the engine would for `role`, then checks its cases.
DataReport checkTrainingData(const std::string& source, DataRole role, const Pipeline& pipeline,
                             const DataCheckOptions& options = {});
// The cases of an already opened data set (e.g. several sources combined).
DataReport checkTrainingData(const DataSet& data, DataRole role, const Pipeline& pipeline,
                             const DataCheckOptions& options = {});

}  // namespace al::training
