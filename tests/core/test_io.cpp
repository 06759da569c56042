#include <gtest/gtest.h>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>

#include <csignal>
#include <sys/wait.h>
#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

#include "TestPaths.h"
#include "errors/Error.h"
#include "image/ItkBridge.h"
#include "io/AtomicFile.h"
#include "io/DicomWriter.h"
#include "io/VolumeReader.h"
#include "io/VolumeWriter.h"

using namespace al;
namespace fs = std::filesystem;

namespace {

Volume gradientVolume(PixelType type, int channels = 1) {
  Volume v(type, Size3{7, 5, 3}, channels);
  for (int c = 0; c < channels; ++c)
    for (std::int64_t z = 0; z < 3; ++z)
      for (std::int64_t y = 0; y < 5; ++y)
        for (std::int64_t x = 0; x < 7; ++x) v.setValue(x, y, z, c, static_cast<double>(x + 10 * y + 100 * z + 1000 * c) * (type == PixelType::UInt8 ? 0.1 : 1.0));
  v.setSpacing({0.8, 1.25, 2.5});
  v.setOrigin({-10.0, 4.5, 33.0});
  v.setDirection({0, -1, 0, 1, 0, 0, 0, 0, 1});
  return v;
}

void expectSameVoxels(const Volume& a, const Volume& b) {
  ASSERT_EQ(a.pixelType(), b.pixelType());
  ASSERT_EQ(a.size(), b.size());
  ASSERT_EQ(a.channels(), b.channels());
  ASSERT_EQ(a.byteSize(), b.byteSize());
  EXPECT_EQ(std::memcmp(a.bytes(), b.bytes(), a.byteSize()), 0);
}

void expectSameGeometry(const Volume& a, const Volume& b) {
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(a.spacing()[i], b.spacing()[i], 1e-5);
    EXPECT_NEAR(a.origin()[i], b.origin()[i], 1e-4);
  }
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(a.direction()[i], b.direction()[i], 1e-5);
}

}  // namespace

class IoRoundTrip : public ::testing::TestWithParam<std::tuple<std::string, PixelType, int>> {};

TEST_P(IoRoundTrip, WriteThenReadGivesIdenticalVoxelsAndGeometry) {
  const auto& [ext, type, channels] = GetParam();
  const TempDir dir;
  const std::string path = dir.file("roundtrip" + ext);
  const Volume v = gradientVolume(type, channels);
  writeVolume(v, path);
  const Volume back = readVolume(path);
  expectSameVoxels(v, back);
  expectSameGeometry(v, back);
  EXPECT_EQ(back.metadata().sourcePath, path);
}

INSTANTIATE_TEST_SUITE_P(Formats, IoRoundTrip,
                         ::testing::Values(std::make_tuple(".nii.gz", PixelType::Int16, 1),
                                           std::make_tuple(".nii", PixelType::UInt8, 1),
                                           std::make_tuple(".nii.gz", PixelType::Float32, 3),
                                           std::make_tuple(".mha", PixelType::Float32, 1),
                                           std::make_tuple(".nrrd", PixelType::Int16, 1)));

TEST(ItkBridge, RoundTripKeepsVoxelsAndGeometryPerChannel) {
  const Volume v = gradientVolume(PixelType::Int16, 2);
  const auto image = toItk<std::int16_t>(v, 1);
  EXPECT_EQ(image->GetLargestPossibleRegion().GetSize()[0], 7u);
  EXPECT_EQ(image->GetPixel({{2, 3, 1}}), v.value(2, 3, 1, 1));
  EXPECT_DOUBLE_EQ(image->GetDirection()[0][1], v.direction()[1]);
  const Volume back = fromItk<std::int16_t>(image.GetPointer());
  EXPECT_EQ(back.channels(), 1);
  EXPECT_EQ(back.value(6, 4, 2), v.value(6, 4, 2, 1));
  expectSameGeometry(v, back);
  // The physical position of a voxel is the same through ITK and through Volume.
  itk::Point<double, 3> p;
  image->TransformIndexToPhysicalPoint({{2, 3, 1}}, p);
  const Vec3 q = v.indexToPhysical({2, 3, 1});
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(p[i], q[i], 1e-9);
  EXPECT_THROW(toItk<float>(v, 2), std::invalid_argument);
}

TEST(Io, MissingEmptyAndUnknownFilesNameTheFileAndTheReason) {
  const TempDir dir;
  try {
    readVolume(dir.file("absent.nii"));
    FAIL() << "no error";
  } catch (const FileError& e) {
    EXPECT_EQ(e.path(), dir.file("absent.nii"));
    EXPECT_EQ(e.reason(), "no such file");
  }
  std::ofstream(dir.file("empty.nii")).close();
  EXPECT_THROW(readVolume(dir.file("empty.nii")), FileError);
  std::ofstream(dir.file("notes.txt")) << "hello, not an image";
  try {
    readVolume(dir.file("notes.txt"));
    FAIL() << "no error";
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find("notes.txt"), std::string::npos);
    EXPECT_NE(e.reason().find("not a format"), std::string::npos);
  }
  EXPECT_THROW(readVolume(dir.path()), FileError);
}

class TruncatedFile : public ::testing::TestWithParam<std::string> {};

TEST_P(TruncatedFile, IsAnErrorNotACrashNorPartialPixels) {
  const std::string ext = GetParam();
  const TempDir dir;
  const std::string good = dir.file("good" + ext);
  Volume v(PixelType::Int16, Size3{64, 64, 8});
  for (std::int64_t i = 0; i < v.voxelsPerChannel(); ++i) v.data<std::int16_t>()[i] = static_cast<std::int16_t>((i * 7919) % 3001);
  writeVolume(v, good);
  const auto size = fs::file_size(good);
  for (auto keep : {size - 10, size / 2, std::uintmax_t{360}, std::uintmax_t{200}}) {
    const std::string cut = dir.file("cut" + std::to_string(keep) + ext);
    fs::copy_file(good, cut);
    fs::resize_file(cut, keep);
    try {
      readVolume(cut);
      ADD_FAILURE() << ext << " cut to " << keep << " of " << size << " bytes was read without an error";
    } catch (const FileError& e) {
      EXPECT_NE(std::string(e.what()).find(cut), std::string::npos) << e.what();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, TruncatedFile, ::testing::Values(".nii", ".nii.gz", ".mha", ".nrrd"),
                         [](const auto& info) { return std::string(info.param == ".nii" ? "nii" : info.param == ".nii.gz" ? "niigz" : info.param.substr(1)); });

// Found by fuzz_volume_header: a damaged PNG named .mha reached ITK's PNGImageIO, which calls
// libpng without an error handler, and libpng aborted the process.
TEST(Io, AnImageNamedLikeAVolumeIsRefusedNotAborted) {
  const TempDir dir;
  const std::string path = dir.file("scan.mha");
  std::ofstream(path, std::ios::binary) << std::string("\x89PNG\r\n\x1a\n", 8) << std::string("*#K\xdd\xc5\x0b\x01\xf6\x97/\x05", 11)
                                        << std::string(200, '\xff');
  try {
    readVolume(path);
    FAIL() << "no error";
  } catch (const FileError& e) {
    EXPECT_EQ(e.path(), path);
    EXPECT_NE(e.reason().find("holds PNG data"), std::string::npos) << e.what();
  }
}

// Found by fuzz_volume_header: MetaIO formats an ElementDataFile holding '%' as a file-name
// pattern into a buffer sized for a plain name, and reads past it.
TEST(Io, AMetaImageFilePatternIsRefusedBeforeItk) {
  const TempDir dir;
  const std::string path = dir.file("pattern.mha");
  std::ofstream(path, std::ios::binary) << "ObjectType = Image\nNDims = 3\nDimSize = 4 4 2\nElementType = MET_UCHAR\n"
                                        << "ElementDataFile = slice" << std::string(80, '%') << "d.raw 1 2 1\n";
  try {
    readVolume(path);
    FAIL() << "no error";
  } catch (const FileError& e) {
    EXPECT_EQ(e.path(), path);
    EXPECT_NE(e.reason().find("file-name pattern"), std::string::npos) << e.what();
  }
}

// Found by fuzz_volume_header: ITK 5.2 takes the sform rows through an SVD that aborts on a NaN
// (vnl's assert_finite) and runs for minutes on 1.7e38.
TEST(Io, ANiftiOrientationThatIsNotANumberIsRefusedBeforeItk) {
  const TempDir dir;
  int n = 0;
  // The third: a 348-byte header with the magic "n+2", which nifticlib still reads as NIfTI.
  for (const float bad : {std::numeric_limits<float>::quiet_NaN(), 1.7e38f, std::numeric_limits<float>::quiet_NaN()}) {
    const std::string path = dir.file("orientation" + std::to_string(n++) + ".nii");
    writeVolume(gradientVolume(PixelType::Int16), path);
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    if (n == 3) {
      f.seekp(344);
      f.write("n+2", 4);
    }
    const std::int16_t codes[2] = {1, 1};  // qform_code, sform_code at offset 252
    f.seekp(252);
    f.write(reinterpret_cast<const char*>(codes), sizeof(codes));
    f.seekp(300);  // srow_y[1]
    f.write(reinterpret_cast<const char*>(&bad), sizeof(bad));
    f.close();
    try {
      readVolume(path);
      ADD_FAILURE() << bad << ": no error";
    } catch (const FileError& e) {
      EXPECT_EQ(e.path(), path);
      EXPECT_NE(e.reason().find("srow"), std::string::npos) << e.what();
    }
  }
}

TEST(Io, HeaderClaimingHugeDimensionsIsRefusedBeforeAllocating) {
  const TempDir dir;
  const std::string path = dir.file("huge.nii");
  writeVolume(gradientVolume(PixelType::Int16), path);
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  const std::int16_t dims[4] = {3, 30000, 30000, 30000};  // dim[0..3] at offset 40
  f.seekp(40);
  f.write(reinterpret_cast<const char*>(dims), sizeof(dims));
  f.close();
  try {
    readVolume(path);
    FAIL() << "no error";
  } catch (const FileError& e) {
    EXPECT_NE(e.reason().find("more than the file can hold"), std::string::npos) << e.what();
  }
}

TEST(AtomicFile, ProcessKilledMidWriteLeavesThePreviousFile) {
  // Models (card and weights), sessions, reports and checkpoints are all written through
  // writeAtomically: a process killed with SIGKILL half-way through leaves the previous file.
  const TempDir dir;
  const std::string path = dir.file("session.alsession");
  writeFileAtomically(path, "previous");
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    writeAtomically(path, [](const std::string& tmp) {
      std::ofstream out(tmp, std::ios::binary);
      out << std::string(1 << 20, 'n');
      out.flush();
      ::kill(::getpid(), SIGKILL);  // half-way: the rest never comes
    });
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  std::ifstream in(path);
  std::string content;
  std::getline(in, content);
  EXPECT_EQ(content, "previous");
}

TEST(AtomicFile, TemporariesOfKilledWritersAreRemovedByTheNextWriter) {
  const TempDir dir;
  // A writer killed before its rename (as above) left its temporary file.
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    writeAtomically(dir.file("session.alsession"), [](const std::string& tmp) {
      std::ofstream(tmp) << "half";
      ::kill(::getpid(), SIGKILL);
    });
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  auto temporaries = [&] {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir.path()))
      if (e.path().filename().string().rfind(".tmp-", 0) == 0) names.push_back(e.path().filename().string());
    return names;
  };
  ASSERT_EQ(temporaries().size(), 1u);
  // One of a writer that still runs (this test's parent), and a file that only looks alike.
  const std::string running = ".tmp-" + std::to_string(::getppid()) + "-1-0-model.json";
  std::ofstream(dir.file(running)) << "busy";
  std::ofstream(dir.file(".tmp-notapid-x")) << "other";
  writeFileAtomically(dir.file("report.json"), "{}");
  const auto left = temporaries();
  EXPECT_EQ(left.size(), 2u);
  EXPECT_NE(std::find(left.begin(), left.end(), running), left.end());
  EXPECT_NE(std::find(left.begin(), left.end(), ".tmp-notapid-x"), left.end());
}

TEST(AtomicFile, FailedWriteLeavesTheOldFileAndNoTemporary) {
  const TempDir dir;
  const std::string path = dir.file("model.json");
  writeFileAtomically(path, "old");
  EXPECT_THROW(writeAtomically(path, [](const std::string& tmp) {
                 std::ofstream(tmp) << "half";
                 throw std::runtime_error("disk full");
               }),
               std::runtime_error);
  std::ifstream in(path);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "old");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

TEST(Dicom, NewUidsAreValidAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string uid = newDicomUid();
    ASSERT_EQ(uid.rfind("2.25.", 0), 0u) << uid;
    ASSERT_LE(uid.size(), 64u) << uid;
    ASSERT_EQ(uid.find_first_not_of("0123456789.", 0), std::string::npos) << uid;
    ASSERT_NE(uid[5], '0') << uid;  // no leading zero in a UID component
    seen.insert(uid);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(Dicom, ReadsAFileWrittenWithDcmtkIncludingRescaleAndGeometry) {
  const TempDir dir;
  const std::string path = dir.file("mr.dcm");
  const Uint16 rows = 6, cols = 8;
  {
    DcmFileFormat file;
    DcmDataset* ds = file.getDataset();
    ds->putAndInsertString(DCM_SOPClassUID, UID_MRImageStorage);
    ds->putAndInsertString(DCM_SOPInstanceUID, newDicomUid().c_str());
    ds->putAndInsertString(DCM_StudyInstanceUID, newDicomUid().c_str());
    ds->putAndInsertString(DCM_SeriesInstanceUID, newDicomUid().c_str());
    ds->putAndInsertString(DCM_Modality, "MR");
    ds->putAndInsertString(DCM_PatientName, "TEST^PATIENT");
    ds->putAndInsertString(DCM_PatientID, "ID-42");
    ds->putAndInsertString(DCM_SeriesDescription, "T2 AX");
    ds->putAndInsertString(DCM_ImageLaterality, "L");
    ds->putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
    ds->putAndInsertUint16(DCM_SamplesPerPixel, 1);
    ds->putAndInsertUint16(DCM_Rows, rows);
    ds->putAndInsertUint16(DCM_Columns, cols);
    ds->putAndInsertUint16(DCM_BitsAllocated, 16);
    ds->putAndInsertUint16(DCM_BitsStored, 12);
    ds->putAndInsertUint16(DCM_HighBit, 11);
    ds->putAndInsertUint16(DCM_PixelRepresentation, 0);
    ds->putAndInsertString(DCM_RescaleSlope, "2");
    ds->putAndInsertString(DCM_RescaleIntercept, "-10");
    ds->putAndInsertString(DCM_PixelSpacing, "0.5\\0.75");
    ds->putAndInsertString(DCM_SliceThickness, "3");
    ds->putAndInsertString(DCM_ImagePositionPatient, "-20\\10\\5.5");
    ds->putAndInsertString(DCM_ImageOrientationPatient, "1\\0\\0\\0\\1\\0");
    std::vector<Uint16> pixels(rows * cols);
    for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<Uint16>(i * 50);
    ds->putAndInsertUint16Array(DCM_PixelData, pixels.data(), static_cast<unsigned long>(pixels.size()));
    ASSERT_TRUE(file.saveFile(path.c_str(), EXS_LittleEndianExplicit).good());
  }
  const Volume v = readVolume(path);
  ASSERT_EQ(v.size(), (Size3{cols, rows, 1}));
  EXPECT_EQ(v.pixelType(), PixelType::Int16);
  EXPECT_EQ(v.value(0, 0, 0), -10);
  EXPECT_EQ(v.value(3, 2, 0), (2 * cols + 3) * 50 * 2 - 10);
  EXPECT_DOUBLE_EQ(v.spacing()[0], 0.75);  // column spacing is PixelSpacing's second value
  EXPECT_DOUBLE_EQ(v.spacing()[1], 0.5);
  EXPECT_DOUBLE_EQ(v.spacing()[2], 3.0);
  EXPECT_DOUBLE_EQ(v.origin()[2], 5.5);
  EXPECT_EQ(v.metadata().patientId, "ID-42");
  EXPECT_EQ(v.metadata().modality, "MR");
  EXPECT_EQ(v.metadata().laterality, "L");
  EXPECT_EQ(v.metadata().seriesDescription, "T2 AX");
  EXPECT_FALSE(v.metadata().transferSyntax.empty());

  // The same file cut in the middle of its pixel data.
  const std::string cut = dir.file("cut.dcm");
  fs::copy_file(path, cut);
  fs::resize_file(cut, fs::file_size(path) - 40);
  EXPECT_THROW(readVolume(cut), FileError);
}

// ---- Real public files from ../shared/realdata, when present --------------------------------

TEST(RealData, MniTemplateNifti) {
  const std::string path = realDataPath("nifti/mni152/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz");
  if (path.empty()) GTEST_SKIP() << "shared/realdata not found: skipping the MNI152 check";
  const Volume v = readVolume(path);
  EXPECT_EQ(v.size(), (Size3{197, 233, 189}));
  EXPECT_EQ(v.pixelType(), PixelType::UInt8);
  EXPECT_NEAR(v.spacing()[0], 1.0, 1e-6);
  EXPECT_GT(v.valueRange().max, 50);
}

TEST(RealData, DicomFilesInSeveralTransferSyntaxes) {
  const char* files[] = {"dicom/pydicom/CT_small.dcm", "dicom/pydicom/MR_small_bigendian.dcm",
                         "dicom/pydicom/MR_small_RLE.dcm"};
  if (realDataPath("").empty()) GTEST_SKIP() << "shared/realdata not found: skipping real DICOM checks";
  const Volume reference = readVolume(realDataPath("dicom/pydicom/MR_small.dcm"));
  EXPECT_EQ(reference.size(), (Size3{64, 64, 1}));
  for (const char* f : {files[1], files[2]}) {
    const std::string path = realDataPath(f);
    if (path.empty()) continue;
    const Volume v = readVolume(path);
    SCOPED_TRACE(f);
    ASSERT_EQ(v.size(), reference.size());
    // Big endian and RLE encode the same pixels as MR_small.dcm.
    for (std::int64_t i = 0; i < 64; i += 7) EXPECT_EQ(v.value(i, i, 0), reference.value(i, i, 0));
  }
  const Volume ct = readVolume(realDataPath(files[0]));
  EXPECT_EQ(ct.size(), (Size3{128, 128, 1}));
  EXPECT_EQ(ct.metadata().modality, "CT");
  EXPECT_LT(ct.valueRange().min, 0);  // Hounsfield units after rescale
  // JPEG 2000 (decoded through GDCM) gives the same pixels as the uncompressed file.
  const std::string j2k = realDataPath("dicom/pydicom/MR_small_jp2klossless.dcm");
  if (!j2k.empty()) {
    const Volume v = readVolume(j2k);
    ASSERT_EQ(v.size(), reference.size());
    for (std::int64_t i = 0; i < 64; i += 3) EXPECT_EQ(v.value(i, 63 - i, 0), reference.value(i, 63 - i, 0));
  }
}
