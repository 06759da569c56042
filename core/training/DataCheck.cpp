#include "training/DataCheck.h"

#include <algorithm>
#include <cmath>

#include "errors/Error.h"
#include "models/AnomalyModel.h"
#include "training/DataSet.h"

namespace al::training {

std::string roleName(DataRole role) {
  switch (role) {
    case DataRole::Healthy: return "healthy training data";
    case DataRole::Mixed: return "the mixed (unlabelled) set";
    case DataRole::Validation: return "validation data";
    case DataRole::Test: return "test data";
  }
  return "data";
}

namespace {

// The middle image of channel 0, shrunk by block averaging and stretched over its 1st-99th
// percentiles, so dark OCT and bright CT both show.
Volume thumbnail(const Volume& scan) {
  const Size3 s = scan.size();
  const std::int64_t z = s.z / 2;
  const int step = static_cast<int>(std::max<std::int64_t>(1, (std::max(s.x, s.y) + 127) / 128));
  const int w = static_cast<int>(s.x / step), h = static_cast<int>(s.y / step);
  Volume out(PixelType::Float32, {std::max(1, w), std::max(1, h), 1}, 1);
  float* o = out.data<float>();
  std::vector<float> vals;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      double acc = 0;
      for (int j = 0; j < step; ++j)
        for (int i = 0; i < step; ++i) acc += scan.value(x * step + i, y * step + j, z);
      o[y * w + x] = static_cast<float>(acc / (step * step));
      vals.push_back(o[y * w + x]);
    }
  if (vals.empty()) return out;
  std::sort(vals.begin(), vals.end());
  const float lo = vals[vals.size() / 100], hi = vals[vals.size() * 99 / 100];
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(w) * h; ++i)
    o[i] = hi > lo ? std::clamp((o[i] - lo) / (hi - lo), 0.f, 1.f) : 0.f;
  return out;
}

}  // namespace

std::string splitFor(DataRole role) {
  switch (role) {
    case DataRole::Healthy: return "train";
    case DataRole::Validation: return "val";
    case DataRole::Test: return "test";
    case DataRole::Mixed: return "";  // unlabelled by design: every case, whatever its split
  }
  return "";
}

int defaultLabelFor(DataRole role) { return role == DataRole::Healthy ? 0 : -1; }

DataReport checkTrainingData(const std::string& source, DataRole role, const Pipeline& pipeline,
                             const DataCheckOptions& options) {
  if (source.empty()) {
    DataReport r;
    r.role = role;
    r.problems.push_back("no " + roleName(role) + " chosen");
    return r;
  }
  DataSet ds;
  try {
    ds = openDataSet(source, splitFor(role), defaultLabelFor(role));
  } catch (const Error& e) {
    DataReport r;
    r.source = source;
    r.role = role;
    r.problems.push_back(e.what());
    return r;
  }
  return checkTrainingData(ds, role, pipeline, options);
}

DataReport checkTrainingData(const DataSet& data, DataRole role, const Pipeline& pipeline, const DataCheckOptions& options) {
  DataReport r;
  // Healthy training data from an image-labelled set: its healthy class only, as the engine takes it.
  DataSet healthyOnly;
  if (role == DataRole::Healthy) {
    healthyOnly = data;
    for (const auto& [name, n] : keepHealthyImages(healthyOnly))
      r.notes.push_back(std::to_string(n) + " image(s) of class " + name + " left out: a model of healthy scans learns from the healthy class only");
    if (healthyOnly.cases.empty() && !data.cases.empty())
      r.problems.push_back(data.source + ": no images of the healthy class (" + kDefaultHealthyClass + " unless named otherwise)");
  }
  const DataSet& ds = role == DataRole::Healthy ? healthyOnly : data;
  r.source = ds.source;
  r.role = role;
  const std::string& source = ds.source;
  r.cases = static_cast<int>(ds.cases.size());
  int healthyImages = 0;
  for (std::size_t i = 0; i < ds.cases.size(); ++i) {
    if (options.progress && !options.progress(static_cast<int>(i), r.cases)) throw models::Cancelled();
    const DataCase& c = ds.cases[i];
    const std::string where = c.image.empty() ? c.id : c.image;
    (c.label == 0 ? r.healthyCases : c.label == 1 ? r.abnormalCases : r.unlabelledCases)++;
    if (!c.mask.empty()) ++r.casesWithMasks;
    if (role == DataRole::Healthy && c.label == 1 && c.mask.empty()) {
      r.problems.push_back(where + ": labelled abnormal and has no lesion mask: it cannot train a model of healthy scans");
      continue;
    }
    if (pipeline.modality() == Modality::Oct && !c.contrasts.empty()) {
      r.problems.push_back(where + ": a set of " + std::to_string(c.contrasts.size()) +
                           " MRI contrasts (channels): this model takes single-channel OCT B-scans");
      continue;
    }
    try {
      const Volume scan = pipeline.readScan(c);
      pipeline.checkScan(scan, where);
      if (!c.mask.empty()) (void)readCaseLabels(c.mask, scan.size(), "the lesion mask");
      if (!c.brainMask.empty()) (void)readCaseLabels(c.brainMask, scan.size(), "the brain mask");
      const int n = static_cast<int>(scan.size().z);
      r.images += n;
      if (c.label == 0) healthyImages += n;
      if (static_cast<int>(r.thumbnails.size()) < options.thumbnails) r.thumbnails.push_back({c.id, thumbnail(scan)});
    } catch (const models::Cancelled&) {
      throw;
    } catch (const Error& e) {
      r.problems.push_back(e.what());
    } catch (const std::exception& e) {
      r.problems.push_back(where + ": " + e.what());
    }
  }
  if (options.progress) options.progress(r.cases, r.cases);
  if (!r.problems.empty()) return r;

  const bool trainingSet = role == DataRole::Healthy || role == DataRole::Mixed;
  if (trainingSet && r.images < options.minImages)
    r.problems.push_back(source + ": " + std::to_string(r.images) + " images; training needs at least " +
                         std::to_string(options.minImages));
  if (role == DataRole::Validation || role == DataRole::Test) {
    if (healthyImages == 0 && r.casesWithMasks == 0)
      r.problems.push_back(source + ": no healthy " + (role == DataRole::Test ? "test" : "validation") +
                           " images (label 0, or a lesion mask to find the healthy slices): a threshold needs them");
    else if (r.abnormalCases == 0 && r.casesWithMasks == 0)
      r.notes.push_back("healthy images only: the threshold will be a percentile of the healthy scores, and no AUC can be measured");
    if (r.unlabelledCases > r.casesWithMasks)
      r.notes.push_back("cases without a label or mask are left out of the metrics");
  }
  if (role == DataRole::Healthy && r.images < 200)
    r.notes.push_back("few images (" + std::to_string(r.images) + "): a model of healthy anatomy usually needs hundreds");
  return r;
}

}  // namespace al::training
