// Writes the fuzz targets' seed inputs with the project's own writers, small enough for
// libFuzzer to mutate quickly (tests/fuzz/make_corpora.sh adds the DCMTK-encoded transfer
// syntaxes and the DICOMDIR around it):
//   fuzz_make_seeds OUT_DIR
// OUT_DIR/<target>/ gets one file per seed. Targets whose first input byte picks a format get
// that byte in front of the file.

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "errors/Error.h"
#include "image/Volume.h"
#include "io/DicomWriter.h"
#include "io/PngStackWriter.h"
#include "io/VolumeWriter.h"
#include "models/ModelFile.h"
#include "models/ModelRegistry.h"
#include "phantom/RadiographPhantom.h"
#include "session/Session.h"
#include "training/DataSet.h"

namespace fs = std::filesystem;

namespace {

// A small image with structure (a bright disc on a ramp), so decoders see real content.
al::Volume smallVolume(al::PixelType type, int nx, int ny, int nz) {
  al::Volume v(type, {nx, ny, nz});
  v.setSpacing({0.5, 0.25, 2.0});
  for (int z = 0; z < nz; ++z)
    for (int y = 0; y < ny; ++y)
      for (int x = 0; x < nx; ++x) {
        const double r = std::hypot(x - nx / 2.0, y - ny / 2.0);
        const double value = (r < nx / 4.0 ? 200.0 : 0.0) + 2.0 * x + 10.0 * z;
        const std::int64_t i = (static_cast<std::int64_t>(z) * ny + y) * nx + x;
        switch (type) {
          case al::PixelType::UInt8: v.data<std::uint8_t>()[i] = static_cast<std::uint8_t>(std::min(255.0, value)); break;
          case al::PixelType::Int16: v.data<std::int16_t>()[i] = static_cast<std::int16_t>(value * 4 - 300); break;
          case al::PixelType::Float32: v.data<float>()[i] = static_cast<float>(value / 255.0); break;
        }
      }
  return v;
}

std::vector<char> readAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Copies `from` to `to`, with `selector` in front when it is not negative.
void seed(const fs::path& from, const fs::path& to, int selector = -1) {
  fs::create_directories(to.parent_path());
  const std::vector<char> bytes = readAll(from);
  std::ofstream out(to, std::ios::binary | std::ios::trunc);
  if (selector >= 0) out.put(static_cast<char>(selector));
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw al::FileError(to.string(), "cannot write the seed");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  const fs::path out = argv[1];
  const fs::path work = out / "work";
  try {
    fs::create_directories(work);

    // DICOM: an MR series (int16, one file per slice), a multi-frame OCT (uint8), radiographs
    // (MONOCHROME2 and MONOCHROME1).
    al::DicomStudy study;
    study.patientName = "Fuzz^Seed";
    study.patientId = "FUZZ-0001";
    al::DicomSeries series;
    series.seriesDescription = "seed";
    const auto mr = al::writeDicomMrSeries(smallVolume(al::PixelType::Int16, 16, 12, 3), 0, (work / "mr").string(), study, series);
    for (const auto& f : mr) seed(f, out / "dicom_file" / ("mr_" + fs::path(f).filename().string()));
    series.laterality = "R";
    al::writeDicomOphthalmicTomography(smallVolume(al::PixelType::UInt8, 24, 16, 3), (work / "oct.dcm").string(), study, series);
    seed(work / "oct.dcm", out / "dicom_file" / "oct_multiframe.dcm");
    al::writeRadiographDicom(smallVolume(al::PixelType::Float32, 20, 16, 1), (work / "cr.dcm").string(), "CR", false);
    seed(work / "cr.dcm", out / "dicom_file" / "cr_monochrome2.dcm");
    al::writeRadiographDicom(smallVolume(al::PixelType::Float32, 20, 16, 1), (work / "dx.dcm").string(), "DX", true);
    seed(work / "dx.dcm", out / "dicom_file" / "dx_monochrome1.dcm");

    // NIfTI (plain and gzip), Analyze, MetaImage, NRRD; the selector byte is the target's
    // index into its list of names.
    const al::Volume mri = smallVolume(al::PixelType::Float32, 10, 8, 3);
    // (Analyze, selector 2, has no writer here: the fuzzer reaches it from the NIfTI-1 header,
    // which extends Analyze's.)
    const std::vector<std::pair<std::string, int>> headers = {
        {"v.nii", 0}, {"v.nii.gz", 1}, {"v.mha", 3}, {"v.nrrd", 4}};
    for (const auto& [name, selector] : headers) {
      al::writeVolume(mri, (work / name).string());
      seed(work / name, out / "volume_header" / name, selector);
    }
    al::writeVolume(smallVolume(al::PixelType::Int16, 10, 8, 3), (work / "i16.nii").string());
    seed(work / "i16.nii", out / "volume_header" / "int16.nii", 0);

    // B-scans: PNG from the stack writer, 8-bit and 16-bit, under each extension the target
    // picks (.png, .jpg, .tif, .bmp: the readers go by content where they can).
    const auto png8 = al::writePngStack(smallVolume(al::PixelType::UInt8, 24, 16, 1), (work / "png8").string());
    const auto png16 = al::writePngStack(smallVolume(al::PixelType::Int16, 24, 16, 1), (work / "png16").string());
    for (int selector = 0; selector < 4; ++selector) {
      seed(png8.at(0), out / "bscan_folder" / ("bscan8_" + std::to_string(selector)), selector);
      seed(png16.at(0), out / "bscan_folder" / ("bscan16_" + std::to_string(selector)), selector);
    }

    // A session with every kind of annotation, flags and a view.
    al::Session s;
    s.scan = "/data/study/oct.dcm";
    s.view.windowLevel[0] = {255.0, 127.5};
    s.view.layout = "orthogonal";
    s.overlay.model = "a2bgan-oct-lite";
    s.overlay.map = "difference";
    s.overlay.scoreThreshold = 0.25;
    s.sliceLabels = {{0, 1}, {2, 0}};
    s.annotations = {{al::AnnotationKind::Flag, 0, {{3.0, 4.0}}, "flag"},
                     {al::AnnotationKind::Region, 1, {{1.0, 2.0}, {8.0, 9.0}}, "région ✓"},
                     {al::AnnotationKind::Distance, 2, {{0.0, 0.0}, {5.0, 5.0}}, ""}};
    al::saveSession(s, (work / "s.alsession").string());
    seed(work / "s.alsession", out / "session" / "session.alsession");

    // Manifests: JSON from the data-set writer, with image labels and classes; CSV in the
    // layout the phantom writer and the README describe.
    al::training::DataSet ds;
    ds.source = (work / "ds").string();
    ds.cases.push_back({"c0", "/data/c0.nii.gz", {}, "/data/c0_mask.nii.gz", "", 0, "train", "", {0, 0, 0}});
    ds.cases.push_back({"c1", "/data/c1", {{"T1", "/data/c1_t1.nii.gz"}, {"FLAIR", "/data/c1_flair.nii.gz"}},
                        "/data/c1_mask.nii.gz", "/data/c1_brain.nii.gz", 1, "test", "", {0, 1, -1}});
    ds.cases.push_back({"c2", "/data/NORMAL/c2.jpeg", {}, "", "", 0, "val", "NORMAL", {}});
    al::training::writeManifest((work / "manifest.json").string(), ds);
    seed(work / "manifest.json", out / "manifest" / "manifest.json", 0);
    {
      std::ofstream csv(work / "manifest.csv");
      csv << "file,label,mask,split\noct_0000.nii.gz,0,oct_0000_mask.nii.gz,train\n"
             "oct_0001.nii.gz,1,oct_0001_mask.nii.gz,test\n";
    }
    seed(work / "manifest.csv", out / "manifest" / "manifest.csv", 1);

    // A model file: the tiny A2B-GAN's weights (safetensors) and its card.
    auto model = al::models::makeTorchModel(al::models::ModelKind::A2BGan, "tiny", nlohmann::json::object());
    al::models::ModelCard card;
    card.name = "seed";
    card.description = "fuzz seed";
    card.threshold = 0.5;
    al::models::saveModel(*model, card, (work / "model").string());
    seed(work / "model.safetensors", out / "model_file" / "tiny.safetensors", 1);
    seed(work / "model.json", out / "model_file" / "tiny.json", 0);

    fs::remove_all(work);
  } catch (const al::Error& e) {
    std::fprintf(stderr, "fuzz_make_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
