// The whole exchange against a real PACS (Debian's Orthanc on loopback): a phantom OCT study is
// stored, found and retrieved with C-GET; `anomalylens-cli report` runs a bundled model on the
// retrieved scan and writes the PDF and the DICOM objects; those are stored back, read through
// Orthanc's REST API and compared byte for byte, checked by dciodvfy, and the map retrieved again
// is the map that was exported. De-identified exports land in a study of their own.

#include <gtest/gtest.h>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <cstring>
#include <algorithm>

#include "core/OrthancServer.h"
#include "core/TestPaths.h"
#include "e2e/RunCommand.h"
#include "pacs/PacsClient.h"
#include "io/VolumeReader.h"
#include "phantom/PhantomStudy.h"
#include "report/DicomExport.h"

namespace fs = std::filesystem;

namespace al {
namespace {

const std::string kCli = ANOMALYLENS_CLI;
const std::string kModel = std::string(ANOMALYLENS_MODELS_DIR) + "/fanogan-oct-lite.json";

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> dicomFiles(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".dcm") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// A file's dataset, encoded the same way (explicit little endian, no meta header): what a PACS
// keeps of an object, whatever transfer syntax the association used and whatever its own meta
// header says.
std::string datasetBytes(const std::string& path, const std::string& scratch) {
  DcmFileFormat ff;
  if (ff.loadFile(path.c_str()).bad()) return "unreadable " + path;
  if (ff.getDataset()->saveFile(scratch.c_str(), EXS_LittleEndianExplicit).bad()) return "unwritable " + scratch;
  return slurp(scratch);
}

bool haveTool(const std::string& name) { return std::system(("command -v " + name + " >/dev/null 2>&1").c_str()) == 0; }

TEST(ReportExchange, PhantomStudyThroughOrthancAndBack) {
  if (!test::orthancAvailable()) GTEST_SKIP() << test::kOrthancMissing;
  test::OrthancServer orthanc;
  const pacs::PacsNode node = pacs::parseNode(orthanc.nodeSpec());
  TempDir dir;

  // A phantom OCT study (DICOM Ophthalmic Tomography), stored in the PACS.
  PhantomRequest r;
  r.kind = PhantomKind::Oct;
  r.anomalous = 1;
  r.seed = 11;
  r.bscans = 8;
  r.format = PhantomFormat::Dicom;
  r.outDir = dir.file("phantom");
  const auto cases = writePhantomStudies(r);
  const auto stored = pacs::store(node, {dir.file("phantom")});
  ASSERT_EQ(stored.stored, 1) << (stored.failed.empty() ? "" : stored.failed.front().second);

  // Found by the patient's ID, and retrieved.
  const std::string source = dir.file("phantom/" + cases.front().image);
  const Volume original = readVolume(source);
  pacs::QueryKeys keys;
  keys.patientId = original.metadata().patientId;
  const auto studies = pacs::findStudies(node, keys);
  ASSERT_EQ(studies.size(), 1u);
  const std::string studyUid = studies.front().studyInstanceUid;
  EXPECT_EQ(studyUid, original.metadata().studyInstanceUid);
  const auto got = pacs::retrieve(node, studyUid, "", dir.file("retrieved"));
  ASSERT_EQ(got.files.size(), 1u);
  EXPECT_EQ(slurp(got.files.front()).size() > 0, true);

  // The report on the retrieved scan, with a real model.
  const auto report = runCommand(shellQuote(kCli) + " report --model " + shellQuote(kModel) + " --input " + shellQuote(got.files.front()) +
                                     " --out " + shellQuote(dir.file("report")) + " --comment " + shellQuote("Exchange test"),
                                 true);
  ASSERT_EQ(report.exitCode, 0) << report.output;
  const auto json = nlohmann::json::parse(slurp(dir.file("report/report.json")));
  ASSERT_EQ(json["runs"].size(), 1u);
  EXPECT_EQ(json["runs"][0]["model"], "fanogan-oct-lite");
  ASSERT_GE(json["dicom"].size(), 4u);
  if (haveTool("pdftotext")) {
    const auto text = runCommand("pdftotext -layout " + shellQuote(dir.file("report/report.pdf")) + " -");
    EXPECT_NE(text.output.find("fanogan-oct-lite"), std::string::npos) << text.output;
    EXPECT_NE(text.output.find("Exchange test"), std::string::npos);
    EXPECT_NE(text.output.find("healthy range"), std::string::npos);
    EXPECT_NE(text.output.find(original.metadata().patientId), std::string::npos);
  }
  const auto exported = dicomFiles(dir.file("report"));
  ASSERT_EQ(exported.size(), json["dicom"].size());
  if (haveTool("dciodvfy")) {
    for (const auto& f : exported) {
      const auto v = runCommand("dciodvfy -new " + shellQuote(f) + " 2>&1 | grep -c '^Error' || true");
      EXPECT_EQ(std::stoi(v.output), 0) << f;
    }
  }

  // Stored in the PACS, into the scan's study as new series.
  const auto sent = pacs::store(node, {dir.file("report")});
  ASSERT_EQ(sent.stored, static_cast<int>(exported.size())) << (sent.failed.empty() ? "" : sent.failed.front().first + ": " + sent.failed.front().second);
  const auto found = orthanc.post("/tools/find", {{"Level", "Study"}, {"Query", {{"StudyInstanceUID", studyUid}}}});
  ASSERT_EQ(found.size(), 1u);
  const auto series = orthanc.get("/studies/" + found[0].get<std::string>() + "/series");
  std::set<std::string> modalities;
  for (const auto& s : series) modalities.insert(s["MainDicomTags"].value("Modality", ""));
  EXPECT_EQ(series.size(), 5u);  // the scan, the map, the segmentation, the SR, the key images
  EXPECT_TRUE(modalities.count("SEG"));
  EXPECT_TRUE(modalities.count("SR"));
  EXPECT_TRUE(modalities.count("OT"));
  // Each object, read back through REST, is the object that was sent.
  for (const auto& o : json["dicom"]) {
    const auto instance = orthanc.post("/tools/find", {{"Level", "Instance"}, {"Query", {{"SOPInstanceUID", o["sop_instance_uid"]}}}});
    ASSERT_EQ(instance.size(), 1u) << o["file"];
    const auto file = orthanc.request("GET", "/instances/" + instance[0].get<std::string>() + "/file");
    ASSERT_EQ(file.status, 200);
    const std::string fromPacs = dir.file("from-pacs.dcm");
    std::ofstream(fromPacs, std::ios::binary) << file.body;
    const std::string sentFile = dir.file("report/" + o["file"].get<std::string>());
    EXPECT_TRUE(datasetBytes(fromPacs, dir.file("a.bin")) == datasetBytes(sentFile, dir.file("b.bin"))) << o["file"] << " differs in the PACS";
  }

  // The map series, retrieved again, holds the exported values.
  std::string mapSeries;
  for (const auto& o : json["dicom"])
    if (o["kind"] == "parametric-map") mapSeries = o["series_instance_uid"];
  const auto back = pacs::retrieve(node, studyUid, mapSeries, dir.file("map-back"));
  ASSERT_EQ(back.files.size(), 1u);
  const auto a = report::readParametricMap(dir.file("report/pmap.dcm"));
  const auto b = report::readParametricMap(back.files.front());
  ASSERT_EQ(a.map.size(), b.map.size());
  EXPECT_EQ(std::memcmp(a.map.bytes(), b.map.bytes(), a.map.byteSize()), 0);
  EXPECT_EQ(b.referencedSeriesUid, original.metadata().seriesInstanceUid);

  // De-identified: a study of its own under a pseudonym; nothing of the patient's identity.
  const auto anon = runCommand(shellQuote(kCli) + " report --dicom --anonymise --model " + shellQuote(kModel) + " --input " +
                                   shellQuote(got.files.front()) + " --out " + shellQuote(dir.file("anon")),
                               true);
  ASSERT_EQ(anon.exitCode, 0) << anon.output;
  const auto anonSent = pacs::store(node, {dir.file("anon")});
  EXPECT_EQ(anonSent.stored, static_cast<int>(dicomFiles(dir.file("anon")).size()));
  EXPECT_TRUE(anonSent.failed.empty());
  const auto patients = orthanc.get("/patients?expand");
  ASSERT_EQ(patients.size(), 2u);
  for (const auto& p : patients) {
    const std::string id = p["MainDicomTags"].value("PatientID", "");
    if (id == original.metadata().patientId) continue;
    EXPECT_EQ(id.rfind("AL", 0), 0u) << id;
    EXPECT_EQ(p["MainDicomTags"].value("PatientName", "").find(original.metadata().patientName), std::string::npos);
    const auto theirStudies = orthanc.get("/patients/" + p["ID"].get<std::string>() + "/studies");
    ASSERT_EQ(theirStudies.size(), 1u);
    EXPECT_NE(theirStudies[0]["MainDicomTags"].value("StudyInstanceUID", ""), studyUid);
    EXPECT_EQ(theirStudies[0]["MainDicomTags"].value("StudyDate", ""), "");
  }
}

}  // namespace
}  // namespace al
