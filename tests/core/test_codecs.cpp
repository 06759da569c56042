// Hostile and unusual DICOM: every file pydicom decodes in ../shared/realdata decodes here to the
// same values (JPEG 2000 through OpenJPEG, JPEG-LS through DCMTK or CharLS); sequences nested
// thousands deep, headers that lie about the image size and images over the memory budget get
// an error naming the file, never a crash or an allocation of what the header claims.

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

#include "HostileDicom.h"
#include "TestPaths.h"
#include "errors/Error.h"
#include "io/DicomGuard.h"
#include "io/VolumeInfo.h"
#include "io/VolumeReader.h"
#include "runtime/MemoryBudget.h"
#include "runtime/Utf8.h"

namespace al {
namespace {

using nlohmann::json;

// The value pydicom's flat index `p` refers to (frames, channels, rows, columns), in a volume
// whose slices may be the frames in another order (sourceImages says which frame each holds).
double valueAt(const Volume& v, const std::map<int, std::int64_t>& sliceOfFrame, const json& e, std::int64_t p) {
  const std::int64_t columns = e["columns"], rows = e["rows"], channels = e["channels"];
  const std::int64_t x = p % columns, y = (p / columns) % rows, c = (p / (columns * rows)) % channels;
  const std::int64_t frame = p / (columns * rows * channels);
  const auto it = sliceOfFrame.find(static_cast<int>(frame) + 1);
  const std::int64_t z = it != sliceOfFrame.end() ? it->second : frame;
  return v.value(x, y, z, static_cast<int>(c));
}

TEST(DicomCodecs, EveryFilePydicomDecodesDecodesToTheSameValues) {
  const std::string root = realDataPath("dicom");
  if (root.empty()) GTEST_SKIP() << "../shared/realdata/dicom is absent: the comparison with pydicom was not run";
  std::ifstream in(std::string(ANOMALYLENS_FIXTURES_DIR) + "/dicom_pixel_reference.json");
  ASSERT_TRUE(in) << "tests/fixtures/dicom_pixel_reference.json is missing";
  const json reference = json::parse(in);
  ASSERT_GT(reference.size(), 250u);
  // Files pydicom returns an array for that are refused here, each with an error naming it:
  const std::map<std::string, std::string> refused = {
      // DCMTK's parser stops at element (0008,0008) written with a blank VR, which pydicom skips
      {"dicom/pydicom/SC_rgb_jpeg.dcm", "not a readable DICOM file"},
      // its codestream's SIZ segment is damaged (pydicom's array is all zeros: not a decode)
      {"dicom/pydicom/JPEG2000-embedded-sequence-delimiter.dcm", "JPEG 2000 header cannot be read"},
      // palette images with segmented lookup tables, which DCMTK 3.6.7 cannot expand
      {"dicom/pydicom-data/gdcm-US-ALOKA-16.dcm", "segmented palette colour lookup tables are not supported"},
      {"dicom/pydicom-data/gdcm-US-ALOKA-16_big.dcm", "segmented palette colour lookup tables are not supported"},
  };
  int compared = 0, absent = 0, refusedCount = 0;
  std::vector<std::string> failures;
  for (const auto& [relative, e] : reference.items()) {
    const std::string path = realDataPath(relative);
    if (path.empty()) {
      ++absent;
      continue;
    }
    if (const auto it = refused.find(relative); it != refused.end()) {
      try {
        readVolume(path);
        failures.push_back(relative + ": now reads; take it off the refused list");
      } catch (const FileError& err) {
        EXPECT_EQ(err.path(), path);
        EXPECT_NE(err.reason().find(it->second), std::string::npos) << err.reason();
        ++refusedCount;
      }
      continue;
    }
    try {
      const Volume v = readVolume(path);
      const std::int64_t frames = e["frames"], channels = e["channels"];
      if (v.size().x != e["columns"].get<std::int64_t>() || v.size().y != e["rows"].get<std::int64_t>() ||
          v.size().z != frames || v.channels() != channels) {
        failures.push_back(relative + ": size " + std::to_string(v.size().x) + " x " + std::to_string(v.size().y) +
                           " x " + std::to_string(v.size().z) + " x " + std::to_string(v.channels()) + ", pydicom " +
                           e["columns"].dump() + " x " + e["rows"].dump() + " x " + e["frames"].dump() + " x " +
                           e["channels"].dump());
        continue;
      }
      std::map<int, std::int64_t> sliceOfFrame;
      const auto& sources = v.metadata().sourceImages;
      for (std::size_t z = 0; z < sources.size(); ++z)
        if (sources[z].frame > 0) sliceOfFrame[sources[z].frame] = static_cast<std::int64_t>(z);
      // Lossless syntaxes must match exactly; lossy JPEG may differ by the IDCT's rounding
      // (DCMTK's IJG against Pillow's libjpeg-turbo).
      const double scale = std::max(1.0, e["max"].get<double>() - e["min"].get<double>());
      const double tolerance =
          e["lossy"].get<bool>() ? 0.02 * scale + 2.0 : 1e-3 * std::max(1.0, std::abs(e["max"].get<double>()));
      std::string mismatch;
      for (std::size_t i = 0; i < e["positions"].size() && mismatch.empty(); ++i) {
        const double ours = valueAt(v, sliceOfFrame, e, e["positions"][i].get<std::int64_t>());
        const double theirs = e["values"][i];
        if (!(std::abs(ours - theirs) <= tolerance)) {
          mismatch = relative + ": at flat index " + e["positions"][i].dump() + " " + std::to_string(ours) +
                     ", pydicom " + std::to_string(theirs);
        }
      }
      if (!mismatch.empty())
        failures.push_back(mismatch);
      else
        ++compared;
    } catch (const Error& err) {
      failures.push_back(relative + ": " + err.reason());
    }
  }
  for (const auto& f : failures) ADD_FAILURE() << f;
  std::printf("compared %d files with pydicom's values; %d refused with a reason; %d listed files absent\n", compared,
              refusedCount, absent);
  EXPECT_GT(compared, 250);
}

TEST(DicomCodecs, IssueFilesDecode) {
  // Two aborted the process inside GDCM, four were refused: now each decodes.
  const struct {
    const char* file;
    std::int64_t columns, rows, frames;
  } cases[] = {{"dicom/pydicom-data/liver_j2k.dcm", 512, 512, 3},
               {"dicom/pydicom-data/liver_nonbyte_aligned_j2k.dcm", 510, 510, 3},
               {"dicom/pydicom-data/JLSL_08_07_0_1F.dcm", 128, 128, 1},
               {"dicom/pydicom-data/RG1_J2KI.dcm", 1841, 1955, 1},
               {"dicom/pydicom-data/RG3_J2KI.dcm", 1760, 1760, 1},
               {"dicom/pydicom-data/RG3_J2KR.dcm", 1760, 1760, 1},
               {"dicom/pydicom-data/HTJ2K_08_RGB.dcm", 640, 480, 1}};
  int read = 0;
  for (const auto& c : cases) {
    const std::string path = realDataPath(c.file);
    if (path.empty()) continue;
    const Volume v = readVolume(path);
    EXPECT_EQ(v.size().x, c.columns) << c.file;
    EXPECT_EQ(v.size().y, c.rows) << c.file;
    EXPECT_EQ(v.size().z, c.frames) << c.file;
    ++read;
  }
  if (read == 0) GTEST_SKIP() << "../shared/realdata is absent: none of the files was tried";
  EXPECT_EQ(read, 7);
}

void writeBytes(const std::string& path, const std::string& bytes);

// Found by fuzz_dicom_file: CharLS spent 20 s failing on a 120-byte JPEG-LS frame that lacked its
// end marker. A frame without one gets it appended before CharLS: a complete stream decodes to
// the same values as with its marker.
TEST(DicomCodecs, AJpegLsFrameWithoutItsEndMarkerDecodesTheSame) {
  const std::string path = realDataPath("dicom/pydicom-data/JLSL_16_15_1_1F.dcm");
  if (path.empty()) GTEST_SKIP() << "../shared/realdata is absent: JLSL_16_15_1_1F.dcm was not tried";
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::size_t eoi = bytes.rfind(std::string("\xFF\xD9", 2));
  ASSERT_NE(eoi, std::string::npos);
  bytes.replace(eoi, 2, std::string(2, '\0'));  // the item's length stays; zeros are padding
  TempDir dir;
  writeBytes(dir.file("no-eoi.dcm"), bytes);
  const Volume ours = readVolume(dir.file("no-eoi.dcm")), reference = readVolume(path);
  ASSERT_EQ(ours.size(), reference.size());
  ASSERT_EQ(ours.pixelType(), reference.pixelType());
  const auto n = static_cast<std::size_t>(reference.voxelsPerChannel()) * static_cast<std::size_t>(reference.channels()) *
                 pixelTypeSize(reference.pixelType());
  EXPECT_EQ(std::memcmp(ours.bytes(), reference.bytes(), n), 0);
}

// ---- hostile files made here -------------------------------------------------------------------

void writeBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

TEST(DicomHostile, DeeplyNestedSequencesAreRefusedBeforeParsing) {
  TempDir dir;
  for (const bool defined : {false, true}) {
    // 200,000 levels overflowed the 8 MiB main stack inside DCMTK (SIGSEGV); worker threads
    // have less.
    const std::string path = dir.file(defined ? "defined.dcm" : "undefined.dcm");
    writeBytes(path, hostile::nestedDicom(defined ? 20000 : 200000, defined));
    EXPECT_GT(dicomSequenceDepth(path), kMaxSequenceDepth);
    try {
      readVolume(path);
      ADD_FAILURE() << "a file nested 200,000 deep was read";
    } catch (const FileError& e) {
      EXPECT_EQ(e.path(), path);
      EXPECT_NE(e.reason().find("nest"), std::string::npos) << e.reason();
    }
  }
  // What DCMTK also reads as a sequence: a private OB of undefined length, and nesting behind an
  // element whose VR the walk cannot read (DCMTK guesses around it).
  std::string nonStandard;
  hostile::putU16(nonStandard, 0x0009);
  hostile::putU16(nonStandard, 0x0010);
  nonStandard += std::string("\0\0", 2);
  hostile::putU16(nonStandard, 2);
  nonStandard += "AB";
  for (const auto& [name, bytes] : std::vector<std::pair<std::string, std::string>>{
           {"ob.dcm", hostile::nestedDicom(200000, false, "OB", 0x0009, 0x1010)},
           {"vr.dcm", hostile::nestedDicom(200000, false, "SQ", 0x0040, 0xA730, nonStandard)}}) {
    const std::string path = dir.file(name);
    writeBytes(path, bytes);
    try {
      readVolume(path);
      ADD_FAILURE() << name << ": read";
    } catch (const FileError& e) {
      EXPECT_NE(e.reason().find("nest"), std::string::npos) << name << ": " << e.reason();
    }
  }
  // Real nesting depths pass the check and are measured exactly.
  const std::string shallow = dir.file("shallow.dcm");
  writeBytes(shallow, hostile::nestedDicom(12, false));
  EXPECT_EQ(dicomSequenceDepth(shallow), 12);
  writeBytes(shallow, hostile::nestedDicom(7, true));
  EXPECT_EQ(dicomSequenceDepth(shallow), 7);
  EXPECT_NO_THROW(checkDicomNesting(shallow));
}

TEST(DicomHostile, RealFilesNestWithinTheLimit) {
  // Enhanced multi-frame, SR, SEG and parametric maps: their real depth is far below the limit.
  int checked = 0;
  for (const char* f : {"dicom/pydicom-data/emri_small_jpeg_2k_lossless.dcm", "dicom/pydicom/test-SR.dcm",
                        "dicom/pydicom-data/liver.dcm"}) {
    const std::string path = realDataPath(f);
    if (path.empty()) continue;
    const int depth = dicomSequenceDepth(path);
    EXPECT_LE(depth, 16) << f;
    ++checked;
  }
  if (checked == 0) GTEST_SKIP() << "../shared/realdata is absent";
}

std::string readError(const std::string& path) {
  try {
    readVolume(path);
  } catch (const FileError& e) {
    EXPECT_EQ(e.path(), path);
    return e.reason();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not a FileError: " << e.what();
  }
  return "";
}

TEST(DicomHostile, HeadersThatLieAboutTheSizeAreRefusedBeforeAllocating) {
  TempDir dir;
  auto write = [&](const std::string& name, const std::string& bytes) {
    writeBytes(dir.file(name), bytes);
    return dir.file(name);
  };
  EXPECT_NO_THROW(readVolume(write("honest.dcm", hostile::imageDicom(64, 64))));
  // Uncompressed: the file holds 8 KiB, the header claims 65535 x 65535 x 1000 frames (8 TiB).
  const std::string huge = readError(write("huge.dcm", hostile::imageDicom(65535, 65535, "1000")));
  EXPECT_NE(huge.find("claims"), std::string::npos) << huge;
  EXPECT_NE(huge.find("memory budget"), std::string::npos) << huge;
  // Within the budget but beyond the file: refused against the pixel data's length.
  const std::string longer = readError(write("longer.dcm", hostile::imageDicom(640, 640, "3")));
  EXPECT_NE(longer.find("pixel data holds 8.0 KiB"), std::string::npos) << longer;
  EXPECT_NE(longer.find("640 x 640 x 3 frames"), std::string::npos) << longer;
}

TEST(DicomHostile, CompressedHeadersThatLieAreRefused) {
  const std::string source = realDataPath("dicom/pydicom-data/RG3_J2KR.dcm");
  if (source.empty()) GTEST_SKIP() << "../shared/realdata is absent: no compressed file to edit";
  TempDir dir;
  auto edited = [&](const std::string& name, auto edit) {
    DcmFileFormat file;
    EXPECT_TRUE(file.loadFile(source.c_str()).good());
    edit(*file.getDataset());
    const std::string path = dir.file(name);
    EXPECT_TRUE(file.saveFile(path.c_str(), EXS_JPEG2000LosslessOnly).good());
    return path;
  };
  // A million frames in one fragment: refused before any frame buffer exists.
  const std::string frames =
      readError(edited("frames.dcm", [](DcmDataset& d) { d.putAndInsertString(DCM_NumberOfFrames, "1000000"); }));
  EXPECT_NE(frames.find("1000000 frames"), std::string::npos) << frames;
  // Rows and columns that disagree with the codestream.
  const std::string size = readError(edited("size.dcm", [](DcmDataset& d) { d.putAndInsertUint16(DCM_Rows, 4000); }));
  EXPECT_NE(size.find("codestream holds 1760 x 1760"), std::string::npos) << size;
  // Over the memory budget: refused with the claimed size and the limit.
  setMemoryBudgetBytes(1 << 20);
  const std::string budget = readError(source);
  setMemoryBudgetBytes(0);
  EXPECT_NE(budget.find("memory budget of 1.0 MiB"), std::string::npos) << budget;
  EXPECT_NE(budget.find("1760 x 1760"), std::string::npos) << budget;
}

TEST(Utf8, InvalidBytesAreReplacedAndMarked) {
  bool replaced = true;
  EXPECT_EQ(validUtf8("M\xC3\xBCller", &replaced), "M\xC3\xBCller");  // valid UTF-8 stays
  EXPECT_FALSE(replaced);
  EXPECT_EQ(validUtf8("M\xFCller", &replaced), "M\xEF\xBF\xBDller");  // Latin-1 byte
  EXPECT_TRUE(replaced);
  EXPECT_EQ(validUtf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong
  EXPECT_EQ(validUtf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(validUtf8("ab\xE2\x82"), "ab\xEF\xBF\xBD\xEF\xBF\xBD");              // truncated sequence
  EXPECT_EQ(validUtf8("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");                  // 4-byte
}

TEST(DicomHostile, TextInAnUndeclaredOrWrongCharacterSetBecomesValidUtf8) {
  TempDir dir;
  // No character set declared, Latin-1 bytes: replaced and marked.
  writeBytes(dir.file("undeclared.dcm"), hostile::imageDicom(64, 64, "", 64 * 64, "M\xFCller^J\xF6rg"));
  const Volume a = readVolume(dir.file("undeclared.dcm"));
  EXPECT_EQ(a.metadata().patientName, "M\xEF\xBF\xBDller^J\xEF\xBF\xBDrg");
  ASSERT_FALSE(a.metadata().warnings.empty());
  EXPECT_NE(a.metadata().warnings.back().find("none is declared"), std::string::npos) << a.metadata().warnings.back();
  // Declared ISO_IR 100: converted.
  writeBytes(dir.file("latin1.dcm"), hostile::imageDicom(64, 64, "", 64 * 64, "M\xFCller", "ISO_IR 100"));
  EXPECT_EQ(readVolume(dir.file("latin1.dcm")).metadata().patientName, "M\xC3\xBCller");
  // Declared UTF-8 but holding Latin-1: replaced.
  writeBytes(dir.file("lying.dcm"), hostile::imageDicom(64, 64, "", 64 * 64, "M\xFCller", "ISO_IR 192"));
  EXPECT_EQ(readVolume(dir.file("lying.dcm")).metadata().patientName, "M\xEF\xBF\xBDller");
}

// Found by fuzz_dicom_file: a meta header whose Transfer Syntax UID holds bytes that are not
// UTF-8 was named raw in the volume's transfer syntax, and `info --json` (or any JSON of the
// volume) failed on it. A UID is digits and periods: anything else is shown escaped.
TEST(DicomHostile, ADamagedTransferSyntaxUidIsNamedAsPrintableText) {
  TempDir dir;
  std::string file = hostile::imageDicom(64, 64);
  const std::string good("1.2.840.10008.1.2.1\0", 20), bad("1.2.840.10008.1.2\xFF\xFE\0", 20);
  const std::size_t at = file.find(good);
  ASSERT_NE(at, std::string::npos);
  file.replace(at, good.size(), bad);
  writeBytes(dir.file("damaged-uid.dcm"), file);
  // DCMTK reads the dataset (explicit VR little endian, as it finds): the volume opens.
  const Volume v = readVolume(dir.file("damaged-uid.dcm"));
  const std::string name = v.metadata().transferSyntax;
  EXPECT_EQ(validUtf8(name), name);
  EXPECT_NE(name.find("1.2.840.10008.1.2\\xFF\\xFE"), std::string::npos) << name;
  EXPECT_NO_THROW((void)describeVolume(v).dump());
}

TEST(MemoryBudget, DefaultIsHalfThePhysicalMemoryAndTheEnvironmentSetsIt) {
  const std::uint64_t budget = memoryBudgetBytes();
  EXPECT_GT(budget, std::uint64_t{256} << 20);
  setMemoryBudgetBytes(12345);
  EXPECT_EQ(memoryBudgetBytes(), 12345u);
  setMemoryBudgetBytes(0);
  EXPECT_EQ(memoryBudgetBytes(), budget);
  EXPECT_EQ(imageBytes(65535, 65535, 65535, 3, 4), 65535ull * 65535 * 65535 * 3 * 4);
  EXPECT_EQ(imageBytes(1ull << 32, 1ull << 32, 1ull << 32, 1, 1), ~std::uint64_t{0});  // saturates, never wraps
  EXPECT_EQ(formatBytes(1536), "1.5 KiB");
}

TEST(MemoryBudget, TheRefusalSaysWhatSetTheBudget) {
  auto refusal = [] {
    try {
      checkMemoryBudget("/data/scan.nii", std::uint64_t{1} << 50, "the header");
    } catch (const FileError& e) {
      return std::string(e.what());
    }
    return std::string("not refused");
  };
  const char* before = std::getenv("ANOMALYLENS_MEMORY_BUDGET_MB");
  const std::string saved = before ? before : "";
  ::unsetenv("ANOMALYLENS_MEMORY_BUDGET_MB");
  EXPECT_NE(refusal().find("/data/scan.nii"), std::string::npos) << refusal();
  EXPECT_NE(refusal().find("(half the physical memory;"), std::string::npos) << refusal();
  ::setenv("ANOMALYLENS_MEMORY_BUDGET_MB", "512", 1);
  EXPECT_NE(refusal().find("512.0 MiB (set by ANOMALYLENS_MEMORY_BUDGET_MB)"), std::string::npos) << refusal();
  setMemoryBudgetBytes(std::uint64_t{64} << 20);
  EXPECT_NE(refusal().find("64.0 MiB (set by the program)"), std::string::npos) << refusal();
  setMemoryBudgetBytes(0);
  if (before) ::setenv("ANOMALYLENS_MEMORY_BUDGET_MB", saved.c_str(), 1);
  else ::unsetenv("ANOMALYLENS_MEMORY_BUDGET_MB");
}

}  // namespace
}  // namespace al
