// DICOM reading against files the test writes itself with DCMTK: every transfer syntax DCMTK can
// encode, and series made awkward on purpose (shuffled, a missing slice, a tilted gantry, two
// orientations, two echoes, a truncated slice, MONOCHROME1).

#include <gtest/gtest.h>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcrleerg.h>
#include <dcmtk/dcmdata/dcddirif.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmimgle/dcmimage.h>
#include <dcmtk/dcmjpeg/djencode.h>
#include <dcmtk/dcmjpeg/djrplol.h>
#include <dcmtk/dcmjpeg/djrploss.h>
#include <dcmtk/dcmjpls/djencode.h>
#include <dcmtk/dcmjpls/djrparam.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <random>

#include "TestPaths.h"
#include "errors/Error.h"
#include "io/DicomFileReader.h"
#include "io/DicomSeriesReader.h"
#include "io/DicomWriter.h"
#include "io/VolumeReader.h"
#include "io/oct/OptFundus.h"

using namespace al;
namespace fs = std::filesystem;

namespace {

struct Codecs {
  Codecs() {
    initDcmtk();
    DJEncoderRegistration::registerCodecs();
    DJLSEncoderRegistration::registerCodecs();
    DcmRLEEncoderRegistration::registerCodecs();
  }
};
const Codecs codecs;

// A 64 x 48 slice of a smooth pattern; `bits` stored, unsigned.
void fillImage(DcmDataset& ds, int bits, int seed) {
  const Uint16 rows = 48, cols = 64;
  ds.putAndInsertString(DCM_SOPClassUID, UID_SecondaryCaptureImageStorage);
  ds.putAndInsertString(DCM_SOPInstanceUID, newDicomUid().c_str());
  ds.putAndInsertString(DCM_SeriesInstanceUID, newDicomUid().c_str());
  ds.putAndInsertString(DCM_Modality, "OT");
  ds.putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
  ds.putAndInsertUint16(DCM_SamplesPerPixel, 1);
  ds.putAndInsertUint16(DCM_Rows, rows);
  ds.putAndInsertUint16(DCM_Columns, cols);
  ds.putAndInsertUint16(DCM_BitsAllocated, bits > 8 ? 16 : 8);
  ds.putAndInsertUint16(DCM_BitsStored, static_cast<Uint16>(bits));
  ds.putAndInsertUint16(DCM_HighBit, static_cast<Uint16>(bits - 1));
  ds.putAndInsertUint16(DCM_PixelRepresentation, 0);
  const int max = (1 << bits) - 1;
  std::vector<Uint16> v16(rows * cols);
  std::vector<Uint8> v8(rows * cols);
  for (int y = 0; y < rows; ++y)
    for (int x = 0; x < cols; ++x) {
      const double f = 0.5 + 0.45 * std::sin(x * 0.2 + seed) * std::cos(y * 0.15);
      v16[static_cast<std::size_t>(y * cols + x)] = static_cast<Uint16>(f * max);
      v8[static_cast<std::size_t>(y * cols + x)] = static_cast<Uint8>(f * max);
    }
  if (bits > 8) ds.putAndInsertUint16Array(DCM_PixelData, v16.data(), rows * cols);
  else ds.putAndInsertUint8Array(DCM_PixelData, v8.data(), rows * cols);
}

std::string writeEncoded(const TempDir& dir, const std::string& name, int bits, E_TransferSyntax xfer, const DcmRepresentationParameter* params) {
  DcmFileFormat file;
  fillImage(*file.getDataset(), bits, 1);
  EXPECT_TRUE(file.getDataset()->chooseRepresentation(xfer, params).good()) << name;
  EXPECT_TRUE(file.getDataset()->canWriteXfer(xfer)) << name;
  const std::string path = dir.file(name);
  EXPECT_TRUE(file.saveFile(path.c_str(), xfer).good()) << name;
  return path;
}

double maxAbsDifference(const Volume& a, const Volume& b) {
  double d = 0;
  for (std::int64_t y = 0; y < a.size().y; ++y)
    for (std::int64_t x = 0; x < a.size().x; ++x) d = std::max(d, std::abs(a.value(x, y, 0) - b.value(x, y, 0)));
  return d;
}

double meanAbsDifference(const Volume& a, const Volume& b) {
  double d = 0;
  for (std::int64_t y = 0; y < a.size().y; ++y)
    for (std::int64_t x = 0; x < a.size().x; ++x) d += std::abs(a.value(x, y, 0) - b.value(x, y, 0));
  return d / static_cast<double>(a.size().x * a.size().y);
}

// The real-world values DCMTK computes for a single-frame file (its own modality transform).
Volume dcmtkRealWorld(const std::string& path) {
  DicomImage image(path.c_str());
  EXPECT_EQ(image.getStatus(), EIS_Normal);
  const DiPixel* p = image.getInterData();
  Volume v(PixelType::Float32, Size3{static_cast<std::int64_t>(image.getWidth()), static_cast<std::int64_t>(image.getHeight()), 1});
  for (std::int64_t i = 0; i < v.voxelsPerChannel(); ++i) {
    double x = 0;
    switch (p->getRepresentation()) {
      case EPR_Uint8: x = static_cast<const Uint8*>(p->getData())[i]; break;
      case EPR_Sint8: x = static_cast<const Sint8*>(p->getData())[i]; break;
      case EPR_Uint16: x = static_cast<const Uint16*>(p->getData())[i]; break;
      case EPR_Sint16: x = static_cast<const Sint16*>(p->getData())[i]; break;
      case EPR_Uint32: x = static_cast<const Uint32*>(p->getData())[i]; break;
      case EPR_Sint32: x = static_cast<const Sint32*>(p->getData())[i]; break;
    }
    v.data<float>()[i] = static_cast<float>(x);
  }
  return v;
}

// An MR-like series of `n` slices written with the project's writer.
Volume seriesVolume(int n) {
  Volume v(PixelType::Int16, Size3{32, 24, n});
  for (std::int64_t z = 0; z < n; ++z)
    for (std::int64_t y = 0; y < 24; ++y)
      for (std::int64_t x = 0; x < 32; ++x) v.setValue(x, y, z, 0, static_cast<double>(x + 40 * y + 1000 * z));
  v.setSpacing({0.9, 0.8, 2.5});
  v.setOrigin({-10, 20, -30});
  return v;
}

void setString(const std::string& path, const DcmTagKey& key, const std::string& value) {
  DcmFileFormat file;
  ASSERT_TRUE(file.loadFile(path.c_str()).good());
  file.loadAllDataIntoMemory();  // large values are read lazily: load them before overwriting the file
  file.getDataset()->putAndInsertString(key, value.c_str());
  ASSERT_TRUE(file.saveFile(path.c_str(), EXS_LittleEndianExplicit).good());
}

DicomSeriesEntry onlySeries(const std::string& folder) {
  const auto index = indexDicomFolder(folder);
  EXPECT_EQ(index.series.size(), 1u);
  return index.series.empty() ? DicomSeriesEntry{} : index.series.front();
}

}  // namespace

TEST(DicomEncodings, EveryTransferSyntaxDcmtkWritesReadsBack) {
  TempDir dir;
  const Volume reference12 = readVolume(writeEncoded(dir, "ref12.dcm", 12, EXS_LittleEndianExplicit, nullptr));
  const Volume reference8 = readVolume(writeEncoded(dir, "ref8.dcm", 8, EXS_LittleEndianExplicit, nullptr));
  ASSERT_EQ(reference12.pixelType(), PixelType::Int16);  // 12 bits unsigned fit int16
  ASSERT_EQ(reference8.pixelType(), PixelType::UInt8);
  DJ_RPLossless lossless;
  DJ_RPLossy lossy(90);
  DJLSRepresentationParameter lsLossless(0, OFTrue);
  DJLSRepresentationParameter lsNear(2, OFFalse);
  struct Case { const char* name; int bits; E_TransferSyntax xfer; const DcmRepresentationParameter* params; double tolerance; };
  const Case cases[] = {
      {"implicit", 12, EXS_LittleEndianImplicit, nullptr, 0},
      {"bigendian", 12, EXS_BigEndianExplicit, nullptr, 0},
      {"deflated", 12, EXS_DeflatedLittleEndianExplicit, nullptr, 0},
      {"rle", 12, EXS_RLELossless, nullptr, 0},
      {"jpeg-lossless", 12, EXS_JPEGProcess14SV1, &lossless, 0},
      {"jpeg-baseline", 8, EXS_JPEGProcess1, &lossy, 255 * 0.1},
      {"jpeg-extended", 12, EXS_JPEGProcess2_4, &lossy, 4095 * 0.1},
      {"jpegls-lossless", 12, EXS_JPEGLSLossless, &lsLossless, 0},
      {"jpegls-near", 12, EXS_JPEGLSLossy, &lsNear, 2.5},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const Volume v = readVolume(writeEncoded(dir, std::string(c.name) + ".dcm", c.bits, c.xfer, c.params));
    const Volume& ref = c.bits == 8 ? reference8 : reference12;
    ASSERT_EQ(v.size(), ref.size());
    EXPECT_EQ(v.pixelType(), ref.pixelType());
    if (c.tolerance == 0) {
      EXPECT_EQ(maxAbsDifference(v, ref), 0.0);  // lossless: the very pixels written
    } else {
      // Lossy: DCMTK's encoder may also rescale what it compresses, so compare with the
      // real-world values DCMTK itself decodes from the same file, and loosely with the source.
      EXPECT_LE(maxAbsDifference(v, dcmtkRealWorld(dir.file(std::string(c.name) + ".dcm"))), 0.5);
      EXPECT_LE(meanAbsDifference(v, ref), c.tolerance);
    }
    EXPECT_EQ(v.metadata().transferSyntax, DcmXfer(c.xfer).getXferName());
  }
}

TEST(DicomEncodings, Monochrome1IsInvertedAndSaysSo) {
  TempDir dir;
  const std::string path = writeEncoded(dir, "m1.dcm", 12, EXS_LittleEndianExplicit, nullptr);
  const Volume before = readVolume(path);
  setString(path, DCM_PhotometricInterpretation, "MONOCHROME1");
  const Volume after = readVolume(path);
  EXPECT_EQ(after.value(5, 7, 0), 4095 - before.value(5, 7, 0));
  ASSERT_FALSE(after.metadata().warnings.empty());
  EXPECT_NE(after.metadata().warnings.front().find("MONOCHROME1"), std::string::npos);
}

TEST(DicomEncodings, SignedSixteenBitWithInterceptBecomesFloatRatherThanClipped) {
  TempDir dir;
  DcmFileFormat file;
  fillImage(*file.getDataset(), 12, 2);
  DcmDataset& ds = *file.getDataset();
  ds.putAndInsertUint16(DCM_BitsStored, 16);
  ds.putAndInsertUint16(DCM_HighBit, 15);
  ds.putAndInsertUint16(DCM_PixelRepresentation, 1);
  ds.putAndInsertString(DCM_RescaleIntercept, "-1024");
  ds.putAndInsertString(DCM_RescaleSlope, "1");
  const std::string path = dir.file("ct.dcm");
  ASSERT_TRUE(file.saveFile(path.c_str(), EXS_LittleEndianExplicit).good());
  const Volume v = readVolume(path);
  EXPECT_EQ(v.pixelType(), PixelType::Float32);  // -32768 - 1024 does not fit int16
  Uint16 raw = 0;
  ds.findAndGetUint16(DCM_PixelData, raw, 0);
  EXPECT_EQ(v.value(0, 0, 0), static_cast<double>(static_cast<Sint16>(raw)) - 1024);
}

TEST(DicomSeries, ShuffledFileNamesStillGiveTheSliceOrderOfThePositions) {
  TempDir dir;
  const Volume v = seriesVolume(12);
  const auto files = writeDicomMrSeries(v, 0, dir.file("s"), DicomStudy{}, DicomSeries{});
  // Rename every file to a random name: file names must not matter.
  std::vector<std::string> names;
  for (std::size_t i = 0; i < files.size(); ++i) names.push_back("x" + std::to_string((i * 7919) % 1000));
  std::shuffle(names.begin(), names.end(), std::mt19937(3));
  for (std::size_t i = 0; i < files.size(); ++i) fs::rename(files[i], dir.file("s/" + names[i]));
  const Volume back = readVolume(dir.file("s"));
  ASSERT_EQ(back.size(), v.size());
  EXPECT_EQ(std::memcmp(back.bytes(), v.bytes(), v.byteSize()), 0);
  EXPECT_NEAR(back.spacing()[2], 2.5, 1e-6);
  EXPECT_NEAR(back.origin()[2], -30, 1e-6);
}

TEST(DicomSeries, AMissingSliceSplitsTheSeriesAndSaysWhere) {
  TempDir dir;
  const auto files = writeDicomMrSeries(seriesVolume(10), 0, dir.file("s"), DicomStudy{}, DicomSeries{});
  fs::remove(files[6]);
  const auto plan = planDicomSeries(onlySeries(dir.file("s")));
  ASSERT_EQ(plan.stacks.size(), 2u);
  EXPECT_EQ(plan.stacks[0].files.size(), 6u);
  EXPECT_EQ(plan.stacks[1].files.size(), 3u);
  ASSERT_FALSE(plan.notes.empty());
  EXPECT_NE(plan.notes.front().find("gap of 5 mm"), std::string::npos) << plan.notes.front();
  EXPECT_THROW(readVolume(dir.file("s")), FileError);  // never one wrong volume
  const Volume second = readDicomStack(plan.stacks[1]);
  EXPECT_EQ(second.value(0, 0, 0), 7000);  // slice 7 of the original
}

TEST(DicomSeries, TwoOrientationsAndTwoEchoesBecomeSeparateStacks) {
  TempDir dir;
  DicomSeries series;
  series.seriesInstanceUid = newDicomUid();
  writeDicomMrSeries(seriesVolume(4), 0, dir.file("s/axial"), DicomStudy{}, series);
  Volume sagittal = seriesVolume(3);
  sagittal.setDirection({0, 0, 1, 1, 0, 0, 0, 1, 0});
  writeDicomMrSeries(sagittal, 0, dir.file("s/sagittal"), DicomStudy{}, series);
  auto plan = planDicomSeries(onlySeries(dir.file("s")));
  ASSERT_EQ(plan.stacks.size(), 2u);
  EXPECT_NE(plan.notes.front().find("orientations"), std::string::npos);

  TempDir echoes;
  DicomSeries multi;
  multi.seriesInstanceUid = newDicomUid();
  writeDicomMrSeries(seriesVolume(5), 0, echoes.file("e/1"), DicomStudy{}, multi);
  writeDicomMrSeries(seriesVolume(5), 0, echoes.file("e/2"), DicomStudy{}, multi);
  plan = planDicomSeries(onlySeries(echoes.file("e")));
  ASSERT_EQ(plan.stacks.size(), 2u);
  EXPECT_EQ(plan.stacks[0].files.size(), 5u);
  EXPECT_NE(plan.notes.front().find("share each position"), std::string::npos);
}

TEST(DicomSeries, TiltedGantryIsMeasuredAndReported) {
  TempDir dir;
  const auto files = writeDicomMrSeries(seriesVolume(8), 0, dir.file("s"), DicomStudy{}, DicomSeries{});
  // Shift each slice along y by tan(15 deg) x its distance along z, as a tilted CT gantry does.
  for (std::size_t z = 0; z < files.size(); ++z) {
    const double dz = 2.5 * static_cast<double>(z);
    setString(files[z], DCM_ImagePositionPatient,
              "-10\\" + std::to_string(20 + dz * std::tan(15.0 * 3.14159265358979 / 180)) + "\\" + std::to_string(-30 + dz));
  }
  const Volume v = readVolume(dir.file("s"));
  EXPECT_EQ(v.size().z, 8);
  ASSERT_FALSE(v.metadata().warnings.empty());
  EXPECT_NE(v.metadata().warnings.front().find("gantry tilt of 15.0 degrees"), std::string::npos) << v.metadata().warnings.front();
}

TEST(DicomSeries, ATruncatedSliceIsAnErrorNamingThatFile) {
  TempDir dir;
  const auto files = writeDicomMrSeries(seriesVolume(6), 0, dir.file("s"), DicomStudy{}, DicomSeries{});
  fs::resize_file(files[3], fs::file_size(files[3]) - 300);
  // Indexing reads headers only: the damaged pixel data is not touched until the series is read.
  const auto index = indexDicomFolder(dir.file("s"));
  ASSERT_EQ(index.series.size(), 1u);
  EXPECT_EQ(index.series.front().files.size(), 6u);
  EXPECT_TRUE(index.errors.empty());
  try {
    readVolume(dir.file("s"));
    FAIL() << "no error";
  } catch (const FileError& e) {
    EXPECT_EQ(e.path(), files[3]);
  }
}

TEST(DicomOct, TheReferencedFundusPhotographAndTheBScanLinesAreFound) {
  TempDir dir;
  DicomStudy study;
  study.complete();
  Volume oct(PixelType::UInt8, Size3{32, 20, 5});
  oct.setSpacing({0.2, 0.004, 0.3});
  DicomSeries series;
  series.laterality = "L";
  const std::string optPath = dir.file("oct.dcm");
  writeDicomOphthalmicTomography(oct, optPath, study, series);
  // The fundus photograph: 64 x 64, 0.1 mm pixels, in the same study.
  const std::string photoUid = newDicomUid();
  {
    DcmFileFormat file;
    DcmDataset& ds = *file.getDataset();
    fillImage(ds, 8, 4);
    ds.putAndInsertString(DCM_SOPClassUID, UID_OphthalmicPhotography8BitImageStorage);
    ds.putAndInsertString(DCM_SOPInstanceUID, photoUid.c_str());
    ds.putAndInsertString(DCM_StudyInstanceUID, study.studyInstanceUid.c_str());
    ds.putAndInsertString(DCM_Modality, "OP");
    ds.putAndInsertString(DCM_PixelSpacing, "0.1\\0.1");
    ASSERT_TRUE(file.saveFile(dir.file("photo.dcm").c_str(), EXS_LittleEndianExplicit).good());
  }
  // Each frame's line on it: row 10 + 5 f, from column 5 to column 60.
  {
    DcmFileFormat file;
    ASSERT_TRUE(file.loadFile(optPath.c_str()).good());
    file.loadAllDataIntoMemory();
    for (signed long f = 0; f < 5; ++f) {
      DcmItem* frame = nullptr;
      ASSERT_TRUE(file.getDataset()->findAndGetSequenceItem(DCM_PerFrameFunctionalGroupsSequence, frame, f).good());
      DcmItem* loc = nullptr;
      frame->findOrCreateSequenceItem(DCM_OphthalmicFrameLocationSequence, loc, -2);
      loc->putAndInsertString(DCM_ReferencedSOPClassUID, UID_OphthalmicPhotography8BitImageStorage);
      loc->putAndInsertString(DCM_ReferencedSOPInstanceUID, photoUid.c_str());
      const Float32 coords[4] = {10.0f + 5 * f, 5.0f, 10.0f + 5 * f, 60.0f};
      loc->putAndInsertFloat32Array(DCM_ReferenceCoordinates, coords, 4);
      loc->putAndInsertString(DCM_OphthalmicImageOrientation, "LINEAR");
    }
    ASSERT_TRUE(file.saveFile(optPath.c_str(), EXS_LittleEndianExplicit).good());
  }
  const auto index = indexDicomFolder(dir.path());
  ASSERT_EQ(index.series.size(), 2u);
  const DicomSeriesEntry& optSeries = index.series[0].modality == "OPT" ? index.series[0] : index.series[1];
  const auto fundus = findOptFundus(optSeries, index.series);
  ASSERT_TRUE(fundus.has_value());
  EXPECT_EQ(fundus->fundus.size(), (Size3{64, 48, 1}));
  ASSERT_EQ(fundus->bscanLines.size(), 5u);
  EXPECT_NEAR(fundus->bscanLines[2].startYMm, 2.0, 1e-6);  // row 20 x 0.1 mm
  EXPECT_NEAR(fundus->bscanLines[2].startXMm, 0.5, 1e-6);
  EXPECT_NEAR(fundus->bscanLines[2].endXMm, 6.0, 1e-6);
  // Without the photograph in the study: nothing, and the viewer uses the projection.
  EXPECT_FALSE(findOptFundus(optSeries, {optSeries}).has_value());
}

TEST(RealData, Wg04CompressedFilesDecodeToTheReferencePixels) {
  if (realDataPath("dicom/wg04").empty()) GTEST_SKIP() << "shared/realdata not found: skipping WG04";
  for (const char* image : {"CT1", "MR1"}) {
    const Volume ref = readVolume(realDataPath(std::string("dicom/wg04/REF/") + image + "_UNC"));
    for (const char* kind : {"JPLL", "JLSL", "RLE", "J2KR"}) {  // J2KR: through OpenJPEG
      SCOPED_TRACE(std::string(image) + " " + kind);
      const Volume v = readVolume(realDataPath(std::string("dicom/wg04/") + kind + "/" + image + "_" + kind));
      ASSERT_EQ(v.size(), ref.size());
      EXPECT_EQ(maxAbsDifference(v, ref), 0.0);
    }
    const Volume near = readVolume(realDataPath(std::string("dicom/wg04/JLSN/") + image + "_JLSN"));
    EXPECT_LE(maxAbsDifference(near, ref), 10.0);  // near-lossless JPEG-LS
    const Volume j2kLossy = readVolume(realDataPath(std::string("dicom/wg04/J2KI/") + image + "_J2KI"));
    EXPECT_EQ(j2kLossy.size(), ref.size());
    EXPECT_LT(meanAbsDifference(j2kLossy, ref), 0.02 * (ref.valueRange().max - ref.valueRange().min));
  }
}

TEST(RealData, HighThroughputJpeg2000Decodes) {
  // HTJ2K (DCMTK 3.6.7 does not know the syntax) through OpenJPEG 2.5: the lossy file is close
  // to the lossless one.
  const std::string lossless = realDataPath("dicom/pydicom-data/HTJ2KLossless_08_RGB.dcm");
  const std::string lossy = realDataPath("dicom/pydicom-data/HTJ2K_08_RGB.dcm");
  if (lossless.empty() || lossy.empty()) GTEST_SKIP() << "shared/realdata not found: skipping the HTJ2K check";
  const Volume a = readVolume(lossless), b = readVolume(lossy);
  EXPECT_EQ(a.size(), (Size3{640, 480, 1}));
  EXPECT_EQ(a.channels(), 3);
  ASSERT_EQ(b.size(), a.size());
  EXPECT_NE(a.metadata().transferSyntax.find("High-Throughput JPEG 2000"), std::string::npos) << a.metadata().transferSyntax;
  EXPECT_GT(a.valueRange().max - a.valueRange().min, 100.0);
  EXPECT_LT(meanAbsDifference(a, b), 0.02 * 255);
}

TEST(RealData, DicomDirVariantsIndexTheSameThirtyOneFiles) {
  const std::string root = realDataPath("dicom/pydicom/dicomdirtests");
  if (root.empty()) GTEST_SKIP() << "shared/realdata not found: skipping the DICOMDIR checks";
  const auto folder = indexDicomFolder(root);
  for (const char* name : {"DICOMDIR", "DICOMDIR-reordered", "DICOMDIR-bigEnd", "DICOMDIR-implicit", "DICOMDIR-nooffset"}) {
    SCOPED_TRACE(name);
    const std::string path = root + "/" + name;
    ASSERT_TRUE(isDicomDir(path));
    const auto index = indexDicomDir(path);
    std::size_t files = 0;
    for (const auto& s : index.series) files += s.files.size();
    EXPECT_EQ(files, 31u);  // SOURCES.md: all 31 references resolve
    EXPECT_EQ(index.series.size(), folder.series.size());
    EXPECT_TRUE(index.errors.empty());
  }
  EXPECT_TRUE(indexDicomDir(root + "/DICOMDIR-empty.dcm").series.empty());
  EXPECT_FALSE(isDicomDir(realDataPath("dicom/pydicom/CT_small.dcm")));
  // A DICOMDIR of several series opens as none of them, and says so.
  try {
    readVolume(root + "/DICOMDIR");
    FAIL() << "no error";
  } catch (const FileError& e) {
    EXPECT_NE(e.reason().find("13 series"), std::string::npos) << e.what();
  }
}

TEST(DicomDir, AReferenceToAMissingFileIsReported) {
  TempDir dir;
  const auto files = writeDicomMrSeries(seriesVolume(3), 0, dir.file("IMG"), DicomStudy{}, DicomSeries{});
  // Build a DICOMDIR over the three slices with DCMTK, then delete one slice.
  for (const auto& f : files) fs::rename(f, dir.file("IMG/" + fs::path(f).stem().string().substr(0, 8)));
  DicomDirInterface ddir;
  ASSERT_TRUE(ddir.createNewDicomDir(DicomDirInterface::AP_GeneralPurpose, dir.file("DICOMDIR").c_str(), "TEST").good());
  const std::string cwd = fs::current_path().string();
  fs::current_path(dir.path());
  for (const auto& f : files) {
    const std::string rel = "IMG/" + fs::path(f).stem().string().substr(0, 8);
    EXPECT_TRUE(ddir.addDicomFile(rel.c_str()).good()) << rel;
  }
  EXPECT_TRUE(ddir.writeDicomDir().good());
  fs::current_path(cwd);
  ASSERT_EQ(indexDicomDir(dir.file("DICOMDIR")).series.front().files.size(), 3u);
  EXPECT_EQ(readVolume(dir.file("DICOMDIR")).size().z, 3);
  fs::remove(dir.file("IMG/IM00002"));
  const auto index = indexDicomDir(dir.file("DICOMDIR"));
  ASSERT_EQ(index.errors.size(), 1u);
  EXPECT_NE(index.errors.front().second.find("IM00002"), std::string::npos);
}

TEST(RealData, DicomparserEndiannessVariantsAgree) {
  const std::string le = realDataPath("dicom/dicomparser/CT1_UNC.explicit_little_endian.dcm");
  if (le.empty()) GTEST_SKIP() << "shared/realdata not found: skipping dicomParser files";
  const Volume ref = readVolume(le);
  for (const char* f : {"CT1_UNC.explicit_big_endian.dcm", "CT1_UNC.implicit_little_endian.dcm"}) {
    const Volume v = readVolume(realDataPath(std::string("dicom/dicomparser/") + f));
    EXPECT_EQ(maxAbsDifference(v, ref), 0.0) << f;
  }
}
