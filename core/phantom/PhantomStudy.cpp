#include "phantom/PhantomStudy.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "errors/Error.h"
#include "io/AtomicFile.h"
#include "io/DicomWriter.h"
#include "io/PngStackWriter.h"
#include "io/VolumeWriter.h"
#include "phantom/MriPhantom.h"
#include "phantom/OctPhantom.h"

namespace al {

namespace fs = std::filesystem;

PhantomFormat parsePhantomFormat(const std::string& name) {
  if (name == "dicom") return PhantomFormat::Dicom;
  if (name == "nifti") return PhantomFormat::Nifti;
  if (name == "mha") return PhantomFormat::Mha;
  if (name == "png") return PhantomFormat::Png;
  throw Error("phantom", "unknown format '" + name + "': use dicom, nifti, mha or png");
}

const char* phantomFormatName(PhantomFormat format) {
  switch (format) {
    case PhantomFormat::Dicom: return "dicom";
    case PhantomFormat::Nifti: return "nifti";
    case PhantomFormat::Mha: return "mha";
    case PhantomFormat::Png: return "png";
  }
  return "?";
}

std::string phantomSplit(int label, int index, int count) {
  if (label != 0) return index < count / 2 ? "val" : "test";
  const int train = static_cast<int>(std::lround(0.70 * count));
  const int val = static_cast<int>(std::lround(0.15 * count));
  if (index < train) return "train";
  return index < train + val ? "val" : "test";
}

namespace {

std::string caseId(PhantomKind kind, int index) {
  char id[32];
  std::snprintf(id, sizeof(id), "%s_%04d", kind == PhantomKind::Oct ? "oct" : "mri", index);
  return id;
}

DicomStudy studyFor(const std::string& id, std::uint64_t seed, const char* description) {
  DicomStudy study;
  study.patientName = "PHANTOM^" + id;
  study.patientId = id;
  study.patientBirthDate = "19700101";
  study.patientSex = "O";
  study.studyDescription = description;
  study.accessionNumber = "PH" + std::to_string(seed % 1000000);
  study.complete();
  return study;
}

nlohmann::json lesionJson(const std::string& kind, double x, double y, double z, double radius) {
  return {{"kind", kind}, {"centre_mm", {x, y, z}}, {"radius_mm", radius}};
}

}  // namespace

std::vector<PhantomCase> writePhantomStudies(const PhantomRequest& r) {
  if (r.outDir.empty()) throw Error("phantom", "no output folder given");
  if (r.healthy < 0 || r.anomalous < 0 || r.healthy + r.anomalous == 0) throw Error("phantom", "ask for at least one case");
  std::error_code ec;
  fs::create_directories(r.outDir, ec);
  if (ec) throw FileError(r.outDir, "cannot create the folder: " + ec.message());
  const fs::path out(r.outDir);
  // Volume files: NIfTI by default, MetaImage when asked; masks follow the same choice.
  const std::string ext = r.format == PhantomFormat::Mha ? ".mha" : ".nii.gz";
  std::vector<PhantomCase> cases;
  nlohmann::json manifest = {{"generator", "AnomalyLens phantom"},
                             {"kind", r.kind == PhantomKind::Oct ? "oct" : "mri"},
                             {"format", phantomFormatName(r.format)},
                             {"seed", r.seed},
                             {"cases", nlohmann::json::array()}};
  const int total = r.healthy + r.anomalous;
  for (int i = 0; i < total; ++i) {
    if (r.progress && !r.progress(i, total)) break;
    PhantomCase c;
    c.id = caseId(r.kind, i);
    c.label = i >= r.healthy ? 1 : 0;
    c.split = c.label ? phantomSplit(1, i - r.healthy, r.anomalous) : phantomSplit(0, i, r.healthy);
    const std::uint64_t seed = r.seed * 1000003ull + static_cast<std::uint64_t>(i);
    nlohmann::json entry = {{"id", c.id}, {"label", c.label}, {"split", c.split}, {"seed", seed}};
    nlohmann::json lesions = nlohmann::json::array();
    if (r.kind == PhantomKind::Oct) {
      OctPhantomOptions o;
      o.seed = seed;
      o.bscans = r.bscans;
      o.laterality = (seed % 2) ? "L" : "R";
      if (c.label) o.lesions = OctLesionOptions::randomMix(seed);
      const OctPhantom p = makeOctPhantom(o);
      for (const auto& l : p.lesions) lesions.push_back(lesionJson(octLesionName(l.kind), l.xMm, 0.0, l.zMm, l.radiusMm));
      switch (r.format) {
        case PhantomFormat::Nifti:
        case PhantomFormat::Mha:
          c.image = c.id + ext;
          writeVolume(p.image, (out / c.image).string());
          break;
        case PhantomFormat::Dicom: {
          c.image = c.id + ".dcm";
          DicomSeries series;
          series.seriesDescription = "OCT macular cube (phantom)";
          series.laterality = o.laterality;
          writeDicomOphthalmicTomography(p.image, (out / c.image).string(), studyFor(c.id, seed, "OCT phantom"), series);
          break;
        }
        case PhantomFormat::Png:
          c.image = c.id;
          writePngStack(p.image, (out / c.image).string(), 0, "bscan_");
          break;
      }
      if (r.format == PhantomFormat::Png) {
        c.mask = c.id + "_mask";
        writePngStack(p.mask, (out / c.mask).string(), 0, "bscan_");
      } else {
        c.mask = c.id + "_mask" + ext;
        writeVolume(p.mask, (out / c.mask).string());
      }
    } else {
      MriPhantomOptions o;
      o.seed = seed;
      if (c.label) o.lesions = MriLesionOptions::randomMix(seed);
      const MriPhantom p = makeMriPhantom(o);
      for (const auto& l : p.lesions) lesions.push_back(lesionJson(mriLesionName(l.kind), l.centreMm[0], l.centreMm[1], l.centreMm[2], l.radiusMm));
      c.image = c.id;
      const fs::path folder = out / c.id;
      fs::create_directories(folder, ec);
      const DicomStudy study = studyFor(c.id, seed, "MRI brain phantom");
      for (int ch = 0; ch < p.image.channels(); ++ch) {
        const MriSequence& seq = p.sequences[static_cast<std::size_t>(ch)];
        std::string lower = seq.name == "T1c" ? "t1ce" : seq.name;  // BraTS names
        for (auto& ch2 : lower) ch2 = static_cast<char>(std::tolower(static_cast<unsigned char>(ch2)));
        std::string rel;
        if (r.format == PhantomFormat::Nifti || r.format == PhantomFormat::Mha) {
          rel = c.id + "/" + c.id + "_" + lower + ext;
          Volume one(PixelType::Int16, p.image.size(), 1);
          std::copy(p.image.data<std::int16_t>() + p.image.linearIndex(0, 0, 0, ch),
                    p.image.data<std::int16_t>() + p.image.linearIndex(0, 0, 0, ch) + p.image.voxelsPerChannel(),
                    one.data<std::int16_t>());
          one.setSpacing(p.image.spacing());
          one.setOrigin(p.image.origin());
          one.setDirection(p.image.direction());
          writeVolume(one, (out / rel).string());
        } else if (r.format == PhantomFormat::Dicom) {
          rel = c.id + "/" + seq.name;
          DicomSeries series;
          series.seriesNumber = ch + 1;
          series.seriesDescription = seq.description;
          series.repetitionTime = seq.repetitionTime;
          series.echoTime = seq.echoTime;
          series.inversionTime = seq.inversionTime;
          series.contrastAgent = seq.contrastAgent;
          writeDicomMrSeries(p.image, ch, (out / rel).string(), study, series);
        } else {
          rel = c.id + "/" + lower;
          writePngStack(p.image, (out / rel).string(), ch);
        }
        c.contrasts.emplace_back(seq.name, rel);
      }
      if (r.format == PhantomFormat::Png) {
        c.mask = c.id + "/seg";
        c.brainMask = c.id + "/brainmask";
        writePngStack(p.mask, (out / c.mask).string());
        writePngStack(p.brainMask, (out / c.brainMask).string());
      } else {
        c.mask = c.id + "/" + c.id + "_seg" + ext;
        c.brainMask = c.id + "/" + c.id + "_brainmask" + ext;
        writeVolume(p.mask, (out / c.mask).string());
        writeVolume(p.brainMask, (out / c.brainMask).string());
      }
      nlohmann::json contrasts = nlohmann::json::object();
      for (const auto& [name, rel] : c.contrasts) contrasts[name] = rel;
      entry["contrasts"] = contrasts;
      entry["brain_mask"] = c.brainMask;
    }
    entry["image"] = c.image;
    entry["mask"] = c.mask;
    entry["lesions"] = lesions;
    manifest["cases"].push_back(entry);
    cases.push_back(std::move(c));
  }
  if (r.progress) r.progress(static_cast<int>(cases.size()), total);
  std::string csv = "file,label,mask,split\n";
  for (const auto& c : cases) csv += c.image + "," + std::to_string(c.label) + "," + c.mask + "," + c.split + "\n";
  writeFileAtomically((out / "manifest.json").string(), manifest.dump(2) + "\n");
  writeFileAtomically((out / "manifest.csv").string(), csv);
  return cases;
}

}  // namespace al
