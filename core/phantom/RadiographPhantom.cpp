#include "phantom/RadiographPhantom.h"

#include <dcmtk/config/osconfig.h>  // must come first
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "errors/Error.h"
#include "io/AtomicFile.h"
#include "io/DicomWriter.h"
#include "io/VolumeWriter.h"
#include "phantom/PhantomRandom.h"
#include "phantom/PhantomStudy.h"

namespace al {
namespace fs = std::filesystem;

namespace {

double smoothstep(double e0, double e1, double x) {
  const double t = std::clamp((x - e0) / (e1 - e0), 0.0, 1.0);
  return t * t * (3 - 2 * t);
}

}  // namespace

RadiographPhantom makeRadiographPhantom(const RadiographPhantomOptions& o) {
  PhantomRandom rng(o.seed);
  const int w = std::max(32, static_cast<int>(std::lround(o.width * rng.uniform(0.85, 1.15))));
  const int h = std::max(32, static_cast<int>(std::lround(o.height * rng.uniform(0.9, 1.1))));
  RadiographPhantom p;
  p.image = Volume(PixelType::Int16, {w, h, 1}, 1);
  p.mask = Volume(PixelType::UInt8, {w, h, 1}, 1);
  p.image.setSpacing({o.pixelMm, o.pixelMm, 1.0});
  p.mask.setSpacing({o.pixelMm, o.pixelMm, 1.0});
  auto& m = p.image.metadata();
  m.modality = "CR";
  m.bodyPartExamined = "CHEST";
  m.sourceFormat = "phantom";

  // Normalised coordinates: u across (-1 left .. 1 right), v down (0 top .. 1 bottom).
  const double cx = rng.uniform(-0.04, 0.04), lungTop = rng.uniform(0.12, 0.18), dome = rng.uniform(0.72, 0.8);
  const double lungHalf = rng.uniform(0.33, 0.4), heart = rng.uniform(0.22, 0.3), exposure = rng.uniform(0.8, 1.2);
  struct Blob {
    double u, v, r;
    int kind;
  };
  std::vector<Blob> lesions;
  for (int i = 0; i < o.nodules + o.consolidations; ++i) {
    const bool left = rng.uniform() < 0.5;
    const double u = cx + (left ? -1 : 1) * rng.uniform(0.25, 0.55);
    const double v = rng.uniform(lungTop + 0.12, dome - 0.12);
    lesions.push_back({u, v, i < o.nodules ? rng.uniform(0.05, 0.08) : rng.uniform(0.1, 0.14), i < o.nodules ? 0 : 1});
  }
  const double ribPhase = rng.uniform(0, 1);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const double u = 2.0 * (x + 0.5) / w - 1.0, v = (y + 0.5) / h;
      // Body: soft tissue across a wide ellipse (shoulders to abdomen).
      const double body = 1.0 - smoothstep(0.85, 0.98, std::abs(u - cx) / (0.95 - 0.1 * std::max(0.0, 0.2 - v)));
      double att = 0.35 * body;
      // Lungs: two rounded regions with little attenuation, cut below by the diaphragm domes.
      for (int side = -1; side <= 1; side += 2) {
        const double lu = cx + side * 0.42, du = (u - lu) / lungHalf * 1.6;
        const double diaphragm = dome + 0.06 * (1 - du * du) - (side > 0 ? 0.03 : 0.0);
        const double dv = (v - lungTop) / (diaphragm - lungTop);
        const double inLung = (1 - smoothstep(0.85, 1.0, std::abs(du))) * smoothstep(0.0, 0.08, dv) * (1 - smoothstep(0.95, 1.0, dv));
        att -= 0.22 * inLung;
        // Ribs: bright arcs across the lungs.
        const double rib = std::sin(6.283185 * (v * 9.0 + 0.6 * du * du + ribPhase));
        att += 0.05 * inLung * smoothstep(0.6, 0.9, rib);
      }
      // Mediastinum and heart (left of the patient is the image's right).
      att += 0.25 * (1 - smoothstep(0.1, 0.16, std::abs(u - cx))) * body;
      const double hu = (u - cx - 0.12) / heart, hv = (v - 0.62) / 0.17;
      att += 0.2 * (1 - smoothstep(0.8, 1.0, std::sqrt(hu * hu + hv * hv)));
      // Below the diaphragm: abdomen, bright.
      att += 0.15 * smoothstep(dome, dome + 0.08, v) * body;
      std::uint8_t label = 0;
      for (const auto& b : lesions) {
        const double du = (u - b.u) / b.r, dv = (v - b.v) / (b.r * w / static_cast<double>(h));
        const double d = std::sqrt(du * du + dv * dv) * (b.kind ? 1.0 + 0.25 * std::sin(5 * std::atan2(dv, du)) : 1.0);
        if (d < 1.0) label = 1;
        att += (b.kind ? 0.14 : 0.2) * (1 - smoothstep(0.7, 1.0, d));
      }
      const double signal = std::clamp(exposure * (0.15 + att) + o.noise * rng.normal(), 0.0, 1.0);
      p.image.setValue(x, y, 0, 0, std::round(signal * 4095.0));
      p.mask.setValue(x, y, 0, 0, label);
    }
  return p;
}

void writeRadiographDicom(const Volume& image, const std::string& path, const std::string& modality, bool monochrome1) {
  const Size3 s = image.size();
  if (image.channels() != 1 || s.z != 1) throw Error(path, "a radiograph is one single-channel image");
  DcmFileFormat file;
  DcmDataset* ds = file.getDataset();
  const bool dx = modality == "DX";
  const std::string study = newDicomUid(), series = newDicomUid(), instance = newDicomUid();
  ds->putAndInsertString(DCM_SOPClassUID, dx ? UID_DigitalXRayImageStorageForPresentation : UID_ComputedRadiographyImageStorage);
  ds->putAndInsertString(DCM_SOPInstanceUID, instance.c_str());
  ds->putAndInsertString(DCM_StudyInstanceUID, study.c_str());
  ds->putAndInsertString(DCM_SeriesInstanceUID, series.c_str());
  ds->putAndInsertString(DCM_Modality, dx ? "DX" : "CR");
  ds->putAndInsertString(DCM_PatientName, "PHANTOM^CHEST");
  ds->putAndInsertString(DCM_PatientID, "PHANTOM");
  ds->putAndInsertString(DCM_BodyPartExamined, "CHEST");
  ds->putAndInsertString(DCM_ViewPosition, "PA");
  ds->putAndInsertString(DCM_SeriesNumber, "1");
  ds->putAndInsertString(DCM_InstanceNumber, "1");
  char spacing[64];
  std::snprintf(spacing, sizeof spacing, "%.4f\\%.4f", image.spacing()[1], image.spacing()[0]);
  ds->putAndInsertString(DCM_ImagerPixelSpacing, spacing);
  ds->putAndInsertUint16(DCM_SamplesPerPixel, 1);
  ds->putAndInsertString(DCM_PhotometricInterpretation, monochrome1 ? "MONOCHROME1" : "MONOCHROME2");
  ds->putAndInsertUint16(DCM_Rows, static_cast<Uint16>(s.y));
  ds->putAndInsertUint16(DCM_Columns, static_cast<Uint16>(s.x));
  ds->putAndInsertUint16(DCM_BitsAllocated, 16);
  ds->putAndInsertUint16(DCM_BitsStored, 12);
  ds->putAndInsertUint16(DCM_HighBit, 11);
  ds->putAndInsertUint16(DCM_PixelRepresentation, 0);
  std::vector<Uint16> px(static_cast<std::size_t>(s.x * s.y));
  for (std::int64_t y = 0; y < s.y; ++y)
    for (std::int64_t x = 0; x < s.x; ++x) {
      const double v = std::clamp(image.value(x, y, 0), 0.0, 4095.0);
      px[static_cast<std::size_t>(y * s.x + x)] = static_cast<Uint16>(monochrome1 ? 4095.0 - v : v);
    }
  ds->putAndInsertUint16Array(DCM_PixelData, px.data(), static_cast<unsigned long>(px.size()));
  writeAtomically(path, [&](const std::string& tmp) {
    const OFCondition c = file.saveFile(tmp.c_str(), EXS_LittleEndianExplicit);
    if (c.bad()) throw FileError(path, std::string("cannot write DICOM: ") + c.text());
  });
}

std::string writeRadiographStudies(const RadiographStudyRequest& r) {
  if (r.outDir.empty()) throw Error("phantom", "no output folder given");
  std::error_code ec;
  fs::create_directories(r.outDir, ec);
  if (ec) throw FileError(r.outDir, "cannot create the folder: " + ec.message());
  std::string csv = "file,label,mask,split\n";
  const int total = r.healthy + r.anomalous;
  for (int i = 0; i < total; ++i) {
    const int label = i >= r.healthy ? 1 : 0;
    const std::string split = label ? phantomSplit(1, i - r.healthy, r.anomalous) : phantomSplit(0, i, r.healthy);
    char id[32];
    std::snprintf(id, sizeof id, "cxr_%04d", i);
    RadiographPhantomOptions o;
    o.seed = r.seed * 1000003ull + static_cast<std::uint64_t>(i);
    o.width = r.width;
    o.height = r.height;
    if (label) (o.seed % 2 ? o.nodules : o.consolidations) = 1 + static_cast<int>(o.seed % 2);
    const RadiographPhantom p = makeRadiographPhantom(o);
    const std::string image = std::string(id) + ".dcm", mask = std::string(id) + "_mask.nii.gz";
    writeRadiographDicom(p.image, (fs::path(r.outDir) / image).string(), r.modality, r.monochrome1);
    writeVolume(p.mask, (fs::path(r.outDir) / mask).string());
    csv += image + "," + std::to_string(label) + "," + mask + "," + split + "\n";
  }
  writeFileAtomically((fs::path(r.outDir) / "manifest.csv").string(), csv);
  return r.outDir;
}

}  // namespace al
