#include "training/Pipeline.h"

#include <algorithm>
#include <cstring>

#include "errors/Error.h"
#include "io/VolumeReader.h"
#include "io/mri/MriContrasts.h"
#include "preprocess/MriPrepare.h"
#include "preprocess/OctFlatten.h"

namespace al::training {
namespace {

// Per image of a [1, Z, Y, X] label volume: the number of nonzero voxels (inside `within`).
std::vector<long> lesionPixelsPerSlice(const Volume& labels, const Volume* within) {
  const Size3 s = labels.size();
  std::vector<long> out(static_cast<std::size_t>(s.z), 0);
  for (std::int64_t z = 0; z < s.z; ++z)
    for (std::int64_t y = 0; y < s.y; ++y)
      for (std::int64_t x = 0; x < s.x; ++x)
        if (labels.value(x, y, z) > 0 && (!within || within->value(x, y, z) > 0)) ++out[static_cast<std::size_t>(z)];
  return out;
}

int sliceLabel(long lesionPixels, int minPixels) {
  if (lesionPixels >= minPixels) return 1;
  return lesionPixels == 0 ? 0 : -1;
}

Volume readLabels(const std::string& path, const Size3& expected, const std::string& what) {
  Volume v = readVolume(path);
  if (!(v.size() == expected))
    throw FileError(path, what + " is " + std::to_string(v.size().x) + "x" + std::to_string(v.size().y) + "x" +
                              std::to_string(v.size().z) + ", the scan " + std::to_string(expected.x) + "x" +
                              std::to_string(expected.y) + "x" + std::to_string(expected.z));
  return v;
}

// The channels of `scan` holding the contrasts `wanted` names, in that order (matched as MRI
// contrast names, so "t1ce", "T1c" and "T1-Gd" agree). Throws naming the missing contrast.
std::vector<int> contrastChannels(const Volume& scan, const std::vector<std::string>& wanted, const std::string& source) {
  std::vector<int> pick;
  std::string have;
  for (const auto& n : scan.channelNames()) have += (have.empty() ? "" : ", ") + n;
  for (const auto& name : wanted) {
    const MriContrast c = parseMriContrast(name);
    int found = -1;
    for (int i = 0; i < scan.channels(); ++i)
      if (i < static_cast<int>(scan.channelNames().size()) && parseMriContrast(scan.channelNames()[static_cast<std::size_t>(i)]) == c) found = i;
    if (found < 0) throw Error(source, "no " + name + " contrast (found: " + (have.empty() ? "unnamed channels" : have) + ")");
    pick.push_back(found);
  }
  return pick;
}

// The contrasts of `scan` in the order `wanted` names them.
Volume orderContrasts(const Volume& scan, const std::vector<std::string>& wanted, const std::string& source) {
  const std::vector<int> pick = contrastChannels(scan, wanted, source);
  Volume out(PixelType::Float32, scan.size(), static_cast<int>(pick.size()));
  out.setSpacing(scan.spacing());
  out.setOrigin(scan.origin());
  out.setDirection(scan.direction());
  out.setChannelNames(wanted);
  out.metadata() = scan.metadata();
  float* dst = out.data<float>();
  const std::int64_t n = scan.voxelsPerChannel();
  visitVoxels(scan, [&](const auto* p, std::int64_t) {
    for (std::size_t k = 0; k < pick.size(); ++k)
      for (std::int64_t i = 0; i < n; ++i) dst[static_cast<std::int64_t>(k) * n + i] = static_cast<float>(p[pick[k] * n + i]);
  });
  return out;
}

}  // namespace

Pipeline Pipeline::forInput(const models::InputSpec& spec, const nlohmann::json& options) {
  Pipeline p;
  const bool mri = spec.modality == "MR" || spec.channels > 1 || spec.zScored;
  p.modality_ = mri ? Modality::Mri : Modality::Oct;
  p.contrasts_ = spec.channelNames;
  p.oct_ = OctFlattenOptions{}.toJson();
  MriPrepareOptions m;
  m.size = spec.height;
  p.mri_ = m.toJson();
  const nlohmann::json& o = options.is_object() ? options : nlohmann::json::object();
  if (o.contains("oct")) p.oct_.update(o["oct"]);
  if (o.contains("mri")) p.mri_.update(o["mri"]);
  p.minLesionPixels_ = o.value("min_lesion_pixels", p.minLesionPixels_);
  return p;
}

Pipeline Pipeline::fromJson(const nlohmann::json& j, const models::InputSpec& spec) {
  Pipeline p = forInput(spec, j);
  if (j.contains("modality")) p.modality_ = j["modality"] == "MR" ? Modality::Mri : Modality::Oct;
  return p;
}

nlohmann::json Pipeline::toJson() const {
  nlohmann::json j = {{"modality", modality_ == Modality::Mri ? "MR" : "OCT"},
                      {"min_lesion_pixels", minLesionPixels_}};
  if (modality_ == Modality::Oct) {
    j["oct"] = oct_;
    j["steps"] = "intensity percentiles to [-1, 1] per volume; ILM/RPE detection; flattening on a robust quadratic "
                 "fit of the RPE; resampling to fixed pixel sizes";
  } else {
    j["mri"] = mri_;
    j["contrasts"] = contrasts_;
    j["steps"] = "contrasts matched by name and co-registered; brain mask; z-score per contrast over the brain "
                 "volume; axial slices cropped to the brain and resized";
  }
  return j;
}

Volume Pipeline::readScan(const DataCase& c) const {
  const std::string source = c.image.empty() ? c.id : c.image;
  Volume scan;
  if (modality_ == Modality::Mri) {
    if (!c.contrasts.empty()) {
      std::vector<Volume> vols;
      std::vector<std::string> names;
      for (const auto& [name, path] : c.contrasts) {
        vols.push_back(readVolume(path));
        names.push_back(mriContrastName(parseMriContrast(name)) == std::string("unknown") ? name
                                                                                          : mriContrastName(parseMriContrast(name)));
      }
      scan = coregisterContrasts(vols, names, 0);
    } else {
      scan = loadContrastSet(c.image);
    }
    scan.metadata().sourcePath = source;
  } else {
    scan = readVolume(c.image);
  }
  return scan;
}

void Pipeline::checkScan(const Volume& scan, const std::string& source) const {
  const std::string& modality = scan.metadata().modality;
  if (modality_ == Modality::Mri) {
    if (!modality.empty() && modality != "MR")
      throw Error(source, "is a " + modality + " scan: this model takes MRI contrasts");
    (void)contrastChannels(scan, contrasts_, source);  // names only: no copy of the volume
    return;
  }
  if (scan.channels() > 1)
    throw Error(source, "has " + std::to_string(scan.channels()) +
                            " channels (contrasts): this model takes single-channel OCT B-scans");
  if (!modality.empty() && modality != "OPT" && modality != "OCT" && modality != "OT")
    throw Error(source, "is a " + modality + " scan: this model takes OCT B-scans");
}

Volume readCaseLabels(const std::string& path, const Size3& expected, const std::string& what) {
  return readLabels(path, expected, what);
}

Prepared Pipeline::prepare(const DataCase& c, bool keepScan) const {
  Volume scan = readScan(c);
  std::optional<Volume> lesions, brain;
  if (!c.mask.empty()) lesions = readLabels(c.mask, scan.size(), "the lesion mask");
  if (!c.brainMask.empty()) brain = readLabels(c.brainMask, scan.size(), "the brain mask");
  Prepared p = prepare(scan, lesions ? &*lesions : nullptr, brain ? &*brain : nullptr, c.id);
  p.caseLabel = c.label;
  if (keepScan) p.displayScan = std::move(scan);
  if (!lesions) {  // no mask: a healthy case's images are all healthy; others are not counted
    std::fill(p.sliceLabels.begin(), p.sliceLabels.end(), c.label == 0 ? 0 : -1);
  }
  return p;
}

Prepared Pipeline::prepare(const Volume& scan, const Volume* lesionMask, const Volume* brainMask,
                           const std::string& id) const {
  Prepared p;
  p.id = id;
  p.scanSize = scan.size();
  p.scanSpacing = scan.spacing();
  p.scanOrigin = scan.origin();
  p.scanDirection = scan.direction();
  const std::string source = scan.metadata().sourcePath.empty() ? id : scan.metadata().sourcePath;
  if (modality_ == Modality::Oct) {
    auto flat = std::make_shared<OctFlattened>(flattenOct(scan, OctFlattenOptions::fromJson(oct_)));
    p.images = std::move(flat->band);
    p.valid = flat->retina;
    p.warnings = flat->warnings;
    for (std::int64_t z = 0; z < scan.size().z; ++z) p.sliceIndex.push_back(static_cast<int>(z));
    if (lesionMask) {
      p.lesions = flattenOctLabels(*flat, *lesionMask);
      for (long n : lesionPixelsPerSlice(*lesionMask, nullptr)) p.sliceLabels.push_back(sliceLabel(n, minLesionPixels_));
    } else {
      p.sliceLabels.assign(static_cast<std::size_t>(scan.size().z), -1);
    }
    flat->band = Volume();
    p.oct = std::move(flat);
    return p;
  }
  const Volume contrasts = orderContrasts(scan, contrasts_, source);
  std::optional<Volume> estimated;
  if (!brainMask) {
    estimated = estimateBrainMask(contrasts);
    p.warnings.insert(p.warnings.end(), estimated->metadata().warnings.begin(), estimated->metadata().warnings.end());
    brainMask = &*estimated;
  }
  auto prep = std::make_shared<MriPrepared>(prepareMri(contrasts, brainMask, MriPrepareOptions::fromJson(mri_)));
  p.images = std::move(prep->slices);
  p.valid = std::move(prep->brain);
  p.sliceIndex = prep->sliceIndex;
  p.brainMask = *brainMask;
  if (lesionMask) {
    p.lesions = prepareMriLabels(*prep, *lesionMask);
    const auto counts = lesionPixelsPerSlice(*lesionMask, brainMask);
    for (int z : p.sliceIndex) p.sliceLabels.push_back(sliceLabel(counts[static_cast<std::size_t>(z)], minLesionPixels_));
  } else {
    p.sliceLabels.assign(p.sliceIndex.size(), -1);
  }
  p.mri = std::move(prep);
  return p;
}

Volume Pipeline::toScan(const Prepared& p, const Volume& map) const {
  if (p.oct) return unflattenOct(*p.oct, map);
  if (p.mri) return unprepareMri(*p.mri, map, p.brainMask ? &*p.brainMask : nullptr);
  throw Error(p.id, "no geometry to map back to");
}

Volume selectImages(const Volume& images, const std::vector<int>& indices) {
  const Size3 s = images.size();
  Volume out(images.pixelType(), {s.x, s.y, static_cast<std::int64_t>(indices.size())}, images.channels());
  out.setChannelNames(images.channelNames());
  out.setSpacing(images.spacing());
  const std::size_t plane = static_cast<std::size_t>(s.x * s.y) * pixelTypeSize(images.pixelType());
  for (int c = 0; c < images.channels(); ++c)
    for (std::size_t k = 0; k < indices.size(); ++k)
      std::memcpy(out.bytes() + (static_cast<std::size_t>(c) * indices.size() + k) * plane,
                  images.bytes() + (static_cast<std::size_t>(c) * static_cast<std::size_t>(s.z) + static_cast<std::size_t>(indices[k])) * plane,
                  plane);
  return out;
}

}  // namespace al::training
