// DICOM networking against a real PACS: Debian's Orthanc on loopback (tests/core/OrthancServer.h).
// The studies are written by our own DICOM writer and put into Orthanc through its REST API,
// so that find and get are checked independently of store, and store is checked through REST.

#include <gtest/gtest.h>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "OrthancServer.h"
#include "TestPaths.h"
#include "e2e/RunCommand.h"
#include "errors/Error.h"
#include "io/DicomWriter.h"
#include "pacs/PacsClient.h"

using namespace al;
namespace fs = std::filesystem;

namespace {

const std::string kCli = ANOMALYLENS_CLI;

// An int16 volume whose every voxel tells the series and its position apart.
Volume mrVolume(int nx, int ny, int nz, int seed) {
  Volume v(PixelType::Int16, Size3{nx, ny, nz});
  for (std::int64_t z = 0; z < nz; ++z)
    for (std::int64_t y = 0; y < ny; ++y)
      for (std::int64_t x = 0; x < nx; ++x) v.setValue(x, y, z, 0, static_cast<double>((x * 7 + y * 13 + z * 101 + seed * 1000) % 4000 - 500));
  v.setSpacing({0.9, 0.9, 3.0});
  return v;
}

Volume octVolume(int nx, int ny, int nz) {
  Volume v(PixelType::UInt8, Size3{nx, ny, nz});
  for (std::int64_t z = 0; z < nz; ++z)
    for (std::int64_t y = 0; y < ny; ++y)
      for (std::int64_t x = 0; x < nx; ++x) v.setValue(x, y, z, 0, static_cast<double>((x + 3 * y + 50 * z) % 256));
  v.setSpacing({0.01, 0.004, 0.1});
  return v;
}

struct WrittenSeries {
  std::string uid;
  std::vector<std::string> files;
};

struct WrittenStudy {
  DicomStudy study;
  std::vector<WrittenSeries> series;
  std::vector<std::string> files() const {
    std::vector<std::string> all;
    for (const auto& s : series) all.insert(all.end(), s.files.begin(), s.files.end());
    return all;
  }
};

WrittenStudy writeMrStudy(const std::string& folder, const std::string& name, const std::string& id, const std::string& date,
                          const std::vector<int>& slicesPerSeries) {
  WrittenStudy w;
  w.study.patientName = name;
  w.study.patientId = id;
  w.study.studyDate = date;
  w.study.studyTime = "101500";
  w.study.studyDescription = "PACS test " + id;
  w.study.accessionNumber = "ACC" + id;
  w.study.complete();
  for (std::size_t i = 0; i < slicesPerSeries.size(); ++i) {
    DicomSeries s;
    s.seriesInstanceUid = newDicomUid();
    s.seriesNumber = static_cast<int>(i) + 1;
    s.seriesDescription = i == 0 ? "T1" : "T2";
    s.repetitionTime = i == 0 ? 500 : 4000;
    s.echoTime = i == 0 ? 10 : 100;
    const std::string dir = (fs::path(folder) / id / std::to_string(i + 1)).string();
    fs::create_directories(dir);
    w.series.push_back({s.seriesInstanceUid, writeDicomMrSeries(mrVolume(24, 20, slicesPerSeries[i], static_cast<int>(i)), 0, dir, w.study, s)});
  }
  return w;
}

WrittenStudy writeOctStudy(const std::string& folder, const std::string& name, const std::string& id, const std::string& date) {
  WrittenStudy w;
  w.study.patientName = name;
  w.study.patientId = id;
  w.study.studyDate = date;
  w.study.studyTime = "090000";
  w.study.studyDescription = "PACS test OCT";
  w.study.complete();
  DicomSeries s;
  s.seriesInstanceUid = newDicomUid();
  s.seriesDescription = "Macula";
  s.laterality = "R";
  fs::create_directories(fs::path(folder) / id);
  const std::string file = (fs::path(folder) / id / "oct.dcm").string();
  writeDicomOphthalmicTomography(octVolume(32, 40, 3), file, w.study, s);
  w.series.push_back({s.seriesInstanceUid, {file}});
  return w;
}

struct Instance {
  std::string study, series, sopInstance, sopClass, pixels;
};

Instance readInstance(const std::string& path) {
  DcmFileFormat ff;
  if (ff.loadFile(path.c_str()).bad()) throw std::runtime_error("cannot read " + path);
  DcmDataset& ds = *ff.getDataset();
  Instance i;
  OFString v;
  if (ds.findAndGetOFString(DCM_StudyInstanceUID, v).good()) i.study = v.c_str();
  if (ds.findAndGetOFString(DCM_SeriesInstanceUID, v).good()) i.series = v.c_str();
  if (ds.findAndGetOFString(DCM_SOPInstanceUID, v).good()) i.sopInstance = v.c_str();
  if (ds.findAndGetOFString(DCM_SOPClassUID, v).good()) i.sopClass = v.c_str();
  DcmElement* pixels = nullptr;
  if (ds.findAndGetElement(DCM_PixelData, pixels).good() && pixels) {
    Uint8* bytes = nullptr;
    Uint16* words = nullptr;
    if (pixels->getUint8Array(bytes).good() && bytes) {
      i.pixels.assign(reinterpret_cast<const char*>(bytes), pixels->getLength());
    } else if (pixels->getUint16Array(words).good() && words) {
      i.pixels.assign(reinterpret_cast<const char*>(words), pixels->getLength());
    }
  }
  return i;
}

// A port where nothing listens.
pacs::PacsNode closedNode() {
  pacs::PacsNode node;
  node.aeTitle = "NOBODY";
  node.host = "127.0.0.1";
  node.port = test::freeTcpPort();
  node.timeoutSeconds = 5;
  return node;
}

bool containsNoCase(std::string haystack, std::string needle) {
  for (auto* s : {&haystack, &needle})
    std::transform(s->begin(), s->end(), s->begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

// ---- Node syntax: no server needed ----------------------------------------------------------

TEST(PacsNode, ParsesAetHostAndPort) {
  const auto node = pacs::parseNode("ORTHANC@pacs.example.org:4242");
  EXPECT_EQ(node.aeTitle, "ORTHANC");
  EXPECT_EQ(node.host, "pacs.example.org");
  EXPECT_EQ(node.port, 4242);
  EXPECT_EQ(node.callingAeTitle, "ANOMALYLENS");
  EXPECT_EQ(pacs::toString(node), "ORTHANC@pacs.example.org:4242");

  const auto defaultPort = pacs::parseNode("PACS_1@10.0.0.7");
  EXPECT_EQ(defaultPort.host, "10.0.0.7");
  EXPECT_EQ(defaultPort.port, 104);
  EXPECT_EQ(pacs::parseNode("SIXTEEN_CHARS_AE@h:1").aeTitle, "SIXTEEN_CHARS_AE");
}

TEST(PacsNode, RefusesMalformedSpecsSayingWhatIsWrong) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"pacs.example.org:104", "AET@HOST:PORT"},
      {"@host:104", "empty"},
      {"   @host:104", "empty"},
      {"SEVENTEEN_CHARS_A@host:104", "longer than 16"},
      {"A\\B@host:104", "character"},
      {"AET@:104", "no host"},
      {"AET@host:", "port"},
      {"AET@host:0", "1 to 65535"},
      {"AET@host:65536", "1 to 65535"},
      {"AET@host:12ab", "port"},
      {"AET@my host:104", "host"},
  };
  for (const auto& [spec, reason] : cases) {
    try {
      pacs::parseNode(spec);
      ADD_FAILURE() << spec << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.context(), spec);
      EXPECT_NE(e.reason().find(reason), std::string::npos) << spec << ": " << e.message();
    }
  }
}

TEST(PacsNetwork, EchoToAClosedPortFailsAtOnceNamingTheNode) {
  const auto node = closedNode();
  const auto start = std::chrono::steady_clock::now();
  try {
    pacs::echo(node);
    FAIL() << "echo succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.context(), pacs::toString(node));
    EXPECT_TRUE(containsNoCase(e.reason(), "connection refused")) << e.message();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST(PacsNetwork, EchoToAPeerThatNeverAnswersTimesOut) {
  // Listens (the kernel completes the TCP handshake) but never speaks DICOM.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  pacs::PacsNode node;
  node.aeTitle = "SILENT";
  node.host = "127.0.0.1";
  node.port = ntohs(addr.sin_port);
  node.timeoutSeconds = 2;
  const auto start = std::chrono::steady_clock::now();
  try {
    pacs::echo(node);
    ADD_FAILURE() << "echo succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.context(), pacs::toString(node));
    EXPECT_TRUE(containsNoCase(e.reason(), "2 s")) << e.message();
  }
  ::close(fd);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

// ---- Against Orthanc ------------------------------------------------------------------------

class Pacs : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!test::orthancAvailable()) return;
    server_ = std::make_unique<test::OrthancServer>();
    data_ = std::make_unique<TempDir>();
    studyA_ = writeMrStudy(data_->path(), "DOE^JANE", "PACS-A", "20230115", {5, 4});
    studyB_ = writeOctStudy(data_->path(), "SMITH^JOHN", "PACS-B", "20240301");
    for (const auto* w : {&studyA_, &studyB_})
      for (const auto& f : w->files()) server_->upload(f);
  }
  static void TearDownTestSuite() {
    server_.reset();
    data_.reset();
  }
  void SetUp() override {
    if (!test::orthancAvailable()) GTEST_SKIP() << test::kOrthancMissing;
    ASSERT_TRUE(server_);
  }

  static pacs::PacsNode node() {
    pacs::PacsNode n = pacs::parseNode(server_->nodeSpec());
    n.timeoutSeconds = 20;
    return n;
  }
  static std::set<std::string> studyUids(const std::vector<pacs::StudyMatch>& matches) {
    std::set<std::string> uids;
    for (const auto& m : matches) uids.insert(m.studyInstanceUid);
    return uids;
  }
  // Every retrieved file is at OUT/<study>/<series>/<instance>.dcm and carries the original's
  // SOP instance and pixel bytes; returns how many were checked.
  static void expectSameInstances(const std::vector<std::string>& originals, const std::vector<std::string>& retrieved,
                                  const std::string& outDir) {
    std::map<std::string, Instance> byUid;
    for (const auto& f : originals) {
      Instance i = readInstance(f);
      byUid[i.sopInstance] = std::move(i);
    }
    ASSERT_EQ(retrieved.size(), originals.size());
    std::set<std::string> seen;
    for (const auto& f : retrieved) {
      const Instance got = readInstance(f);
      ASSERT_TRUE(byUid.count(got.sopInstance)) << f;
      const Instance& want = byUid[got.sopInstance];
      EXPECT_EQ(fs::path(f), fs::path(outDir) / want.study / want.series / (want.sopInstance + ".dcm"));
      EXPECT_EQ(got.sopClass, want.sopClass);
      EXPECT_FALSE(want.pixels.empty());
      EXPECT_TRUE(got.pixels == want.pixels) << f << ": pixel data differs";
      seen.insert(got.sopInstance);
    }
    EXPECT_EQ(seen.size(), originals.size());
  }
  static void expectNoTemporaryFiles(const std::string& dir) {
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
      EXPECT_EQ(e.path().filename().string().rfind(".tmp-", 0), std::string::npos) << e.path();
    }
  }

  static std::unique_ptr<test::OrthancServer> server_;
  static std::unique_ptr<TempDir> data_;
  static WrittenStudy studyA_, studyB_;
};

std::unique_ptr<test::OrthancServer> Pacs::server_;
std::unique_ptr<TempDir> Pacs::data_;
WrittenStudy Pacs::studyA_, Pacs::studyB_;

TEST_F(Pacs, EchoAnswers) { EXPECT_NO_THROW(pacs::echo(node())); }

TEST_F(Pacs, AWrongCalledAeTitleIsRejectedWithTheReason) {
  pacs::PacsNode wrong = node();
  wrong.aeTitle = "NOT_ORTHANC";
  try {
    pacs::echo(wrong);
    FAIL() << "echo succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.context(), pacs::toString(wrong));
    EXPECT_EQ(e.reason(), "association rejected (called AE title \"NOT_ORTHANC\" not recognized)");
  }
}

TEST_F(Pacs, FindStudiesByPatientIdReturnsTheStudyWithItsCounts) {
  pacs::QueryKeys keys;
  keys.patientId = "PACS-A";
  const auto matches = pacs::findStudies(node(), keys);
  ASSERT_EQ(matches.size(), 1u);
  const auto& m = matches[0];
  EXPECT_EQ(m.studyInstanceUid, studyA_.study.studyInstanceUid);
  EXPECT_EQ(m.patientName, "DOE^JANE");
  EXPECT_EQ(m.patientId, "PACS-A");
  EXPECT_EQ(m.studyDate, "20230115");
  EXPECT_EQ(m.studyDescription, "PACS test PACS-A");
  EXPECT_EQ(m.accessionNumber, "ACCPACS-A");
  EXPECT_EQ(m.modalitiesInStudy, "MR");
  EXPECT_EQ(m.numberOfSeries, 2);
  EXPECT_EQ(m.numberOfInstances, 9);
}

TEST_F(Pacs, FindStudiesByModalityNameWildcardAndDateRange) {
  pacs::QueryKeys opt;
  opt.modality = "OPT";
  const auto byModality = studyUids(pacs::findStudies(node(), opt));
  EXPECT_TRUE(byModality.count(studyB_.study.studyInstanceUid));
  EXPECT_FALSE(byModality.count(studyA_.study.studyInstanceUid));

  pacs::QueryKeys name;
  name.patientName = "DOE^*";
  const auto byName = studyUids(pacs::findStudies(node(), name));
  EXPECT_EQ(byName, std::set<std::string>{studyA_.study.studyInstanceUid});

  pacs::QueryKeys range;
  range.studyDateFrom = "20230101";
  range.studyDateTo = "20231231";
  const auto in2023 = studyUids(pacs::findStudies(node(), range));
  EXPECT_TRUE(in2023.count(studyA_.study.studyInstanceUid));
  EXPECT_FALSE(in2023.count(studyB_.study.studyInstanceUid));

  pacs::QueryKeys openEnded;
  openEnded.studyDateFrom = "20240101";
  const auto since2024 = studyUids(pacs::findStudies(node(), openEnded));
  EXPECT_TRUE(since2024.count(studyB_.study.studyInstanceUid));
  EXPECT_FALSE(since2024.count(studyA_.study.studyInstanceUid));

  pacs::QueryKeys nobody;
  nobody.patientId = "NO-SUCH-PATIENT";
  EXPECT_TRUE(pacs::findStudies(node(), nobody).empty());

  pacs::QueryKeys badDate;
  badDate.studyDateFrom = "2023-01-01";
  EXPECT_THROW(pacs::findStudies(node(), badDate), Error);
}

TEST_F(Pacs, FindSeriesListsAStudysSeriesInOrder) {
  const auto series = pacs::findSeries(node(), studyA_.study.studyInstanceUid);
  ASSERT_EQ(series.size(), 2u);
  EXPECT_EQ(series[0].seriesInstanceUid, studyA_.series[0].uid);
  EXPECT_EQ(series[0].seriesNumber, "1");
  EXPECT_EQ(series[0].seriesDescription, "T1");
  EXPECT_EQ(series[0].modality, "MR");
  EXPECT_EQ(series[0].numberOfInstances, 5);
  EXPECT_EQ(series[1].seriesInstanceUid, studyA_.series[1].uid);
  EXPECT_EQ(series[1].numberOfInstances, 4);
  EXPECT_EQ(series[1].studyInstanceUid, studyA_.study.studyInstanceUid);
  EXPECT_EQ(pacs::findSeries(node(), studyA_.study.studyInstanceUid, "MR").size(), 2u);
  EXPECT_TRUE(pacs::findSeries(node(), studyA_.study.studyInstanceUid, "CT").empty());
}

TEST_F(Pacs, RetrieveAStudyWritesEveryInstanceWithItsPixelsUnchanged) {
  TempDir out;
  std::vector<std::pair<int, int>> calls;
  const auto r = pacs::retrieve(node(), studyA_.study.studyInstanceUid, "", out.path(), [&](int done, int total, const std::string&) {
    calls.emplace_back(done, total);
    return true;
  });
  EXPECT_FALSE(r.cancelled);
  EXPECT_EQ(r.completed, 9);
  EXPECT_EQ(r.failed, 0);
  expectSameInstances(studyA_.files(), r.files, out.path());
  expectNoTemporaryFiles(out.path());
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(calls.back().first, 9);
  EXPECT_EQ(calls.back().second, 9);
}

TEST_F(Pacs, RetrieveOneSeriesWritesOnlyThatSeries) {
  TempDir out;
  const auto r = pacs::retrieve(node(), studyA_.study.studyInstanceUid, studyA_.series[1].uid, out.path());
  EXPECT_EQ(r.completed, 4);
  expectSameInstances(studyA_.series[1].files, r.files, out.path());
  EXPECT_FALSE(fs::exists(fs::path(out.path()) / studyA_.study.studyInstanceUid / studyA_.series[0].uid));
}

TEST_F(Pacs, RetrieveAMultiFrameOctObject) {
  TempDir out;
  const auto r = pacs::retrieve(node(), studyB_.study.studyInstanceUid, "", out.path());
  EXPECT_EQ(r.completed, 1);
  expectSameInstances(studyB_.files(), r.files, out.path());
}

TEST_F(Pacs, RetrieveOfAnUnknownStudyBringsNothing) {
  TempDir out;
  try {
    const auto r = pacs::retrieve(node(), "1.2.3.4.5.6.7.8.9", "", out.path());
    EXPECT_TRUE(r.files.empty());
  } catch (const Error& e) {
    EXPECT_EQ(e.context(), pacs::toString(node()));
  }
  EXPECT_THROW(pacs::retrieve(node(), "../../etc", "", out.path()), Error);
}

TEST_F(Pacs, ProgressReturningFalseCancelsARetrieve) {
  TempDir out;
  int calls = 0;
  const auto r = pacs::retrieve(node(), studyA_.study.studyInstanceUid, "", out.path(), [&](int done, int, const std::string&) {
    ++calls;
    return done < 2;
  });
  EXPECT_TRUE(r.cancelled);
  // Nothing is written after the cancel, even what the PACS had already sent.
  EXPECT_EQ(r.files.size(), 2u);
  EXPECT_LT(r.completed, 9);
  EXPECT_GE(calls, 2);
  for (const auto& f : r.files) EXPECT_TRUE(fs::exists(f)) << f;
  expectNoTemporaryFiles(out.path());
  // The PACS is still fine afterwards.
  EXPECT_NO_THROW(pacs::echo(node()));
}

TEST_F(Pacs, StoreSendsFoldersAndListsWhatItCouldNotSend) {
  TempDir dir;
  const auto c = writeMrStudy(dir.path(), "STORE^TEST", "PACS-C", "20220610", {3, 2});
  std::ofstream(dir.file("PACS-C/notes.txt")) << "not DICOM: skipped in a folder";
  std::ofstream(dir.file("broken.dcm")) << std::string(128, '\0') << "DICM" << "truncated";
  std::vector<std::pair<int, int>> calls;
  const auto r = pacs::store(node(), {dir.file("PACS-C"), dir.file("broken.dcm"), dir.file("missing.dcm")},
                             [&](int done, int total, const std::string&) {
                               calls.emplace_back(done, total);
                               return true;
                             });
  EXPECT_EQ(r.stored, 5);
  EXPECT_FALSE(r.cancelled);
  ASSERT_EQ(r.failed.size(), 2u);
  std::map<std::string, std::string> failed(r.failed.begin(), r.failed.end());
  EXPECT_TRUE(failed.count(dir.file("broken.dcm")));
  EXPECT_NE(failed[dir.file("missing.dcm")].find("no such file"), std::string::npos);
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(calls.back(), std::make_pair(5, 5));

  // What Orthanc holds now, through its REST API.
  const auto found = server_->post("/tools/find", {{"Level", "Study"}, {"Query", {{"PatientID", "PACS-C"}}}, {"Expand", true}});
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0]["MainDicomTags"]["StudyInstanceUID"], c.study.studyInstanceUid);
  EXPECT_EQ(found[0]["PatientMainDicomTags"]["PatientName"], "STORE^TEST");
  EXPECT_EQ(found[0]["Series"].size(), 2u);
  const auto instances = server_->get("/studies/" + found[0]["ID"].get<std::string>() + "/instances");
  ASSERT_EQ(instances.size(), 5u);
  std::set<std::string> stored, written;
  for (const auto& i : instances) stored.insert(i["MainDicomTags"]["SOPInstanceUID"].get<std::string>());
  for (const auto& f : c.files()) written.insert(readInstance(f).sopInstance);
  EXPECT_EQ(stored, written);
  // The bytes Orthanc keeps are the file we sent.
  const auto first = server_->request("GET", "/instances/" + instances[0]["ID"].get<std::string>() + "/file");
  ASSERT_EQ(first.status, 200);
  TempDir back;
  std::ofstream(back.file("x.dcm"), std::ios::binary) << first.body;
  const Instance got = readInstance(back.file("x.dcm"));
  for (const auto& f : c.files()) {
    const Instance want = readInstance(f);
    if (want.sopInstance == got.sopInstance) EXPECT_TRUE(want.pixels == got.pixels);
  }
}

TEST_F(Pacs, StoreOfAnUnreadableFileListsItWithoutThrowing) {
  TempDir dir;
  std::ofstream(dir.file("garbage.dcm")) << "this is not a DICOM file";
  const auto r = pacs::store(node(), {dir.file("garbage.dcm")});
  EXPECT_EQ(r.stored, 0);
  ASSERT_EQ(r.failed.size(), 1u);
  EXPECT_EQ(r.failed[0].first, dir.file("garbage.dcm"));
  EXPECT_NE(r.failed[0].second.find("not a readable DICOM file"), std::string::npos) << r.failed[0].second;
}

TEST_F(Pacs, OperationsAgainstAClosedPortThrowNamingTheNode) {
  const auto node = closedNode();
  TempDir out;
  EXPECT_THROW(pacs::findStudies(node, {}), Error);
  EXPECT_THROW(pacs::retrieve(node, studyA_.study.studyInstanceUid, "", out.path()), Error);
  try {
    pacs::store(node, studyA_.series[0].files);
    FAIL() << "store succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.context(), pacs::toString(node));
  }
}

TEST_F(Pacs, CommandLineEchoFindGetStore) {
  const std::string cli = shellQuote(kCli) + " pacs ";
  const std::string nodeArg = " --node " + shellQuote(server_->nodeSpec());

  const auto echoed = runCommand(cli + "echo" + nodeArg, true);
  EXPECT_EQ(echoed.exitCode, 0) << echoed.output;
  EXPECT_NE(echoed.output.find(server_->nodeSpec()), std::string::npos) << echoed.output;

  const auto found = runCommand(cli + "find --json --patient-id PACS-A" + nodeArg);
  ASSERT_EQ(found.exitCode, 0) << found.output;
  const auto studies = nlohmann::json::parse(found.output);
  ASSERT_EQ(studies.size(), 1u);
  EXPECT_EQ(studies[0]["study_instance_uid"], studyA_.study.studyInstanceUid);
  EXPECT_EQ(studies[0]["number_of_instances"], 9);

  const auto series = runCommand(cli + "find --study " + studyA_.study.studyInstanceUid + nodeArg);
  ASSERT_EQ(series.exitCode, 0) << series.output;
  EXPECT_NE(series.output.find(studyA_.series[1].uid), std::string::npos) << series.output;

  TempDir out;
  const auto got = runCommand(cli + "get --study " + studyA_.study.studyInstanceUid + " --series " + studyA_.series[0].uid +
                                  " --out " + shellQuote(out.path()) + nodeArg,
                              true);
  ASSERT_EQ(got.exitCode, 0) << got.output;
  EXPECT_NE(got.output.find("retrieved 5 files"), std::string::npos) << got.output;
  EXPECT_EQ(std::distance(fs::directory_iterator(fs::path(out.path()) / studyA_.study.studyInstanceUid / studyA_.series[0].uid),
                          fs::directory_iterator()),
            5);

  TempDir dir;
  const auto d = writeMrStudy(dir.path(), "CLI^STORE", "PACS-D", "20210202", {2});
  const auto stored = runCommand(cli + "store " + shellQuote(dir.path()) + nodeArg, true);
  ASSERT_EQ(stored.exitCode, 0) << stored.output;
  EXPECT_NE(stored.output.find("stored 2 files"), std::string::npos) << stored.output;
  const auto inOrthanc = server_->post("/tools/find", {{"Level", "Instance"}, {"Query", {{"PatientID", "PACS-D"}}}});
  EXPECT_EQ(inOrthanc.size(), 2u);

  const auto closed = closedNode();
  const auto failed = runCommand(cli + "echo --timeout 5 --node " + shellQuote(pacs::toString(closed)), true);
  EXPECT_NE(failed.exitCode, 0);
  EXPECT_EQ(failed.output.rfind("error: " + pacs::toString(closed) + ": connection refused", 0), 0u) << failed.output;

  const auto badNode = runCommand(cli + "echo --node nonsense", true);
  EXPECT_NE(badNode.exitCode, 0);
  EXPECT_NE(badNode.output.find("error: nonsense: expected AET@HOST:PORT"), std::string::npos) << badNode.output;
}
