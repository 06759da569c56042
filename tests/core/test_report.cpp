// Reports as DICOM: Parametric Map, Segmentation, Comprehensive SR and Secondary Capture written
// from phantom studies, checked by dciodvfy (dicom3tools) and read back; and the PS3.15
// de-identification they follow.

#include <gtest/gtest.h>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmsr/dsrdoc.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>
#include <sstream>

#include "core/TestPaths.h"
#include "core/TestPhantoms.h"
#include "errors/Error.h"
#include "inference/ScanAnalysis.h"
#include "io/DicomSeriesReader.h"
#include "io/VolumeReader.h"
#include "models/ModelFile.h"
#include "report/DicomExport.h"
#include "report/Report.h"

namespace fs = std::filesystem;

namespace al {
namespace {

// dciodvfy's findings: every line that starts with "Error"; empty when the object is valid.
std::vector<std::string> dciodvfyErrors(const std::string& path) {
  std::vector<std::string> errors;
  if (std::system("command -v dciodvfy >/dev/null 2>&1") != 0) return {"dciodvfy not installed (apt-get install dicom3tools)"};
  const std::string command = "dciodvfy -new '" + path + "' 2>&1";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
  char line[4096];
  while (pipe && std::fgets(line, sizeof line, pipe.get())) {
    if (std::string(line).rfind("Error", 0) == 0) errors.emplace_back(line);
  }
  return errors;
}

std::string tag(const std::string& path, const DcmTagKey& key, bool deep = false) {
  DcmFileFormat ff;
  EXPECT_TRUE(ff.loadFile(path.c_str()).good()) << path;
  OFString v;
  ff.getDataset()->findAndGetOFStringArray(key, v, deep);
  return v.c_str();
}

// Every UID-valued string anywhere in a file.
void collectUids(DcmItem& item, std::set<std::string>& out) {
  for (unsigned long i = 0; i < item.card(); ++i) {
    DcmElement* e = item.getElement(i);
    if (e->ident() == EVR_UI) {
      OFString v;
      e->getOFStringArray(v);
      out.insert(v.c_str());
    } else if (e->ident() == EVR_SQ) {
      auto* seq = static_cast<DcmSequenceOfItems*>(e);
      for (unsigned long j = 0; j < seq->card(); ++j) collectUids(*seq->getItem(j), out);
    }
  }
}

// A phantom scan read from DICOM, and a run on it: the map is a blob on two slices, as a model's
// would be over a lesion; the card is a bundled model's, so the report states a real model.
struct Fixture {
  TempDir dir;
  Volume scan;
  models::ModelCard card;
  inference::ScanAnalysis analysis;
  std::vector<Annotation> annotations;

  explicit Fixture(PhantomKind kind) {
    PhantomRequest r;
    r.kind = kind;
    r.healthy = 0;
    r.anomalous = 1;
    r.seed = 7;
    r.bscans = 6;
    r.format = PhantomFormat::Dicom;
    r.outDir = dir.file("study");
    const auto cases = writePhantomStudies(r);
    const fs::path image = fs::path(r.outDir) / cases.front().image;
    if (kind == PhantomKind::Oct) {
      scan = readVolume(image.string());
    } else {
      const auto index = indexDicomFolder(fs::is_directory(image) ? image.string() : image.parent_path().string());
      scan = readDicomSeries(index.series.front());
    }
    card = models::readModelCard(std::string(ANOMALYLENS_MODELS_DIR) + (kind == PhantomKind::Oct ? "/fanogan-oct-lite.json" : "/adm-mri-lite.json"));
    const Size3 s = scan.size();
    Volume map(PixelType::Float32, s, 1);
    map.setSpacing(scan.spacing());
    map.setOrigin(scan.origin());
    map.setDirection(scan.direction());
    for (std::int64_t z = 0; z < s.z; ++z)
      for (std::int64_t y = 0; y < s.y; ++y)
        for (std::int64_t x = 0; x < s.x; ++x) {
          const double d2 = std::pow((x - s.x / 2.0) / (s.x / 8.0), 2) + std::pow((y - s.y / 2.0) / (s.y / 8.0), 2);
          const double weight = z == 2 ? 1.0 : z == 3 ? 0.5 : 0.0;
          map.setValue(x, y, z, 0, 0.1 + weight * 3.0 * std::exp(-d2));
        }
    analysis.modelName = card.name;
    analysis.modelKind = models::toString(card.kind);
    analysis.mapNames = {"residual"};
    analysis.maps["residual"] = map;
    analysis.sliceScores.assign(static_cast<std::size_t>(s.z), 0.5);
    analysis.sliceScores[2] = 2.5;
    analysis.sliceScores[3] = 1.5;
    analysis.scanScore = 2.5;
    analysis.threshold = 1.0;
    analysis.thresholdMethod = "healthy p99";
    analysis.ranges["residual"] = {1.0, 3.0, true};
    Annotation distance;
    distance.kind = AnnotationKind::Distance;
    distance.slice = 2;
    distance.points = {{{10.0, 10.0}}, {{30.0, 10.0}}};
    Annotation region;
    region.kind = AnnotationKind::Region;
    region.slice = 2;
    region.points = {{{s.x / 2.0 - 8, s.y / 2.0 - 5}}, {{s.x / 2.0 + 8, s.y / 2.0 + 5}}};
    region.note = "bright spot";
    Annotation flag;
    flag.kind = AnnotationKind::Flag;
    flag.slice = 4;
    flag.points = {{{5.0, 5.0}}};
    flag.note = "check";
    annotations = {distance, region, flag};
  }

  report::Report build(const report::Anonymiser& anonymiser, std::string comment = "Reviewed on the phantom.") const {
    report::ReportRequest request;
    request.scan = &scan;
    request.runs = {{&card, &analysis}};
    request.annotations = annotations;
    request.comment = std::move(comment);
    return report::buildReport(request, anonymiser);
  }
};

void expectValid(const std::vector<report::ExportedObject>& objects) {
  for (const auto& o : objects) {
    const auto errors = dciodvfyErrors(o.path);
    EXPECT_TRUE(errors.empty()) << o.kind << " " << o.path << ":\n" << (errors.empty() ? "" : errors.front()) << (errors.size() > 1 ? errors[1] : "");
  }
}

TEST(Report, ReadsTheScoreAgainstTheThresholdInPlainWords) {
  EXPECT_EQ(report::plainReading(1.84, 1.2).rfind("above the healthy range", 0), 0u);
  EXPECT_EQ(report::plainReading(0.9, 1.2).rfind("within the healthy range", 0), 0u);
  EXPECT_NE(report::plainReading(0.9, std::nullopt).find("cannot be read"), std::string::npos);
}

TEST(Report, ProposesTheTopScoringAndTheFlaggedImages) {
  Fixture f(PhantomKind::Oct);
  const auto keys = report::proposeKeyImages(&f.analysis, f.annotations, 2);
  ASSERT_EQ(keys.size(), 3u);  // slices 2 and 3 score highest; 4 is flagged (2 has annotations too)
  EXPECT_EQ(keys[0].slice, 2);
  EXPECT_TRUE(keys[0].topScoring);
  EXPECT_TRUE(keys[0].annotated);  // a distance and a region: annotated, not flagged
  EXPECT_FALSE(keys[0].flagged);
  EXPECT_EQ(keys[1].slice, 3);
  EXPECT_FALSE(keys[1].flagged);
  EXPECT_EQ(keys[2].slice, 4);
  EXPECT_TRUE(keys[2].flagged);
  EXPECT_FALSE(keys[2].topScoring);
  const report::Anonymiser off({});
  const report::Report r = f.build(off);
  ASSERT_EQ(r.summaries.size(), 1u);
  EXPECT_EQ(r.summaries[0].imagesAbove, 2);
  EXPECT_EQ(r.summaries[0].reading.rfind("above the healthy range", 0), 0u);
  ASSERT_EQ(r.measurements.size(), 3u);
  EXPECT_NEAR(*r.measurements[0].lengthMm, 20 * f.scan.spacing()[0], 1e-9);
}

TEST(DicomExport, OctObjectsAreValidAndReferenceTheirSourceFrames) {
  Fixture f(PhantomKind::Oct);
  ASSERT_EQ(f.scan.metadata().sourceImages.size(), static_cast<std::size_t>(f.scan.size().z));
  EXPECT_EQ(f.scan.metadata().sourceImages[2].frame, 3);
  const report::Anonymiser off({});
  const report::Report r = f.build(off);
  const auto objects = report::writeDicomExport(r, f.scan, off, f.dir.file("out"));
  ASSERT_EQ(objects.size(), 3u + r.keyImages.size());
  expectValid(objects);
  const std::string sourceUid = f.scan.metadata().sourceImages[0].sopInstanceUid;
  for (const auto& o : objects) {
    EXPECT_EQ(o.studyInstanceUid, f.scan.metadata().studyInstanceUid) << o.kind;
    EXPECT_NE(o.seriesInstanceUid, f.scan.metadata().seriesInstanceUid) << o.kind;
    EXPECT_EQ(tag(o.path, DCM_PatientID), f.scan.metadata().patientId);
    DcmFileFormat ff;
    ASSERT_TRUE(ff.loadFile(o.path.c_str()).good());
    std::set<std::string> uids;
    collectUids(*ff.getDataset(), uids);
    EXPECT_TRUE(uids.count(sourceUid)) << o.kind << " does not reference its source";
  }

  // The map comes back value for value, on the scan's grid.
  const report::ImportedMap back = report::readParametricMap(objects[0].path);
  ASSERT_EQ(back.map.size(), f.scan.size());
  const Volume& map = f.analysis.maps.at("residual");
  for (std::int64_t i = 0; i < map.voxelsPerChannel(); ++i) ASSERT_EQ(back.map.data<float>()[i], map.data<float>()[i]) << i;
  for (int k = 0; k < 3; ++k) {
    EXPECT_NEAR(back.map.spacing()[static_cast<std::size_t>(k)], f.scan.spacing()[static_cast<std::size_t>(k)], 1e-4);
    EXPECT_NEAR(back.map.origin()[static_cast<std::size_t>(k)], f.scan.origin()[static_cast<std::size_t>(k)], 1e-3);
  }
  EXPECT_EQ(back.referencedSeriesUid, f.scan.metadata().seriesInstanceUid);
  EXPECT_EQ(back.referencedInstances[2], sourceUid);
  // Each frame of the map and of the segmentation names its source frame in the OCT object.
  for (int k = 0; k < 2; ++k) {
    DcmFileFormat ff;
    ASSERT_TRUE(ff.loadFile(objects[static_cast<std::size_t>(k)].path.c_str()).good());
    DcmSequenceOfItems* perFrame = nullptr;
    ASSERT_TRUE(ff.getDataset()->findAndGetSequence(DCM_PerFrameFunctionalGroupsSequence, perFrame).good());
    ASSERT_EQ(perFrame->card(), static_cast<unsigned long>(f.scan.size().z));
    for (unsigned long z = 0; z < perFrame->card(); ++z) {
      DcmItem* derivation = nullptr;
      DcmItem* source = nullptr;
      ASSERT_TRUE(perFrame->getItem(z)->findAndGetSequenceItem(DCM_DerivationImageSequence, derivation, 0).good());
      ASSERT_TRUE(derivation->findAndGetSequenceItem(DCM_SourceImageSequence, source, 0).good());
      Sint32 frame = 0;
      ASSERT_TRUE(source->findAndGetSint32(DCM_ReferencedFrameNumber, frame).good()) << objects[static_cast<std::size_t>(k)].kind << " frame " << z;
      EXPECT_EQ(frame, f.scan.metadata().sourceImages[z].frame);
    }
  }
  EXPECT_EQ(back.frameOfReferenceUid.empty(), false);
  EXPECT_TRUE(report::isParametricMap(objects[0].path));
  EXPECT_FALSE(report::isParametricMap(objects[1].path));

  // The segmentation holds exactly the pixels above the map's healthy limit.
  DcmFileFormat seg;
  ASSERT_TRUE(seg.loadFile(objects[1].path.c_str()).good());
  const Uint8* bits = nullptr;
  unsigned long bytes = 0;
  ASSERT_TRUE(seg.getDataset()->findAndGetUint8Array(DCM_PixelData, bits, &bytes).good());
  long set = 0, expected = 0;
  const std::int64_t n = map.voxelsPerChannel();
  for (std::int64_t i = 0; i < n; ++i) {
    if (i / 8 < static_cast<std::int64_t>(bytes)) set += (bits[i / 8] >> (i % 8)) & 1;
    expected += map.data<float>()[i] > 1.0f ? 1 : 0;
  }
  EXPECT_GT(expected, 0);
  EXPECT_EQ(set, expected);
  // Read back as the viewer does: the same pixels, on the scan's grid.
  EXPECT_TRUE(report::isSegmentation(objects[1].path));
  const report::ImportedMap segBack = report::readSegmentation(objects[1].path);
  ASSERT_EQ(segBack.map.size(), f.scan.size());
  long back1 = 0;
  for (std::int64_t i = 0; i < n; ++i) back1 += segBack.map.data<float>()[i] > 0.5f ? 1 : 0;
  EXPECT_EQ(back1, expected);
  EXPECT_EQ(segBack.referencedSeriesUid, f.scan.metadata().seriesInstanceUid);
  try {
    readVolume(objects[0].path);
    ADD_FAILURE() << "a Parametric Map read as a scan";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("Parametric Map"), std::string::npos) << e.message();
  }

  // The SR states the model, the score, the threshold and the measurements.
  DcmFileFormat srFile;
  ASSERT_TRUE(srFile.loadFile(objects[2].path.c_str()).good());
  DSRDocument sr;
  ASSERT_TRUE(sr.read(*srFile.getDataset()).good());
  std::ostringstream text;
  sr.print(text);
  EXPECT_NE(text.str().find(f.card.name), std::string::npos);
  EXPECT_NE(text.str().find("Anomaly score threshold"), std::string::npos);
  EXPECT_NE(text.str().find("above the healthy range"), std::string::npos);
  EXPECT_NE(text.str().find("Length"), std::string::npos);
  EXPECT_NE(text.str().find("bright spot"), std::string::npos);
  EXPECT_NE(text.str().find("Reviewed on the phantom."), std::string::npos);
  // The distance's outline is where the user drew it (points are DICOM image coordinates).
  DcmItem* found = nullptr;
  EXPECT_TRUE(srFile.getDataset()->findAndGetSequenceItem(DCM_ContentSequence, found, 0).good());
  const std::string dump = [&] {
    std::ostringstream s;
    srFile.getDataset()->print(s);
    return s.str();
  }();
  EXPECT_NE(dump.find("FL 10\\10\\30\\10 "), std::string::npos) << "the distance's SCOORD";
  // Key images: RGB with the overlay burnt in.
  EXPECT_EQ(tag(objects[3].path, DCM_PhotometricInterpretation), "RGB");
  EXPECT_EQ(tag(objects[3].path, DCM_BurnedInAnnotation), "YES");
}

TEST(DicomExport, MriSeriesObjectsReferenceEverySliceImage) {
  Fixture f(PhantomKind::Mri);
  ASSERT_GT(f.scan.size().z, 3);
  const report::Anonymiser off({});
  // Text beyond ASCII (a German comment, a micro sign) stays valid: the objects are UTF-8.
  const report::Report r = f.build(off, "Fl\u00fcssigkeit unter der Fovea, 3 \u00b5m \u2013 Kontrolle");
  const auto objects = report::writeDicomExport(r, f.scan, off, f.dir.file("out"));
  expectValid(objects);
  const report::ImportedMap back = report::readParametricMap(objects[0].path);
  for (std::int64_t z = 0; z < f.scan.size().z; ++z)
    EXPECT_EQ(back.referencedInstances[static_cast<std::size_t>(z)], f.scan.metadata().sourceImages[static_cast<std::size_t>(z)].sopInstanceUid);
}

TEST(Report, RefusesAnnotationsOnImagesTheScanDoesNotHave) {
  Fixture f(PhantomKind::Oct);
  Annotation stray;
  stray.kind = AnnotationKind::Flag;
  stray.slice = static_cast<int>(f.scan.size().z) + 3;
  stray.points = {{{1.0, 1.0}}};
  f.annotations.push_back(stray);
  try {
    f.build(report::Anonymiser({}));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("image " + std::to_string(stray.slice + 1)), std::string::npos) << e.message();
  }
}

TEST(DicomExport, AScanThatIsNotDicomStartsAStudyOfItsOwn) {
  Fixture f(PhantomKind::Oct);
  f.scan.metadata() = VolumeMetadata{};
  f.scan.metadata().sourceFormat = "NIfTI";
  const report::Anonymiser off({});
  const auto objects = report::writeDicomExport(f.build(off), f.scan, off, f.dir.file("out"));
  expectValid(objects);
  EXPECT_FALSE(objects[0].studyInstanceUid.empty());
  for (const auto& o : objects) EXPECT_EQ(o.studyInstanceUid, objects[0].studyInstanceUid);
}

TEST(Anonymiser, RemovesTheIdentityAndMapsUidsTheSameWayEveryTime) {
  Fixture f(PhantomKind::Oct);
  const VolumeMetadata& original = f.scan.metadata();
  ASSERT_FALSE(original.patientName.empty());
  ASSERT_FALSE(original.studyDate.empty());
  const report::Anonymiser anon({true, false, false}, "test-secret");
  const report::Report r = f.build(anon, "Comment");
  EXPECT_NE(r.source.patientId, original.patientId);
  EXPECT_EQ(r.source.patientName.find(original.patientName), std::string::npos);
  EXPECT_TRUE(r.source.studyDate.empty());
  EXPECT_TRUE(r.created.empty());
  const auto objects = report::writeDicomExport(r, f.scan, anon, f.dir.file("anon"));
  expectValid(objects);
  std::set<std::string> originalUids = {original.studyInstanceUid, original.seriesInstanceUid, original.frameOfReferenceUid,
                                        original.sourceImages[0].sopInstanceUid};
  for (const auto& o : objects) {
    DcmFileFormat ff;
    ASSERT_TRUE(ff.loadFile(o.path.c_str()).good());
    DcmDataset& d = *ff.getDataset();
    std::set<std::string> uids;
    collectUids(d, uids);
    for (const auto& u : originalUids) EXPECT_FALSE(uids.count(u)) << o.kind << " still carries " << u;
    EXPECT_TRUE(uids.count(anon.uid(original.sourceImages[0].sopInstanceUid))) << o.kind << " lost its (mapped) source reference";
    EXPECT_EQ(tag(o.path, DCM_PatientIdentityRemoved), "YES");
    EXPECT_EQ(tag(o.path, DCM_PatientName).find(original.patientName), std::string::npos);
    EXPECT_EQ(tag(o.path, DCM_PatientID), r.source.patientId);
    EXPECT_TRUE(tag(o.path, DCM_StudyDate).empty());
    EXPECT_TRUE(tag(o.path, DCM_PatientBirthDate).empty());
    DcmItem* method = nullptr;
    ASSERT_TRUE(d.findAndGetSequenceItem(DCM_DeidentificationMethodCodeSequence, method, 0).good()) << o.kind;
    OFString code;
    method->findAndGetOFString(DCM_CodeValue, code);
    EXPECT_EQ(std::string(code.c_str()), "113100") << o.kind;
    for (const auto& gone : {DCM_AccessionNumber, DCM_StudyID, DCM_StudyDescription, DCM_ReferringPhysicianName}) {
      OFString v;
      d.findAndGetOFString(gone, v);
      EXPECT_TRUE(v.empty()) << o.kind << " keeps " << DcmTag(gone).getTagName() << " " << v;
    }
  }
  // The same study exported again (same key) keeps its new study UID and patient ID.
  const report::Anonymiser again({true, false, false}, "test-secret");
  EXPECT_EQ(again.uid(original.studyInstanceUid), anon.uid(original.studyInstanceUid));
  EXPECT_EQ(again.patientId(original.patientId), r.source.patientId);
  const report::Anonymiser otherKey({true, false, false}, "another-secret");
  EXPECT_NE(otherKey.uid(original.studyInstanceUid), anon.uid(original.studyInstanceUid));
  EXPECT_LE(anon.uid(original.studyInstanceUid).size(), 64u);
  // Scans without a patient ID get one pseudonym per study, not one for all.
  VolumeMetadata a, b;
  a.studyInstanceUid = "1.2.3";
  b.studyInstanceUid = "1.2.4";
  EXPECT_NE(anon.apply(a).patientId, anon.apply(b).patientId);
}

TEST(Anonymiser, KeepsDatesOrUidsWhenAsked) {
  Fixture f(PhantomKind::Oct);
  const VolumeMetadata& original = f.scan.metadata();
  const report::Anonymiser dates({true, true, false}, "k");
  const auto withDates = report::writeDicomExport(f.build(dates), f.scan, dates, f.dir.file("dates"));
  EXPECT_EQ(tag(withDates[0].path, DCM_StudyDate), original.studyDate);
  EXPECT_NE(withDates[0].studyInstanceUid, original.studyInstanceUid);
  EXPECT_NE(tag(withDates[0].path, DCM_PatientID), original.patientId);
  const report::Anonymiser uids({true, false, true}, "k");
  const auto withUids = report::writeDicomExport(f.build(uids), f.scan, uids, f.dir.file("uids"));
  EXPECT_EQ(withUids[0].studyInstanceUid, original.studyInstanceUid);
  EXPECT_TRUE(tag(withUids[0].path, DCM_StudyDate).empty());
  expectValid(withDates);
  expectValid(withUids);
}

TEST(Anonymiser, MakesItsKeyOnceReadableByTheUserAlone) {
  TempDir home;
  const char* before = std::getenv("XDG_DATA_HOME");
  const std::string saved = before ? before : "";
  ::setenv("XDG_DATA_HOME", home.path().c_str(), 1);
  const report::Anonymiser first({true, false, false});
  const report::Anonymiser second({true, false, false});
  const fs::path key = fs::path(home.path()) / "AnomalyLens" / "anonymisation.key";
  if (before) ::setenv("XDG_DATA_HOME", saved.c_str(), 1);
  else ::unsetenv("XDG_DATA_HOME");
  ASSERT_TRUE(fs::exists(key));
  EXPECT_EQ(fs::status(key).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(first.uid("1.2.3"), second.uid("1.2.3"));
  EXPECT_NE(first.uid("1.2.3"), "1.2.3");
  EXPECT_EQ(report::Anonymiser({}).uid("1.2.3"), "1.2.3");  // off: nothing changes
}

TEST(DicomExport, RefusesWhatItCannotReadWithTheReason) {
  TempDir dir;
  const std::string bogus = dir.file("x.dcm");
  std::FILE* fp = std::fopen(bogus.c_str(), "wb");
  std::fputs("not dicom", fp);
  std::fclose(fp);
  try {
    report::readParametricMap(bogus);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("x.dcm"), std::string::npos);
  }
}

}  // namespace
}  // namespace al
