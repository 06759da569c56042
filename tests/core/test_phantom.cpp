#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "TestPaths.h"
#include "e2e/RunCommand.h"
#include "io/DicomSeriesReader.h"
#include "errors/Error.h"
#include "io/VolumeReader.h"
#include "phantom/MriPhantom.h"
#include "phantom/OctPhantom.h"
#include "phantom/PhantomStudy.h"

using namespace al;
namespace fs = std::filesystem;

namespace {

// Mean of `image` (channel c) over the voxels where mask == label.
double meanWhere(const Volume& image, const Volume& mask, int label, int c = 0) {
  double sum = 0, n = 0;
  for (std::int64_t i = 0; i < mask.voxelsPerChannel(); ++i) {
    if (mask.data<std::uint8_t>()[i] == label) {
      sum += visitVoxels(image, [&](const auto* p, std::int64_t) { return static_cast<double>(p[c * image.voxelsPerChannel() + i]); });
      n += 1;
    }
  }
  return n > 0 ? sum / n : -1;
}

std::int64_t count(const Volume& mask, int label) {
  std::int64_t n = 0;
  for (std::int64_t i = 0; i < mask.voxelsPerChannel(); ++i) n += mask.data<std::uint8_t>()[i] == label;
  return n;
}

bool sameBytes(const Volume& a, const Volume& b) {
  return a.byteSize() == b.byteSize() && std::memcmp(a.bytes(), b.bytes(), a.byteSize()) == 0;
}

OctPhantomOptions smallOct(std::uint64_t seed) {
  OctPhantomOptions o;
  o.bscans = 15;
  o.seed = seed;
  return o;
}

}  // namespace

TEST(OctPhantom, SameSeedSameVolumeOtherSeedOtherVolume) {
  auto o = smallOct(11);
  o.lesions = OctLesionOptions::randomMix(11);
  const auto a = makeOctPhantom(o), b = makeOctPhantom(o);
  EXPECT_TRUE(sameBytes(a.image, b.image));
  EXPECT_TRUE(sameBytes(a.mask, b.mask));
  o.seed = 12;
  EXPECT_FALSE(sameBytes(a.image, makeOctPhantom(o).image));
}

TEST(OctPhantom, HealthyHasAnEmptyMaskAndARetinaBrighterThanTheVitreous) {
  const auto p = makeOctPhantom(smallOct(3));
  EXPECT_FALSE(p.anomalous());
  EXPECT_EQ(count(p.mask, 0), p.mask.voxelsPerChannel());
  // Per A-scan, the brightest pixel (RPE or NFL) lies far below the vitreous' level.
  const int z = 7;
  double top = 0, peak = 0;
  for (int x = 0; x < 512; x += 8) {
    double m = 0;
    for (int y = 0; y < 496; ++y) m = std::max(m, p.image.value(x, y, z));
    peak += m;
    top += p.image.value(x, 5, z);
  }
  EXPECT_GT(peak / 64, 200);
  EXPECT_LT(top / 64, 40);
}

// Each lesion kind, alone, against the healthy eye of the same seed (same geometry): its mask
// covers pixels whose intensity it changed the way that lesion looks on OCT.
class OctLesionKinds : public ::testing::TestWithParam<int> {};

TEST_P(OctLesionKinds, MaskLiesOnTheChangedPixels) {
  const auto kind = static_cast<OctLesion>(GetParam());
  auto o = smallOct(21);
  const auto healthy = makeOctPhantom(o);
  switch (kind) {
    case OctLesion::Drusen: o.lesions.drusen = 4; break;
    case OctLesion::IntraretinalFluid: o.lesions.intraretinalFluid = 2; break;
    case OctLesion::SubretinalFluid: o.lesions.subretinalFluid = 1; break;
    case OctLesion::PigmentEpithelialDetachment: o.lesions.pigmentEpithelialDetachment = 1; break;
    case OctLesion::HyperreflectiveFoci: o.lesions.hyperreflectiveFoci = 2; break;
  }
  const auto sick = makeOctPhantom(o);
  ASSERT_TRUE(sick.anomalous());
  const int label = GetParam();
  ASSERT_GT(count(sick.mask, label), 20) << octLesionName(kind);
  for (int other = 1; other <= 5; ++other) {
    if (other != label) EXPECT_EQ(count(sick.mask, other), 0);
  }
  const double inside = meanWhere(sick.image, sick.mask, label);
  const double before = meanWhere(healthy.image, sick.mask, label);
  SCOPED_TRACE(std::string(octLesionName(kind)) + ": " + std::to_string(inside) + " vs healthy " + std::to_string(before));
  if (kind == OctLesion::HyperreflectiveFoci) {
    EXPECT_GT(inside, before + 40);
  } else {
    EXPECT_LT(inside, before - 25);  // fluid is dark; drusen and PED replace the bright RPE
  }
}

INSTANTIATE_TEST_SUITE_P(AllKinds, OctLesionKinds, ::testing::Values(1, 2, 3, 4, 5));

TEST(MriPhantom, SameSeedSameVolumeAndContrastsFollowThePhysics) {
  MriPhantomOptions o;
  o.seed = 5;
  o.sizeX = o.sizeY = 96;
  o.sizeZ = 64;
  o.spacing = 2.0;
  const auto a = makeMriPhantom(o), b = makeMriPhantom(o);
  EXPECT_TRUE(sameBytes(a.image, b.image));
  ASSERT_EQ(a.image.channels(), 4);
  EXPECT_EQ(a.image.channelNames(), (std::vector<std::string>{"T1", "T1c", "T2", "FLAIR"}));
  EXPECT_FALSE(a.anomalous());
  EXPECT_EQ(count(a.mask, 0), a.mask.voxelsPerChannel());
  const double inside = static_cast<double>(count(a.brainMask, 1)) / static_cast<double>(a.brainMask.voxelsPerChannel());
  EXPECT_GT(inside, 0.15);
  EXPECT_LT(inside, 0.6);
  // FLAIR's inversion time nulls CSF (T1 3800 ms at 1.5 T): Mz(TI) = 1 - 2 exp(-TI/T1) + exp(-TR/T1) = 0.
  const auto& flair = a.sequences[3];
  EXPECT_NEAR(1 - 2 * std::exp(-flair.inversionTime / 3800) + std::exp(-flair.repetitionTime / 3800), 0.0, 1e-3);
}

TEST(MriPhantom, LesionsShowAsTheyDoOnRealScans) {
  struct Case { MriLesion kind; MriLesionOptions lesions; };
  MriLesionOptions tumour; tumour.tumours = 1; tumour.enhancingRing = true; tumour.size = 1.2;
  MriLesionOptions stroke; stroke.strokes = 1;
  MriLesionOptions ms; ms.msLesions = 8; ms.size = 1.3;
  for (const auto& c : {Case{MriLesion::TumourCore, tumour}, Case{MriLesion::Stroke, stroke}, Case{MriLesion::MsLesion, ms}}) {
    MriPhantomOptions o;
    o.seed = 8;
    o.lesions = c.lesions;
    const auto healthy = [&] { auto h = o; h.lesions = {}; return makeMriPhantom(h); }();
    const auto p = makeMriPhantom(o);
    const int label = static_cast<int>(c.kind);
    SCOPED_TRACE(mriLesionName(c.kind));
    ASSERT_GT(count(p.mask, label), 10);
    // Lesions lie inside the brain mask.
    for (std::int64_t i = 0; i < p.mask.voxelsPerChannel(); ++i) {
      if (p.mask.data<std::uint8_t>()[i]) ASSERT_EQ(p.brainMask.data<std::uint8_t>()[i], 1);
    }
    const int flair = 3, t1 = 0, t1c = 1;
    // Bright on FLAIR where the healthy brain was not.
    const Volume& mask = c.kind == MriLesion::TumourCore ? p.mask : p.mask;
    const int flairLabel = c.kind == MriLesion::TumourCore ? static_cast<int>(MriLesion::Oedema) : label;
    EXPECT_GT(meanWhere(p.image, mask, flairLabel, flair), 1.3 * meanWhere(healthy.image, mask, flairLabel, flair));
    if (c.kind == MriLesion::TumourCore) {
      // The enhancing rim brightens after gadolinium.
      EXPECT_GT(meanWhere(p.image, p.mask, label, t1c), 1.2 * meanWhere(p.image, p.mask, label, t1));
    }
  }
}

TEST(PhantomStudy, SplitsAreDeterministicAndKeepAnomaliesOutOfTraining) {
  EXPECT_EQ(phantomSplit(0, 0, 20), "train");
  EXPECT_EQ(phantomSplit(0, 13, 20), "train");
  EXPECT_EQ(phantomSplit(0, 14, 20), "val");
  EXPECT_EQ(phantomSplit(0, 19, 20), "test");
  for (int i = 0; i < 10; ++i) EXPECT_NE(phantomSplit(1, i, 10), "train");
  EXPECT_EQ(phantomSplit(1, 0, 10), "val");
  EXPECT_EQ(phantomSplit(1, 9, 10), "test");
}

TEST(PhantomStudy, OctDicomReReadsWithIdenticalPixelsAndGeometry) {
  TempDir dir;
  PhantomRequest r;
  r.kind = PhantomKind::Oct;
  r.healthy = 1;
  r.anomalous = 1;
  r.bscans = 7;
  r.seed = 4;
  r.format = PhantomFormat::Dicom;
  r.outDir = dir.path();
  const auto cases = writePhantomStudies(r);
  ASSERT_EQ(cases.size(), 2u);
  EXPECT_EQ(cases[1].label, 1);
  // The same case written as NIfTI is the reference.
  TempDir nifti;
  r.format = PhantomFormat::Nifti;
  r.outDir = nifti.path();
  writePhantomStudies(r);
  for (const auto& c : cases) {
    const Volume fromDicom = readVolume(dir.file(c.image));
    const Volume reference = readVolume(nifti.file(c.id + ".nii.gz"));
    EXPECT_EQ(fromDicom.metadata().modality, "OPT");
    EXPECT_TRUE(sameBytes(fromDicom, reference)) << c.id;
    for (int i = 0; i < 3; ++i) {
      EXPECT_NEAR(fromDicom.spacing()[i], reference.spacing()[i], 1e-6) << i;
      EXPECT_NEAR(fromDicom.origin()[i], reference.origin()[i], 1e-4) << i;
    }
    EXPECT_TRUE(fs::exists(dir.file(c.mask)));
  }
  // The manifest lists both cases with their labels and splits.
  std::ifstream in(dir.file("manifest.json"));
  const auto manifest = nlohmann::json::parse(in);
  ASSERT_EQ(manifest["cases"].size(), 2u);
  EXPECT_EQ(manifest["cases"][1]["label"], 1);
  EXPECT_FALSE(manifest["cases"][1]["lesions"].empty());
}

TEST(PhantomStudy, EveryFormatWritesTheFilesItsManifestNames) {
  for (const char* format : {"nifti", "mha", "png"}) {
    for (PhantomKind kind : {PhantomKind::Oct, PhantomKind::Mri}) {
      TempDir dir;
      PhantomRequest r;
      r.kind = kind;
      r.healthy = 1;
      r.anomalous = 1;
      r.bscans = 3;
      r.format = parsePhantomFormat(format);
      r.outDir = dir.path();
      const auto cases = writePhantomStudies(r);
      SCOPED_TRACE(std::string(format) + (kind == PhantomKind::Oct ? " oct" : " mri"));
      ASSERT_EQ(cases.size(), 2u);
      for (const auto& c : cases) {
        EXPECT_TRUE(fs::exists(dir.file(c.image))) << c.image;
        EXPECT_TRUE(fs::exists(dir.file(c.mask))) << c.mask;
        for (const auto& [name, path] : c.contrasts) EXPECT_TRUE(fs::exists(dir.file(path))) << path;
      }
      if (std::string(format) != "png") {
        // Volumes re-read with the phantom's size; PNG stacks hold one file per slice.
        const Volume v = readVolume(dir.file(kind == PhantomKind::Oct ? cases[1].image : cases[1].contrasts[0].second));
        EXPECT_EQ(v.size().z, kind == PhantomKind::Oct ? 3 : 96);
      } else if (kind == PhantomKind::Oct) {
        EXPECT_EQ(std::distance(fs::directory_iterator(dir.file(cases[1].image)), fs::directory_iterator()), 3);
      }
    }
  }
  EXPECT_THROW(parsePhantomFormat("jpeg"), Error);
}

TEST(PhantomStudy, MriDicomSeriesReReadWithIdenticalPixelsAndGeometry) {
  TempDir dir;
  PhantomRequest r;
  r.kind = PhantomKind::Mri;
  r.healthy = 0;
  r.anomalous = 1;
  r.seed = 6;
  r.format = PhantomFormat::Dicom;
  r.outDir = dir.path();
  const auto cases = writePhantomStudies(r);
  ASSERT_EQ(cases.size(), 1u);
  ASSERT_EQ(cases[0].contrasts.size(), 4u);
  MriPhantomOptions o;
  o.seed = 6 * 1000003ull;
  o.lesions = MriLesionOptions::randomMix(o.seed);
  const MriPhantom reference = makeMriPhantom(o);
  const auto index = indexDicomFolder(dir.file(cases[0].image));
  EXPECT_EQ(index.series.size(), 4u);
  EXPECT_TRUE(index.errors.empty());
  for (int c = 0; c < 4; ++c) {
    const Volume v = readVolume(dir.file(cases[0].contrasts[static_cast<std::size_t>(c)].second));
    SCOPED_TRACE(cases[0].contrasts[static_cast<std::size_t>(c)].first);
    ASSERT_EQ(v.size(), reference.image.size());
    ASSERT_EQ(v.pixelType(), PixelType::Int16);
    EXPECT_EQ(std::memcmp(v.bytes(), reference.image.bytes() + v.byteSize() * static_cast<std::size_t>(c), v.byteSize()), 0);
    for (int i = 0; i < 3; ++i) {
      EXPECT_NEAR(v.spacing()[i], reference.image.spacing()[i], 1e-6);
      EXPECT_NEAR(v.origin()[i], reference.image.origin()[i], 1e-4);
    }
    for (int i = 0; i < 9; ++i) EXPECT_NEAR(v.direction()[i], reference.image.direction()[i], 1e-6);
  }
}

// dciodvfy (Debian's dicom3tools) finds no errors in the DICOM the phantom writes.
TEST(PhantomStudy, DicomPassesDciodvfy) {
  if (runCommand("command -v dciodvfy").exitCode != 0) GTEST_SKIP() << "dciodvfy (dicom3tools) not installed: skipping";
  TempDir dir;
  PhantomRequest r;
  r.healthy = 0;
  r.anomalous = 1;
  r.bscans = 3;
  r.format = PhantomFormat::Dicom;
  r.outDir = dir.file("oct");
  const auto oct = writePhantomStudies(r);
  r.kind = PhantomKind::Mri;
  r.outDir = dir.file("mri");
  const auto mri = writePhantomStudies(r);
  std::vector<std::string> files{dir.file("oct/" + oct[0].image)};
  for (const auto& [name, folder] : mri[0].contrasts) files.push_back(dir.file("mri/" + folder + "/IM00001.dcm"));
  for (const auto& f : files) {
    const auto out = runCommand("dciodvfy " + shellQuote(f), true);
    std::istringstream lines(out.output);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.rfind("Error", 0) != 0) continue;
      // dicom3tools (2022) lists three concatenation attributes as type 1 in the OPT image
      // module; PS3.3 requires them only with a Concatenation UID, i.e. in a concatenation,
      // and this single-instance object is none (adding them makes dciodvfy flag the
      // multi-frame module instead).
      const bool knownOptFalsePositive = line.find("Module=<OphthalmicTomographyImage>") != std::string::npos &&
                                         line.find("Concatenation") != std::string::npos;
      EXPECT_TRUE(knownOptFalsePositive) << f << ": " << line;
    }
  }
}
