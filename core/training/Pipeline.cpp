#include "training/Pipeline.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <optional>

#include "errors/Error.h"
#include "io/DicomSeriesReader.h"
#include "io/VolumeReader.h"
#include "io/mri/MriContrasts.h"
#include "preprocess/MriPrepare.h"
#include "preprocess/OctFlatten.h"
#include "preprocess/RadiographPrepare.h"

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

// The channels `pick` of `scan`, named `names`.
Volume orderContrasts(const Volume& scan, const std::vector<int>& pick, const std::vector<std::string>& names) {
  Volume out(PixelType::Float32, scan.size(), static_cast<int>(pick.size()));
  out.setSpacing(scan.spacing());
  out.setOrigin(scan.origin());
  out.setDirection(scan.direction());
  out.setChannelNames(names);
  out.metadata() = scan.metadata();
  float* dst = out.data<float>();
  const std::int64_t n = scan.voxelsPerChannel();
  visitVoxels(scan, [&](const auto* p, std::int64_t) {
    for (std::size_t k = 0; k < pick.size(); ++k)
      for (std::int64_t i = 0; i < n; ++i) dst[static_cast<std::int64_t>(k) * n + i] = static_cast<float>(p[pick[k] * n + i]);
  });
  return out;
}

// DICOM modalities of 2D projection radiography (PNG and JPEG say none).
bool isRadiographModality(const std::string& m) {
  return m == "CR" || m == "DX" || m == "DR" || m == "RG" || m == "MG" || m == "PX" || m == "OT";
}

// The DICOM modality a file, series folder or DICOMDIR declares, from headers alone (the wizard
// asks on the GUI thread, so no pixels are decoded); "" for data that are not DICOM (NIfTI,
// PNG) or cannot be read here (preparing the case reports those with the file).
std::string declaredModality(const std::string& path) {
  namespace fs = std::filesystem;
  auto header = [](const std::string& file) -> std::optional<std::string> {
    try {
      return readDicomHeader(file).modality;
    } catch (const std::exception&) {
      return std::nullopt;
    }
  };
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) {
    if (isDicomDir(path)) {
      try {
        const DicomFolderIndex index = indexDicomDir(path);
        return index.series.empty() ? std::string() : index.series.front().modality;
      } catch (const std::exception&) {
        return {};
      }
    }
    return header(path).value_or("");
  }
  // A folder: the first DICOM file among its first few files.
  int tried = 0;
  for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end && tried < 16; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    ++tried;
    if (auto m = header(it->path().string())) return *m;
  }
  return {};
}

std::string upper(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return s;
}

}  // namespace

std::string modalityName(Modality m) {
  switch (m) {
    case Modality::Oct: return "OCT";
    case Modality::Mri: return "MR";
    case Modality::Radiograph: return "CR";
  }
  return "OCT";
}

Modality parseModality(const std::string& name) {
  const std::string u = upper(name);
  if (u == "OCT" || u == "OPT") return Modality::Oct;
  if (u == "MR" || u == "MRI") return Modality::Mri;
  if (u == "CR" || u == "DX" || u == "DR" || u == "RADIOGRAPH" || u == "X-RAY" || u == "XRAY" || u == "CXR")
    return Modality::Radiograph;
  throw Error("modality", "unknown modality \"" + name + "\": use OCT, MR or CR (radiographs: CR, DX, DR)");
}

Pipeline Pipeline::forInput(const models::InputSpec& spec, const nlohmann::json& options) {
  Pipeline p;
  const nlohmann::json& o = options.is_object() ? options : nlohmann::json::object();
  const bool multi = spec.modality == "MR" || spec.channels > 1 || spec.zScored;
  p.modality_ = multi ? Modality::Mri : Modality::Oct;
  if (o.contains("modality") && o["modality"].is_string()) {
    const Modality m = parseModality(o["modality"].get<std::string>());
    if (multi && m != Modality::Mri)
      throw Error("preprocessing", "this model takes MRI contrasts; it cannot take " + o["modality"].get<std::string>());
    p.modality_ = m;
  }
  p.contrasts_ = spec.channelNames;
  if (p.contrasts_.empty() && p.modality_ == Modality::Mri && o.contains("contrasts") && o["contrasts"].is_array())
    p.contrasts_ = o["contrasts"].get<std::vector<std::string>>();
  if (spec.channels == 1 && p.contrasts_.size() > 1)
    throw Error("preprocessing", "a one-channel model takes one MRI contrast, not " + std::to_string(p.contrasts_.size()));
  p.unitRange_ = !spec.zScored;
  p.oct_ = OctFlattenOptions{}.toJson();
  MriPrepareOptions m;
  // Whole-image models take the slice at their size; patch models tile a 128-pixel slice (the
  // ADM paper's), or one of twice their patch when that is larger.
  m.size = spec.mode == models::InputMode::WholeImage ? spec.height : std::max(128, 2 * spec.height);
  p.mri_ = m.toJson();
  if (p.unitRange_) p.mri_["z_clip"] = 3.0;
  RadiographPrepareOptions r;
  r.size = spec.mode == models::InputMode::WholeImage ? spec.height : std::max(256, 4 * spec.height);
  p.radiograph_ = r.toJson();
  if (o.contains("oct")) p.oct_.update(o["oct"]);
  if (o.contains("mri")) p.mri_.update(o["mri"]);
  if (o.contains("radiograph")) p.radiograph_.update(o["radiograph"]);
  p.minLesionPixels_ = o.value("min_lesion_pixels", p.minLesionPixels_);
  return p;
}

Pipeline Pipeline::forData(const models::InputSpec& spec, const nlohmann::json& options, const DataCase& example,
                           std::string* note) {
  nlohmann::json o = options.is_object() ? options : nlohmann::json::object();
  const bool oneChannel = spec.channels == 1 && !spec.zScored && spec.modality != "MR";
  std::string said;
  if (oneChannel && !o.contains("modality")) {
    if (!example.contrasts.empty()) {
      o["modality"] = "MR";
      said = "MR (the data are MRI contrasts)";
    } else if (!example.image.empty()) {
      // A DICOM file or series says what it is; NIfTI, PNG and JPEG do not.
      const std::string m = declaredModality(example.image);
      if (m == "MR") o["modality"] = "MR";
      else if (isRadiographModality(m) && m != "OT") o["modality"] = "CR";
      else if (m == "OPT" || m == "OCT") o["modality"] = "OCT";
      if (o.contains("modality")) said = o["modality"].get<std::string>() + " (the data's DICOM modality is " + m + ")";
    }
  }
  Pipeline p = forInput(spec, o);
  if (p.modality_ == Modality::Mri && p.contrasts_.empty() && !example.contrasts.empty()) {
    std::string pick = example.contrasts.front().first;
    for (const auto& [name, path] : example.contrasts)
      if (parseMriContrast(name) == MriContrast::Flair) pick = name;
    const MriContrast c = parseMriContrast(pick);
    p.contrasts_ = {c == MriContrast::Unknown ? pick : std::string(mriContrastName(c))};
    said += std::string(said.empty() ? "" : "; ") + "contrast " + p.contrasts_.front() + " (of the case's " +
            std::to_string(example.contrasts.size()) + ")";
  }
  if (note) *note = said;
  return p;
}

Pipeline Pipeline::fromJson(const nlohmann::json& j, const models::InputSpec& spec) {
  // A card written before OCT thickness normalisation existed was trained and measured without
  // it: it keeps it off (a new card always states it).
  if (j.is_object() && j.contains("oct") && j["oct"].is_object() && !j["oct"].contains("normalise_thickness")) {
    nlohmann::json old = j;
    old["oct"]["normalise_thickness"] = false;
    return forInput(spec, old);
  }
  return forInput(spec, j);
}

nlohmann::json Pipeline::toJson() const {
  nlohmann::json j = {{"modality", modalityName(modality_)}, {"min_lesion_pixels", minLesionPixels_}};
  if (modality_ == Modality::Oct) {
    j["oct"] = oct_;
    j["steps"] = "intensity percentiles to [-1, 1] per volume (padding and saturated reflexes left out); ILM/RPE "
                 "detection; flattening on a robust quadratic fit of the RPE" +
                 std::string(oct_.value("normalise_thickness", true)
                                 ? "; a retina taller than the band above the RPE compressed there (thickness normalised)"
                                 : "") +
                 "; resampling to fixed pixel sizes (a file without spacing taken to span field_mm); a B-scan that "
                 "cannot be flattened is refused";
  } else if (modality_ == Modality::Mri) {
    j["mri"] = mri_;
    j["contrasts"] = contrasts_;
    j["steps"] = std::string("contrasts matched by name and co-registered; brain mask; z-score per contrast over the brain "
                             "volume; axial slices cropped to the brain and resized") +
                 (unitRange_ ? "; z-scores divided by z_clip and clipped to [-1, 1], -1 outside the brain" : "");
  } else {
    j["radiograph"] = radiograph_;
    j["steps"] = "2D radiograph (MONOCHROME1 inverted by the reader); per image, intensity percentiles to [-1, 1]; "
                 "resized to a square keeping the aspect ratio, padded with -1; the image area is scored";
  }
  return j;
}

std::vector<int> Pipeline::contrastIndices(const Volume& scan, const std::string& source) const {
  if (contrasts_.empty()) {
    if (scan.channels() == 1) return {0};
    std::string have;
    for (const auto& n : scan.channelNames()) have += (have.empty() ? "" : ", ") + n;
    throw Error(source, "has " + std::to_string(scan.channels()) + " contrasts (" + have +
                            "): name the one this model takes (preprocessing \"contrasts\", --contrast)");
  }
  if (contrasts_.size() == 1 && scan.channels() == 1) {
    // One unnamed channel (a NIfTI of one contrast): taken as the model's contrast.
    const std::string name = scan.channelNames().empty() ? std::string() : scan.channelNames().front();
    if (name.empty() || parseMriContrast(name) == MriContrast::Unknown) return {0};
  }
  return contrastChannels(scan, contrasts_, source);
}

Volume Pipeline::readScan(const DataCase& c) const {
  const std::string source = c.image.empty() ? c.id : c.image;
  Volume scan;
  if (modality_ == Modality::Mri) {
    // A one-contrast model reads only its contrast: no co-registration of the others.
    const DataCase* only = nullptr;
    DataCase one;
    if (contrasts_.size() == 1 && !c.contrasts.empty()) {
      for (const auto& [name, path] : c.contrasts)
        if (parseMriContrast(name) == parseMriContrast(contrasts_.front()) &&
            (parseMriContrast(name) != MriContrast::Unknown || name == contrasts_.front())) {
          one = c;
          one.contrasts = {{name, path}};
          only = &one;
        }
    }
    const DataCase& use = only ? *only : c;
    if (!use.contrasts.empty()) {
      std::vector<Volume> vols;
      std::vector<std::string> names;
      for (const auto& [name, path] : use.contrasts) {
        vols.push_back(readVolume(path));
        names.push_back(mriContrastName(parseMriContrast(name)) == std::string("unknown") ? name
                                                                                          : mriContrastName(parseMriContrast(name)));
      }
      scan = coregisterContrasts(vols, names, 0);
    } else if (contrasts_.size() <= 1 && std::filesystem::is_regular_file(c.image)) {
      scan = readVolume(c.image);  // one contrast in one file
    } else if (contrasts_.size() <= 1) {
      try {
        scan = loadContrastSet(c.image);
      } catch (const FileError&) {
        scan = readVolume(c.image);  // not a contrast set: one series (a DICOM folder)
      }
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
    (void)contrastIndices(scan, source);  // names only: no copy of the volume
    return;
  }
  if (modality_ == Modality::Radiograph) {
    if (scan.channels() > 1)
      throw Error(source, "has " + std::to_string(scan.channels()) + " channels: this model takes single-channel radiographs");
    if (!modality.empty() && !isRadiographModality(modality))
      throw Error(source, "is a " + modality + " scan: this model takes 2D radiographs (CR, DX)");
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
  p.className = c.className;
  if (!c.imageLabels.empty()) {
    if (static_cast<std::int64_t>(c.imageLabels.size()) != scan.size().z)
      throw Error(c.image.empty() ? c.id : c.image,
                  "the manifest gives " + std::to_string(c.imageLabels.size()) + " image labels for case " + c.id +
                      "; its scan has " + std::to_string(scan.size().z) + " B-scans / slices");
    for (std::size_t i = 0; i < p.sliceLabels.size() && i < p.sliceIndex.size(); ++i)
      p.sliceLabels[i] = c.imageLabels[static_cast<std::size_t>(p.sliceIndex[i])];
  } else if (!lesions) {  // no mask: see the header for which images count
    const int label = c.label == 0 ? 0 : (c.label == 1 && scan.size().z == 1 ? 1 : -1);
    std::fill(p.sliceLabels.begin(), p.sliceLabels.end(), label);
  }
  if (keepScan) p.displayScan = std::move(scan);
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
  if (modality_ == Modality::Radiograph) {
    checkScan(scan, source);
    auto prep = std::make_shared<RadiographPrepared>(prepareRadiograph(scan, RadiographPrepareOptions::fromJson(radiograph_)));
    p.images = std::move(prep->images);
    p.valid = std::move(prep->valid);
    p.warnings = prep->warnings;
    for (std::int64_t z = 0; z < scan.size().z; ++z) p.sliceIndex.push_back(static_cast<int>(z));
    if (lesionMask) {
      p.lesions = prepareRadiographLabels(*prep, *lesionMask);
      for (long n : lesionPixelsPerSlice(*lesionMask, nullptr)) p.sliceLabels.push_back(sliceLabel(n, minLesionPixels_));
    } else {
      p.sliceLabels.assign(static_cast<std::size_t>(scan.size().z), -1);
    }
    p.radiograph = std::move(prep);
    return p;
  }
  const std::vector<int> pick = contrastIndices(scan, source);
  std::vector<std::string> names = contrasts_;
  if (names.empty())
    names.push_back(static_cast<std::size_t>(pick.front()) < scan.channelNames().size()
                        ? scan.channelNames()[static_cast<std::size_t>(pick.front())] : std::string());
  const Volume contrasts = orderContrasts(scan, pick, names);
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
  if (unitRange_) {
    // The GANs' generators end in tanh: z-scores into [-1, 1], and the background black.
    const double clip = std::max(0.1, mri_.value("z_clip", 3.0));
    float* v = p.images.data<float>();
    const std::uint8_t* in = p.valid.data<std::uint8_t>();
    const std::int64_t n = p.valid.voxelsPerChannel();
    for (int c = 0; c < p.images.channels(); ++c)
      for (std::int64_t i = 0; i < n; ++i) {
        float& x = v[static_cast<std::int64_t>(c) * n + i];
        x = in[i] ? static_cast<float>(std::clamp(x / clip, -1.0, 1.0)) : -1.f;
      }
  }
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
  if (p.radiograph) return unprepareRadiograph(*p.radiograph, map);
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
