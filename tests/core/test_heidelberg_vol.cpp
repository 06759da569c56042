#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "TestPaths.h"
#include "errors/Error.h"
#include "io/VolumeReader.h"
#include "io/oct/HeidelbergVolReader.h"

using namespace al;

namespace {
std::string seed(const std::string& name) { return std::string(ANOMALYLENS_FUZZ_CORPUS) + "/heidelberg_vol/" + name; }
}  // namespace

// The seed corpus (tests/fuzz/make_vol_corpus.py) holds B-scans of 16 x 24 pixels, 3 per file:
// rows 6..13 at 0.3, the rest at 0.01, pixel (0,0) marked invalid; an 8 x 8 SLO; 3 layers at
// depth 5 + 4 * layer + (x mod 3).
TEST(HeidelbergVol, ParsesGeometryPixelsFundusAndLayers) {
  const OctStudy s = readHeidelbergVol(seed("valid.vol"));
  ASSERT_EQ(s.bscans.size(), (Size3{16, 24, 3}));
  EXPECT_NEAR(s.bscans.spacing()[0], 0.0117, 1e-9);
  EXPECT_NEAR(s.bscans.spacing()[1], 0.0039, 1e-9);
  EXPECT_NEAR(s.bscans.spacing()[2], 0.12, 1e-9);
  EXPECT_EQ(s.bscans.metadata().laterality, "L");
  EXPECT_EQ(s.bscans.metadata().patientId, "PAT-0001");
  EXPECT_EQ(s.bscans.metadata().patientBirthDate, "19700101");
  EXPECT_EQ(s.bscans.value(3, 8, 1), std::lround(255 * std::pow(0.3, 0.25)));
  EXPECT_EQ(s.bscans.value(3, 20, 1), std::lround(255 * std::pow(0.01, 0.25)));
  EXPECT_EQ(s.bscans.value(0, 0, 2), 0);  // invalid marker
  EXPECT_FALSE(s.bscans.metadata().warnings.empty());
  ASSERT_EQ(s.fundus.size(), (Size3{8, 8, 1}));
  EXPECT_EQ(s.fundus.value(2, 3, 0), (2 * 7 + 3 * 3) % 256);
  ASSERT_EQ(s.bscanInfo.size(), 3u);
  EXPECT_NEAR(s.bscanInfo[2].startYMm, 1.24, 1e-9);
  EXPECT_NEAR(s.bscanInfo[2].endXMm, 6.5, 1e-9);
  ASSERT_EQ(s.layers.size(), 3u);
  EXPECT_EQ(s.layers[0].name, "ILM");
  EXPECT_EQ(s.layers[1].name, "BM");
  EXPECT_FLOAT_EQ(s.layers[2].depth[1][4], 5 + 8 + 1);
}

TEST(HeidelbergVol, OtherWritersAndMissingPartsAreAccepted) {
  EXPECT_EQ(readVolume(seed("other_writer_magic.vol")).size(), (Size3{16, 24, 3}));
  const OctStudy bare = readHeidelbergVol(seed("valid_no_slo_no_layers.vol"));
  EXPECT_TRUE(bare.fundus.empty());
  EXPECT_TRUE(bare.layers.empty());
  // A wrong B-scan header size in the file header: the B-scans' own size is used.
  EXPECT_EQ(readVolume(seed("bad_bscan_header_size.vol")).size().z, 3);
}

TEST(HeidelbergVol, BrokenFilesAreRefusedNamingTheFileAndTheReason) {
  for (const char* name : {"truncated_in_bscans.vol", "truncated_in_header.vol", "huge_dimensions.vol", "negative_dimensions.vol"}) {
    try {
      readVolume(seed(name));
      ADD_FAILURE() << name << " was read";
    } catch (const FileError& e) {
      EXPECT_EQ(e.path(), seed(name));
      EXPECT_FALSE(e.reason().empty());
    }
  }
}

TEST(RealData, EyepyHeidelbergVolSample) {
  const std::string path = realDataPath("oct/heidelberg-vol/test_volume.vol");
  if (path.empty()) GTEST_SKIP() << "shared/realdata not found: skipping the .vol sample";
  const OctStudy s = readHeidelbergVol(path);
  EXPECT_EQ(s.bscans.size(), (Size3{50, 40, 10}));
  EXPECT_EQ(s.fundus.size(), (Size3{50, 50, 1}));
  EXPECT_EQ(s.bscans.metadata().laterality, "R");
  EXPECT_NEAR(s.bscans.spacing()[1], 0.003872, 1e-9);
  EXPECT_GT(s.bscans.valueRange().max, 0);
}

// ---- Folders of B-scan images ----

#include "io/PngStackWriter.h"
#include "io/oct/ImageStackReader.h"
#include "phantom/OctPhantom.h"

TEST(ImageStack, NaturalOrderPutsB2BeforeB10) {
  EXPECT_TRUE(naturalLess("B2.tif", "B10.tif"));
  EXPECT_FALSE(naturalLess("B10.tif", "B2.tif"));
  EXPECT_TRUE(naturalLess("bscan_009.png", "bscan_010.png"));
  EXPECT_TRUE(naturalLess("img1", "IMG02"));
  EXPECT_TRUE(naturalLess("a", "ab"));
}

TEST(ImageStack, AFolderOfPngBScansReadsBackAsTheVolume) {
  TempDir dir;
  OctPhantomOptions o;
  o.bscans = 12;  // names bscan_000 .. bscan_011: 10 and 11 must come after 9
  const auto p = makeOctPhantom(o);
  writePngStack(p.image, dir.file("scan"), 0, "B");
  const Volume v = readVolume(dir.file("scan"));
  ASSERT_EQ(v.size(), p.image.size());
  EXPECT_EQ(std::memcmp(v.bytes(), p.image.bytes(), v.byteSize()), 0);
  EXPECT_EQ(v.metadata().sourceFormat, "image stack");
  // One image of another size is refused, naming it.
  writePngStack(Volume(PixelType::UInt8, Size3{10, 10, 1}), dir.file("odd"), 0, "B");
  std::filesystem::copy_file(dir.file("odd/B000.png"), dir.file("scan/B999.png"));
  try {
    readVolume(dir.file("scan"));
    FAIL() << "no error";
  } catch (const FileError& e) {
    EXPECT_NE(e.path().find("B999.png"), std::string::npos) << e.what();
  }
}

// PNG B-scans are decoded with libpng directly. ITK's PNG reader let libpng abort the process on
// a damaged critical chunk (found by tests/fuzz/fuzz_bscan_folder; the regressions are in
// tests/fuzz/corpus/bscan_folder).
TEST(ImageStack, PngKeepsItsPixelSizeAndAMalformedPngIsAnErrorNamingIt) {
  TempDir dir;
  OctPhantomOptions o;
  o.bscans = 2;
  auto p = makeOctPhantom(o);
  p.image.setSpacing({0.0117, 0.0039, 0.1});
  const auto files = writePngStack(p.image, dir.file("scan"), 0, "B");
  const Volume v = readVolume(dir.file("scan"));
  EXPECT_NEAR(v.spacing()[0], 0.0117, 1e-6);
  EXPECT_NEAR(v.spacing()[1], 0.0039, 1e-6);
  EXPECT_EQ(std::memcmp(v.bytes(), p.image.bytes(), v.byteSize()), 0);

  const std::string corpus = std::string(ANOMALYLENS_FUZZ_CORPUS) + "/bscan_folder/";
  auto pngOf = [&](const std::string& name) {
    // The fuzz inputs carry a selector byte in front of the PNG.
    std::ifstream in(corpus + name, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_GT(bytes.size(), 9u) << name;
    const std::string path = dir.file(name + ".png");
    std::ofstream(path, std::ios::binary) << bytes.substr(1);
    return path;
  };
  // A malformed ancillary chunk (sCAL) is skipped: the pixels read, without a pixel size.
  const Volume scal = readVolume(pngOf("png_malformed_scal"));
  EXPECT_EQ(scal.size(), (Size3{24, 16, 1}));
  for (const std::string name : {"png_ihdr_bad_crc", "png_idat_truncated"}) {
    const std::string path = pngOf(name);
    try {
      (void)readVolume(path);
      ADD_FAILURE() << name << " was read";
    } catch (const FileError& e) {
      EXPECT_NE(std::string(e.what()).find(name + ".png"), std::string::npos) << e.what();
    }
  }
  // A chunk that claims more than the file holds (sCAL: 2 GB in a 127-byte file) is refused before
  // libpng, which allocated and zeroed the claim (4 s and 2 GB; found by fuzz_bscan_folder).
  try {
    (void)readVolume(pngOf("png_scal_claims_2gb"));
    ADD_FAILURE() << "png_scal_claims_2gb was read";
  } catch (const FileError& e) {
    EXPECT_NE(e.reason().find("sCAL chunk claims 2013265927 bytes"), std::string::npos) << e.what();
  }
}

TEST(RealData, HeyexXmlExportTiffBScans) {
  const std::string folder = realDataPath("oct/heidelberg-xml/test_volume");
  if (folder.empty()) GTEST_SKIP() << "shared/realdata not found: skipping the HEYEX TIFF folder";
  const auto files = imageStackFiles(folder);
  ASSERT_GE(files.size(), 11u);
  // The folder mixes 11 B-scans (40 x 50 or 50 x 50, per SOURCES.md) and one NIR image: an
  // error naming the odd one out, or a volume, but never a crash.
  try {
    const Volume v = readVolume(folder);
    EXPECT_GE(v.size().z, 11);
  } catch (const FileError& e) {
    EXPECT_NE(e.path().find(".tif"), std::string::npos) << e.what();
  }
}
