#include "report/DicomExport.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmfg/fgderimg.h>
#include <dcmtk/dcmfg/fgfracon.h>
#include <dcmtk/dcmfg/fgframeanatomy.h>
#include <dcmtk/dcmfg/fgpixeltransform.h>
#include <dcmtk/dcmfg/fgparametricmapframetype.h>
#include <dcmtk/dcmfg/fgpixmsr.h>
#include <dcmtk/dcmfg/fgplanor.h>
#include <dcmtk/dcmfg/fgplanpo.h>
#include <dcmtk/dcmfg/fgrealworldvaluemapping.h>
#include <dcmtk/dcmiod/iodreferences.h>
#include <dcmtk/dcmpmap/dpmparametricmapiod.h>
#include <dcmtk/dcmseg/segdoc.h>
#include <dcmtk/dcmseg/segment.h>
#include <dcmtk/dcmsr/dsrdoc.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include "errors/Error.h"
#include "io/AtomicFile.h"
#include "io/DicomFileReader.h"
#include "io/DicomGuard.h"
#include "io/VolumeReader.h"
#include "io/DicomWriter.h"
#include "runtime/Version.h"

namespace al::report {

namespace {

namespace fs = std::filesystem;

constexpr const char* kManufacturer = "AnomalyLens";
constexpr const char* kCodingScheme = "99ANOMALYLENS";  // private codes where DICOM has none (PS3.16 8)
constexpr const char* kSecondaryCaptureClass = UID_SecondaryCaptureImageStorage;

void check(const OFCondition& c, const std::string& subject, const std::string& what) {
  if (c.bad()) throw Error(subject, what + ": " + c.text());
}

// DS values: at most 16 characters.
std::string ds(double v) {
  char buf[32];
  for (int digits = 10; digits >= 4; --digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, v);
    if (std::strlen(buf) <= 16) break;
  }
  return buf;
}

std::string today() {
  OFString d;
  DcmDate::getCurrentDate(d);
  return d.c_str();
}
std::string now() {
  OFString t;
  DcmTime::getCurrentTime(t, OFFalse, OFFalse);
  return t.c_str();
}

// What every object of one export shares: the study (the scan's, or a new one when the scan is
// not DICOM), the frame of reference, the identity, and where each slice came from.
struct Context {
  const Report& report;
  const Volume& scan;
  const Anonymiser& anonymiser;
  std::string outDir;
  VolumeMetadata m;  // anonymised when chosen
  std::string studyUid, frameOfReferenceUid;
  bool hasSources = false;  // every slice has its source instance
  int seriesBase = 900;
  std::string contentDate, contentTime;

  Context(const Report& r, const Volume& s, const Anonymiser& a, std::string dir)
      : report(r), scan(s), anonymiser(a), outDir(std::move(dir)), m(r.source) {
    studyUid = m.studyInstanceUid.empty() ? newDicomUid() : m.studyInstanceUid;
    frameOfReferenceUid = m.frameOfReferenceUid.empty() ? newDicomUid() : m.frameOfReferenceUid;
    hasSources = !m.sopClassUid.empty() && static_cast<std::int64_t>(m.sourceImages.size()) == s.size().z &&
                 std::all_of(m.sourceImages.begin(), m.sourceImages.end(), [](const auto& i) { return !i.sopInstanceUid.empty(); });
    const int n = std::atoi(m.seriesNumber.c_str());
    if (n > 0 && n < 20000000) seriesBase = n * 100;
    const bool dates = !a.enabled() || a.options().keepDates;
    contentDate = dates ? today() : "19000101";
    contentTime = dates ? now() : "000000";
  }

  std::string modality() const { return m.modality.empty() ? "OT" : m.modality; }
  std::string laterality() const { return m.laterality == "R" || m.laterality == "L" ? m.laterality : std::string(); }

  // The slice's plane: position of its first pixel, row and column cosines, spacing.
  Vec3 position(int z) const { return scan.indexToPhysical({0.0, 0.0, static_cast<double>(z)}); }
  std::array<double, 6> orientation() const {
    const Mat3& d = scan.direction();
    return {d[0], d[3], d[6], d[1], d[4], d[7]};
  }

  // Anatomy for the Frame Anatomy group: retina for OCT, brain for MR, else the whole body.
  CodeSequenceMacro anatomy() const {
    if (m.modality == "OPT" || m.modality == "OCT") return CodeSequenceMacro("5665001", "SCT", "Retina");
    if (m.modality == "MR" || scan.channels() > 1) return CodeSequenceMacro("12738006", "SCT", "Brain");
    return CodeSequenceMacro("38266002", "SCT", "Entire body");
  }

  void writePatientStudy(DcmItem& d) const {
    d.putAndInsertString(DCM_PatientName, m.patientName.c_str());
    d.putAndInsertString(DCM_PatientID, m.patientId.c_str());
    d.putAndInsertString(DCM_PatientBirthDate, m.patientBirthDate.c_str());
    d.putAndInsertString(DCM_PatientSex, m.patientSex.c_str());
    d.putAndInsertString(DCM_StudyInstanceUID, studyUid.c_str());
    d.putAndInsertString(DCM_StudyDate, m.studyDate.c_str());
    d.putAndInsertString(DCM_StudyTime, m.studyTime.c_str());
    d.putAndInsertString(DCM_ReferringPhysicianName, m.referringPhysicianName.c_str());
    d.putAndInsertString(DCM_StudyID, m.studyId.c_str());
    d.putAndInsertString(DCM_AccessionNumber, m.accessionNumber.c_str());
    if (!m.studyDescription.empty()) d.putAndInsertString(DCM_StudyDescription, m.studyDescription.c_str());
  }

  const VolumeMetadata::SourceImage& source(int z) const { return m.sourceImages[static_cast<std::size_t>(z)]; }

  // Every source image, for the Common Instance Reference module and the SR's evidence.
  IODReferences references() const {
    IODReferences refs;
    if (!hasSources) return refs;
    std::map<std::string, OFVector<Uint32>> frames;
    std::vector<std::string> order;
    for (int z = 0; z < scan.size().z; ++z) {
      const auto& s = source(z);
      if (!frames.count(s.sopInstanceUid)) order.push_back(s.sopInstanceUid);
      auto& f = frames[s.sopInstanceUid];
      if (s.frame > 0) f.push_back(static_cast<Uint32>(s.frame));
    }
    for (const auto& uid : order) {
      auto* ref = frames[uid].empty()
                      ? new IODImageReference(m.patientId.c_str(), studyUid.c_str(), m.seriesInstanceUid.c_str(), uid.c_str(), m.sopClassUid.c_str())
                      : new IODImageReference(m.patientId.c_str(), studyUid.c_str(), m.seriesInstanceUid.c_str(), uid.c_str(),
                                              m.sopClassUid.c_str(), frames[uid]);
      if (!refs.add(ref)) delete ref;
    }
    return refs;
  }

  std::string path(const std::string& name) const { return (fs::path(outDir) / name).string(); }
};

// Shared functional groups of a frame stack on the scan's grid.
template <typename Iod>
void addGeometry(Iod& iod, const Context& c, const std::string& subject) {
  const Vec3& sp = c.scan.spacing();
  FGPixelMeasures measures;
  check(measures.setPixelSpacing((ds(sp[1]) + "\\" + ds(sp[0])).c_str()), subject, "pixel spacing");
  check(measures.setSliceThickness(ds(sp[2]).c_str()), subject, "slice thickness");
  check(measures.setSpacingBetweenSlices(ds(sp[2]).c_str()), subject, "slice spacing");
  check(iod.addForAllFrames(measures), subject, "pixel measures");
  const auto o = c.orientation();
  std::unique_ptr<FGPlaneOrientationPatient> orient(FGPlaneOrientationPatient::createMinimal(
      ds(o[0]).c_str(), ds(o[1]).c_str(), ds(o[2]).c_str(), ds(o[3]).c_str(), ds(o[4]).c_str(), ds(o[5]).c_str()));
  if (!orient) throw Error(subject, "cannot describe the plane orientation");
  check(iod.addForAllFrames(*orient), subject, "plane orientation");
}

// Per-frame groups: where the frame lies, its place in the stack, and the image it came from.
struct FrameGroups {
  std::unique_ptr<FGPlanePosPatient> position;
  FGFrameContent content;
  std::unique_ptr<FGDerivationImage> derivation;
  OFVector<FGBase*> list() {
    OFVector<FGBase*> v;
    v.push_back(position.get());
    v.push_back(&content);
    if (derivation) v.push_back(derivation.get());
    return v;
  }
};

FrameGroups frameGroups(const Context& c, int z, const CodeSequenceMacro& derivationCode, const std::string& derivationText,
                        const std::string& subject, bool withDimensionIndex) {
  FrameGroups g;
  const Vec3 p = c.position(z);
  g.position.reset(FGPlanePosPatient::createMinimal(ds(p[0]).c_str(), ds(p[1]).c_str(), ds(p[2]).c_str()));
  if (!g.position) throw Error(subject, "cannot describe the position of frame " + std::to_string(z + 1));
  check(g.content.setStackID("1"), subject, "stack ID");
  check(g.content.setInStackPositionNumber(static_cast<Uint32>(z + 1)), subject, "in-stack position");
  if (withDimensionIndex) {
    check(g.content.setDimensionIndexValues(1, 0), subject, "dimension index");
    check(g.content.setDimensionIndexValues(static_cast<Uint32>(z + 1), 1), subject, "dimension index");
  }
  if (c.hasSources) {
    const auto& s = c.source(z);
    ImageSOPInstanceReferenceMacro* ref = nullptr;
    check(ImageSOPInstanceReferenceMacro::create(c.m.sopClassUid.c_str(), s.sopInstanceUid.c_str(), ref), subject,
          "source image reference");
    // DCMTK 3.6.7's setReferencedFrameNumber() refuses every value ("Illegal call");
    // addReferencedFrameNumber() works.
    if (s.frame > 0) check(ref->addReferencedFrameNumber(static_cast<Uint16>(s.frame)), subject, "source frame");
    OFVector<ImageSOPInstanceReferenceMacro> refs;
    refs.push_back(*ref);
    delete ref;
    g.derivation.reset(FGDerivationImage::createMinimal(refs, derivationText.substr(0, 1024).c_str(), derivationCode,
                                                        CodeSequenceMacro("121322", "DCM", "Source image for image processing operation")));
    if (!g.derivation) throw Error(subject, "cannot reference the source of frame " + std::to_string(z + 1));
  }
  return g;
}

void addStackDimensions(IODMultiframeDimensionModule& dims, const std::string& subject) {
  const std::string uid = newDicomUid();
  check(dims.addDimensionIndex(DCM_StackID, uid.c_str(), DCM_FrameContentSequence, "Stack ID"), subject, "dimension");
  check(dims.addDimensionIndex(DCM_InStackPositionNumber, uid.c_str(), DCM_FrameContentSequence, "In-Stack Position"), subject, "dimension");
  auto* org = new IODMultiframeDimensionModule::DimensionOrganizationItem;
  org->setDimensionOrganizationUID(uid.c_str());
  dims.getDimensionOrganizationSequence().push_back(org);
}

// Saves a dataset built by hand or by an IOD class: the anonymisation sweep last, then written
// atomically in explicit little endian.
void saveDataset(DcmFileFormat& file, const Context& c, const std::string& path) {
  c.anonymiser.applyTo(*file.getDataset());
  writeAtomically(path, [&](const std::string& tmp) {
    check(file.saveFile(tmp.c_str(), EXS_LittleEndianExplicit), path, "cannot write");
  });
}

const inference::ScanAnalysis* firstAnalysis(const Report& r) { return r.runs.empty() ? nullptr : r.runs.front().analysis; }

std::string modelLine(const Report& r) {
  if (r.summaries.empty()) return {};
  const auto& s = r.summaries.front();
  return s.kind + " model " + s.modelName + ", map " + s.mapName;
}

// ---- Parametric Map ------------------------------------------------------------------------
ExportedObject writeParametricMap(const Context& c) {
  const std::string file = c.path("pmap.dcm");
  const auto* a = firstAnalysis(c.report);
  if (!a || a->mapNames.empty()) throw Error(file, "no anomaly map to export (run a model first)");
  const auto& summary = c.report.summaries.front();
  const Volume& map = a->maps.at(summary.mapName);
  const Size3 s = map.size();
  if (s.x > 65535 || s.y > 65535) throw Error(file, "the map is too large for DICOM rows and columns");

  IODEnhGeneralEquipmentModule::EquipmentInfo eq(kManufacturer, kProductName, "1", kVersion);
  ContentIdentificationMacro ci("1", "ANOMALY_MAP", modelLine(c.report).substr(0, 64).c_str(), "");
  auto created = DPMParametricMapIOD::create<IODFloatingPointImagePixelModule>(
      c.modality().c_str(), std::to_string(c.seriesBase + 1).c_str(), "1", static_cast<Uint16>(s.y), static_cast<Uint16>(s.x), eq, ci,
      "VOLUME", "NONE", DPMTypes::CQ_RESEARCH);
  if (OFCondition* error = OFget<OFCondition>(&created)) check(*error, file, "cannot create the Parametric Map");
  DPMParametricMapIOD& pm = *OFget<DPMParametricMapIOD>(&created);

  check(pm.getPatient().setPatientName(c.m.patientName.c_str()), file, "patient name");
  check(pm.getPatient().setPatientID(c.m.patientId.c_str()), file, "patient ID");
  pm.getPatient().setPatientBirthDate(c.m.patientBirthDate.c_str());
  pm.getPatient().setPatientSex(c.m.patientSex.c_str());
  check(pm.getStudy().setStudyInstanceUID(c.studyUid.c_str()), file, "study UID");
  pm.getStudy().setStudyDate(c.m.studyDate.c_str());
  pm.getStudy().setStudyTime(c.m.studyTime.c_str());
  pm.getStudy().setStudyID(c.m.studyId.c_str());
  pm.getStudy().setAccessionNumber(c.m.accessionNumber.c_str());
  pm.getStudy().setReferringPhysicianName(c.m.referringPhysicianName.c_str());
  check(pm.getFrameOfReference().setFrameOfReferenceUID(c.frameOfReferenceUid.c_str()), file, "frame of reference");
  const std::string seriesUid = newDicomUid(), instanceUid = newDicomUid();
  check(pm.getSeries().setSeriesInstanceUID(seriesUid.c_str()), file, "series UID");
  pm.getSeries().setSeriesDescription(("Anomaly map: " + summary.modelName).substr(0, 64).c_str());
  check(pm.getSOPCommon().setSOPInstanceUID(instanceUid.c_str()), file, "instance UID");
  pm.getSOPCommon().setSpecificCharacterSet("ISO_IR 192");  // names and text are UTF-8 (the readers convert)
  pm.getIODGeneralImageModule().setContentDate(c.contentDate.c_str());
  pm.getIODGeneralImageModule().setContentTime(c.contentTime.c_str());
  pm.setRecognizableVisualFeatures(DPMTypes::RVF_NO);

  addGeometry(pm, c, file);
  FGFrameAnatomy anatomy;
  anatomy.getAnatomy().getAnatomicRegion() = c.anatomy();
  check(anatomy.setLaterality(c.laterality() == "R"   ? FGFrameAnatomy::LATERALITY_R
                              : c.laterality() == "L" ? FGFrameAnatomy::LATERALITY_L
                                                      : FGFrameAnatomy::LATERALITY_UNPAIRED),
        file, "frame laterality");
  check(pm.addForAllFrames(anatomy), file, "frame anatomy");
  FGPixelValueTransformation identity;
  identity.setFGType(FGPixelValueTransformation::E_PixelValTrans_Identity);
  identity.setRescaleIntercept("0");
  identity.setRescaleSlope("1");
  identity.setRescaleType("US");
  check(pm.addForAllFrames(identity), file, "pixel value transformation");
  FGParametricMapFrameType frameType;
  check(frameType.setFrameType("DERIVED\\PRIMARY\\VOLUME\\NONE"), file, "frame type");
  check(pm.addForAllFrames(frameType), file, "frame type");

  // The values are the model's map as it computed it; the mapping says so, and over which range.
  const ValueRange range = map.valueRange();
  FGRealWorldValueMapping rwvm;
  auto* item = new FGRealWorldValueMapping::RWVMItem();
  item->setDoubleFloatRealWorldValueFirstValueMapped(range.min);
  item->setDoubleFloatRealWorldValueLastValueMapped(range.max > range.min ? range.max : range.min + 1);
  item->setRealWorldValueSlope(1.0);
  item->setRealWorldValueIntercept(0.0);
  item->setLUTExplanation((summary.kind + " " + summary.mapName + " map").substr(0, 64).c_str());
  item->setLUTLabel("ANOMALY_MAP");
  item->getMeasurementUnitsCode().set("1", "UCUM", "no units");
  rwvm.getRealWorldValueMapping().push_back(item);
  check(pm.addForAllFrames(rwvm), file, "real world value mapping");

  addStackDimensions(pm.getIODMultiframeDimensionModule(), file);
  auto frames = pm.getFrames();
  auto* floatFrames = OFget<DPMParametricMapIOD::Frames<Float32>>(&frames);
  if (!floatFrames) throw Error(file, "the Parametric Map has no float frames");
  const std::int64_t plane = s.x * s.y;
  std::vector<Float32> buffer(static_cast<std::size_t>(plane));
  const CodeSequenceMacro derivation("ANOMALY_MAP", kCodingScheme, "Anomaly map");
  for (int z = 0; z < s.z; ++z) {
    std::copy_n(map.data<float>() + z * plane, plane, buffer.data());
    FrameGroups g = frameGroups(c, z, derivation, "Anomaly map of " + modelLine(c.report), file, true);
    check(floatFrames->addFrame(buffer.data(), static_cast<size_t>(plane), g.list()), file, "frame " + std::to_string(z + 1));
  }
  pm.getCommonInstanceReference().addReferences(c.references(), c.studyUid.c_str());

  DcmFileFormat out;
  check(pm.write(*out.getDataset()), file, "cannot encode the Parametric Map");
  saveDataset(out, c, file);
  return {"parametric-map", file, UID_ParametricMapStorage, instanceUid, seriesUid, c.studyUid, static_cast<int>(s.z)};
}

// ---- Segmentation ------------------------------------------------------------------------
ExportedObject writeSegmentation(const Context& c) {
  const std::string file = c.path("seg.dcm");
  const auto* a = firstAnalysis(c.report);
  if (!a || a->mapNames.empty()) throw Error(file, "no anomaly map to segment (run a model first)");
  const auto& summary = c.report.summaries.front();
  const Volume& map = a->maps.at(summary.mapName);
  const Size3 s = map.size();
  // The map's healthy limit: where its colours start (the healthy 99th percentile when the model
  // was calibrated), so the segment is what the overlay shows as abnormal.
  const double limit = summary.mapRange.lo;

  IODGeneralEquipmentModule::EquipmentInfo eq(kManufacturer, kProductName, "1", kVersion);
  ContentIdentificationMacro ci("1", "ANOMALY", ("Map above " + ds(limit) + ": " + summary.modelName).substr(0, 64).c_str(), "");
  DcmSegmentation* raw = nullptr;
  check(DcmSegmentation::createBinarySegmentation(raw, static_cast<Uint16>(s.y), static_cast<Uint16>(s.x), eq, ci), file,
        "cannot create the Segmentation");
  std::unique_ptr<DcmSegmentation> seg(raw);
  check(seg->getPatient().setPatientName(c.m.patientName.c_str()), file, "patient name");
  check(seg->getPatient().setPatientID(c.m.patientId.c_str()), file, "patient ID");
  seg->getPatient().setPatientBirthDate(c.m.patientBirthDate.c_str());
  seg->getPatient().setPatientSex(c.m.patientSex.c_str());
  check(seg->getStudy().setStudyInstanceUID(c.studyUid.c_str()), file, "study UID");
  seg->getStudy().setStudyDate(c.m.studyDate.c_str());
  seg->getStudy().setStudyTime(c.m.studyTime.c_str());
  seg->getStudy().setStudyID(c.m.studyId.c_str());
  seg->getStudy().setAccessionNumber(c.m.accessionNumber.c_str());
  seg->getStudy().setReferringPhysicianName(c.m.referringPhysicianName.c_str());
  check(seg->getFrameOfReference().setFrameOfReferenceUID(c.frameOfReferenceUid.c_str()), file, "frame of reference");
  const std::string seriesUid = newDicomUid(), instanceUid = newDicomUid();
  check(seg->getSeries().setSeriesInstanceUID(seriesUid.c_str()), file, "series UID");
  seg->getSeries().setSeriesNumber(std::to_string(c.seriesBase + 2).c_str());
  seg->getSeries().setSeriesDescription(("Anomaly segmentation: " + summary.modelName).substr(0, 64).c_str());
  check(seg->getSOPCommon().setSOPInstanceUID(instanceUid.c_str()), file, "instance UID");
  seg->getSOPCommon().setSpecificCharacterSet("ISO_IR 192");
  seg->getGeneralImage().setContentDate(c.contentDate.c_str());
  seg->getGeneralImage().setContentTime(c.contentTime.c_str());

  DcmSegment* segment = nullptr;
  check(DcmSegment::create(segment, "Anomaly", CodeSequenceMacro("49755003", "SCT", "Morphologically Altered Structure"),
                           CodeSequenceMacro("52988006", "SCT", "Lesion"), DcmSegTypes::SAT_AUTOMATIC,
                           (summary.kind + " " + summary.modelName).substr(0, 64).c_str()),
        file, "segment");
  segment->getSegmentationAlgorithmIdentification().setAlgorithmName(summary.modelName.substr(0, 64).c_str());
  segment->getSegmentationAlgorithmIdentification().setAlgorithmVersion(summary.version.substr(0, 64).c_str());
  segment->getSegmentationAlgorithmIdentification().getAlgorithmFamilyCode().set("123110", "DCM", "Artificial Intelligence");
  Uint16 segmentNumber = 0;
  check(seg->addSegment(segment, segmentNumber), file, "segment");

  addGeometry(*seg, c, file);
  addStackDimensions(seg->getDimensions(), file);
  const std::int64_t plane = s.x * s.y;
  std::vector<Uint8> mask(static_cast<std::size_t>(plane));
  const CodeSequenceMacro derivation("113076", "DCM", "Segmentation");
  for (int z = 0; z < s.z; ++z) {
    const float* m = map.data<float>() + z * plane;
    for (std::int64_t i = 0; i < plane; ++i) mask[static_cast<std::size_t>(i)] = m[i] > limit ? 1 : 0;
    FrameGroups g = frameGroups(c, z, derivation, "Anomaly map above its healthy limit", file, true);
    check(seg->addFrame(mask.data(), segmentNumber, g.list()), file, "frame " + std::to_string(z + 1));
  }
  seg->getCommonInstanceReference().addReferences(c.references(), c.studyUid.c_str());

  DcmFileFormat out;
  check(seg->writeDataset(*out.getDataset()), file, "cannot encode the Segmentation");
  saveDataset(out, c, file);
  return {"segmentation", file, UID_SegmentationStorage, instanceUid, seriesUid, c.studyUid, static_cast<int>(s.z)};
}

// ---- Comprehensive SR ----------------------------------------------------------------------
DSRCodedEntryValue code(const char* value, const char* scheme, const char* meaning) { return DSRCodedEntryValue(value, scheme, meaning); }
DSRCodedEntryValue privateCode(const char* value, const char* meaning) { return DSRCodedEntryValue(value, kCodingScheme, meaning); }

ExportedObject writeStructuredReport(const Context& c) {
  const std::string file = c.path("sr.dcm");
  const Report& r = c.report;
  DSRDocument doc(DSRTypes::DT_ComprehensiveSR);
  doc.createNewSeriesInStudy(c.studyUid.c_str());
  doc.setSpecificCharacterSetType(DSRTypes::CS_UTF8);
  doc.setPatientName(c.m.patientName.c_str());
  doc.setPatientID(c.m.patientId.c_str());
  doc.setPatientBirthDate(c.m.patientBirthDate.c_str());
  doc.setPatientSex(c.m.patientSex.c_str());
  doc.setStudyDate(c.m.studyDate.c_str());
  doc.setStudyTime(c.m.studyTime.c_str());
  doc.setStudyID(c.m.studyId.c_str());
  doc.setAccessionNumber(c.m.accessionNumber.c_str());
  doc.setReferringPhysicianName(c.m.referringPhysicianName.c_str());
  doc.setManufacturer(kManufacturer);
  doc.setManufacturerModelName(kProductName);
  doc.setSoftwareVersions(kVersion);
  doc.setSeriesNumber(std::to_string(c.seriesBase + 3).c_str());
  doc.setSeriesDescription("Anomaly detection report");
  doc.setContentDate(c.contentDate.c_str());
  doc.setContentTime(c.contentTime.c_str());

  DSRDocumentTree& tree = doc.getTree();
  const auto must = [&](size_t node, const std::string& what) {
    if (node == 0) throw Error(file, "cannot add " + what + " to the report tree");
  };
  must(tree.addContentItem(DSRTypes::RT_isRoot, DSRTypes::VT_Container), "the root");
  tree.getCurrentContentItem().setConceptName(code("126000", "DCM", "Imaging Measurement Report"));
  const size_t root = tree.getNodeID();

  auto addText = [&](DSRTypes::E_RelationshipType rel, const DSRCodedEntryValue& concept, const std::string& text, bool child) {
    must(tree.addContentItem(rel, DSRTypes::VT_Text, child ? DSRTypes::AM_belowCurrent : DSRTypes::AM_afterCurrent), "a text");
    tree.getCurrentContentItem().setConceptName(concept);
    tree.getCurrentContentItem().setStringValue(text.empty() ? std::string("-").c_str() : text.substr(0, 65535).c_str());
  };
  auto addNum = [&](const DSRCodedEntryValue& concept, double v, const DSRCodedEntryValue& unit, bool child) {
    must(tree.addContentItem(DSRTypes::RT_contains, DSRTypes::VT_Num, child ? DSRTypes::AM_belowCurrent : DSRTypes::AM_afterCurrent), "a number");
    tree.getCurrentContentItem().setConceptName(concept);
    tree.getCurrentContentItem().setNumericValue(DSRNumericMeasurementValue(ds(v).c_str(), unit));
  };
  auto imageRef = [&](int z) {
    const auto& s = c.source(z);
    DSRImageReferenceValue ref(c.m.sopClassUid.c_str(), s.sopInstanceUid.c_str());
    if (s.frame > 0) ref.getFrameList().addItem(static_cast<Sint32>(s.frame));
    return ref;
  };
  const DSRCodedEntryValue noUnits = code("1", "UCUM", "no units");

  // Per model: what it is, its score against its threshold, and the reading.
  bool firstChild = true;
  for (const auto& s : r.summaries) {
    must(tree.addContentItem(DSRTypes::RT_contains, DSRTypes::VT_Container, firstChild ? DSRTypes::AM_belowCurrent : DSRTypes::AM_afterCurrent),
         "a model container");
    firstChild = false;
    tree.getCurrentContentItem().setConceptName(privateCode("MODELRUN", "Anomaly detection model run"));
    const size_t runNode = tree.getNodeID();
    addText(DSRTypes::RT_contains, code("111001", "DCM", "Algorithm Name"), s.modelName, true);
    addText(DSRTypes::RT_contains, code("111003", "DCM", "Algorithm Version"), s.kind + " (" + s.configName + "), " + s.version, false);
    addText(DSRTypes::RT_contains, privateCode("TRAINDATA", "Training data"), s.trainingData, false);
    if (std::isfinite(s.scanScore)) addNum(privateCode("ANOMSCORE", "Anomaly score"), s.scanScore, noUnits, false);
    if (s.threshold) addNum(privateCode("ANOMTHRESH", "Anomaly score threshold"), *s.threshold, noUnits, false);
    if (s.validationAuc) addNum(privateCode("VALAUC", "Validation area under the ROC curve"), *s.validationAuc, noUnits, false);
    addText(DSRTypes::RT_contains, code("121071", "DCM", "Finding"), s.reading, false);
    tree.gotoNode(runNode);
  }
  // Key images with their scores.
  if (c.hasSources) {
    for (const auto& k : r.keyImages) {
      if (std::isfinite(k.score)) {
        must(tree.addContentItem(DSRTypes::RT_contains, DSRTypes::VT_Num, firstChild ? DSRTypes::AM_belowCurrent : DSRTypes::AM_afterCurrent), "a score");
        firstChild = false;
        tree.getCurrentContentItem().setConceptName(privateCode("IMGSCORE", "Image anomaly score"));
        tree.getCurrentContentItem().setNumericValue(DSRNumericMeasurementValue(ds(k.score).c_str(), noUnits));
        const size_t num = tree.getNodeID();
        must(tree.addContentItem(DSRTypes::RT_inferredFrom, DSRTypes::VT_Image, DSRTypes::AM_belowCurrent), "an image reference");
        tree.getCurrentContentItem().setImageReference(imageRef(k.slice));
        tree.gotoNode(num);
      } else {
        must(tree.addContentItem(DSRTypes::RT_contains, DSRTypes::VT_Image, firstChild ? DSRTypes::AM_belowCurrent : DSRTypes::AM_afterCurrent), "a key image");
        firstChild = false;
        tree.getCurrentContentItem().setConceptName(code("121080", "DCM", "Best illustration of finding"));
        tree.getCurrentContentItem().setImageReference(imageRef(k.slice));
      }
    }
  }
  // The user's measurements: lengths and areas with their outlines on the source image.
  for (const auto& mm : r.measurements) {
    const Annotation& an = mm.annotation;
    const auto mode = firstChild ? DSRTypes::AM_belowCurrent : DSRTypes::AM_afterCurrent;
    if (mm.lengthMm || mm.areaMm2) {
      must(tree.addContentItem(DSRTypes::RT_contains, DSRTypes::VT_Num, mode), "a measurement");
      firstChild = false;
      if (mm.lengthMm) {
        tree.getCurrentContentItem().setConceptName(code("410668003", "SCT", "Length"));
        tree.getCurrentContentItem().setNumericValue(DSRNumericMeasurementValue(ds(*mm.lengthMm).c_str(), code("mm", "UCUM", "millimeter")));
      } else {
        tree.getCurrentContentItem().setConceptName(code("42798000", "SCT", "Area"));
        tree.getCurrentContentItem().setNumericValue(DSRNumericMeasurementValue(ds(*mm.areaMm2).c_str(), code("mm2", "UCUM", "square millimeter")));
      }
      const size_t num = tree.getNodeID();
      if (!mm.note.empty()) addText(DSRTypes::RT_hasProperties, code("121106", "DCM", "Comment"), mm.note, true);
      if (c.hasSources && an.points.size() >= 2) {
        must(tree.addContentItem(DSRTypes::RT_inferredFrom, DSRTypes::VT_SCoord, mm.note.empty() ? DSRTypes::AM_belowCurrent : DSRTypes::AM_afterCurrent),
             "an outline");
        auto* scoord = tree.getCurrentContentItem().getSpatialCoordinatesPtr();
        // Annotation points already use DICOM's image coordinates: the first pixel's top-left
        // corner is (0, 0), its centre (0.5, 0.5) (Session.h).
        const auto& p = an.points;
        if (an.kind == AnnotationKind::Distance) {
          scoord->setGraphicType(DSRTypes::GT_Polyline);
          for (int i = 0; i < 2; ++i)
            scoord->getGraphicDataList().addItem(static_cast<float>(p[i][0]), static_cast<float>(p[i][1]));
        } else {
          // The region's ellipse: major axis end points, then minor axis end points.
          const double cx = (p[0][0] + p[1][0]) / 2, cy = (p[0][1] + p[1][1]) / 2;
          const double rx = std::abs(p[1][0] - p[0][0]) / 2, ry = std::abs(p[1][1] - p[0][1]) / 2;
          scoord->setGraphicType(DSRTypes::GT_Ellipse);
          const bool wide = rx >= ry;
          const double major = wide ? rx : ry, minor = wide ? ry : rx;
          const auto add = [&](double x, double y) { scoord->getGraphicDataList().addItem(static_cast<float>(x), static_cast<float>(y)); };
          if (wide) {
            add(cx - major, cy), add(cx + major, cy), add(cx, cy - minor), add(cx, cy + minor);
          } else {
            add(cx, cy - major), add(cx, cy + major), add(cx - minor, cy), add(cx + minor, cy);
          }
        }
        must(tree.addContentItem(DSRTypes::RT_selectedFrom, DSRTypes::VT_Image, DSRTypes::AM_belowCurrent), "the outline's image");
        tree.getCurrentContentItem().setImageReference(imageRef(an.slice));
      }
      tree.gotoNode(num);
    } else {
      // A flag: the image the user pointed at, with the note.
      must(tree.addContentItem(DSRTypes::RT_contains, DSRTypes::VT_Text, mode), "a flag");
      firstChild = false;
      tree.getCurrentContentItem().setConceptName(code("121071", "DCM", "Finding"));
      tree.getCurrentContentItem().setStringValue(("flagged image " + std::to_string(mm.slice + 1) + (mm.note.empty() ? "" : ": " + mm.note)).c_str());
      const size_t node = tree.getNodeID();
      if (c.hasSources) {
        must(tree.addContentItem(DSRTypes::RT_inferredFrom, DSRTypes::VT_Image, DSRTypes::AM_belowCurrent), "the flagged image");
        tree.getCurrentContentItem().setImageReference(imageRef(mm.slice));
      }
      tree.gotoNode(node);
    }
  }
  if (!r.comment.empty()) {
    addText(DSRTypes::RT_contains, code("121106", "DCM", "Comment"), r.comment, firstChild);
    firstChild = false;
  }
  addText(DSRTypes::RT_contains, privateCode("STATEMENT", "Intended use"), kInvestigationalUse, firstChild);
  tree.gotoNode(root);

  // Every image the report refers to, as evidence.
  if (c.hasSources) {
    std::set<std::string> added;
    for (int z = 0; z < c.scan.size().z; ++z) {
      const auto& s = c.source(z);
      if (!added.insert(s.sopInstanceUid).second) continue;
      check(doc.getCurrentRequestedProcedureEvidence().addItem(c.studyUid.c_str(), c.m.seriesInstanceUid.c_str(), c.m.sopClassUid.c_str(),
                                                               s.sopInstanceUid.c_str()),
            file, "evidence");
    }
  }
  if (!doc.isValid()) throw Error(file, "the structured report is not valid");
  DcmFileFormat out;
  check(doc.write(*out.getDataset()), file, "cannot encode the structured report");
  if (c.laterality().empty() == false) out.getDataset()->putAndInsertString(DCM_Laterality, c.laterality().c_str());
  OFString instanceUid, seriesUid;
  doc.getSOPInstanceUID(instanceUid);
  doc.getSeriesInstanceUID(seriesUid);
  saveDataset(out, c, file);
  return {"sr", file, UID_ComprehensiveSRStorage, instanceUid.c_str(), seriesUid.c_str(), c.studyUid, 1};
}

// ---- Secondary Capture -----------------------------------------------------------------------
render::RgbImage defaultKeyImage(const Report& r, const Volume& scan, const KeyImage& k) {
  const Size3 s = scan.size();
  const std::int64_t plane = s.x * s.y;
  std::vector<float> img(static_cast<std::size_t>(plane));
  for (std::int64_t i = 0; i < plane; ++i) img[static_cast<std::size_t>(i)] = static_cast<float>(scan.value(i % s.x, i / s.x, k.slice, 0));
  const auto [lo, hi] = displayWindow(scan, 0);
  const auto* a = r.runs.empty() ? nullptr : r.runs.front().analysis;
  if (!a || a->mapNames.empty()) return render::overlay(img.data(), img.data(), static_cast<int>(s.x), static_cast<int>(s.y), lo, hi, 1e30, 1e31, 0.0);
  const auto& sum = r.summaries.front();
  return render::overlay(img.data(), a->maps.at(sum.mapName).data<float>() + k.slice * plane, static_cast<int>(s.x), static_cast<int>(s.y), lo, hi,
                         sum.mapRange.lo, sum.mapRange.hi);
}

void writeSecondaryCaptures(const Context& c, const KeyImageRenderer& renderKeyImage, const std::function<bool()>& cancelled,
                            std::vector<ExportedObject>& out) {
  const std::string seriesUid = newDicomUid();
  int number = 0;
  for (const auto& k : c.report.keyImages) {
    if (cancelled && cancelled()) throw ExportCancelled();
    ++number;
    char name[32];
    std::snprintf(name, sizeof name, "sc_%03d.dcm", number);
    const std::string file = c.path(name);
    const render::RgbImage rgb = renderKeyImage ? renderKeyImage(c.report, k) : defaultKeyImage(c.report, c.scan, k);
    if (rgb.width <= 0 || rgb.height <= 0 || rgb.width > 65535 || rgb.height > 65535 ||
        rgb.rgb.size() != static_cast<std::size_t>(rgb.width) * static_cast<std::size_t>(rgb.height) * 3)
      throw Error(file, "the key image of slice " + std::to_string(k.slice + 1) + " could not be drawn");
    DcmFileFormat ff;
    DcmDataset& d = *ff.getDataset();
    const std::string instanceUid = newDicomUid();
    d.putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 192");
    d.putAndInsertString(DCM_SOPClassUID, kSecondaryCaptureClass);
    d.putAndInsertString(DCM_SOPInstanceUID, instanceUid.c_str());
    c.writePatientStudy(d);
    d.putAndInsertString(DCM_Modality, "OT");
    d.putAndInsertString(DCM_SeriesInstanceUID, seriesUid.c_str());
    d.putAndInsertString(DCM_SeriesNumber, std::to_string(c.seriesBase + 4).c_str());
    d.putAndInsertString(DCM_SeriesDescription, "Anomaly key images");
    d.putAndInsertString(DCM_Laterality, c.laterality().c_str());  // Type 2C: empty when unknown
    d.putAndInsertString(DCM_Manufacturer, kManufacturer);
    d.putAndInsertString(DCM_ConversionType, "WSD");
    d.putAndInsertString(DCM_SecondaryCaptureDeviceManufacturer, kManufacturer);
    d.putAndInsertString(DCM_SecondaryCaptureDeviceManufacturerModelName, kProductName);
    d.putAndInsertString(DCM_SecondaryCaptureDeviceSoftwareVersions, kVersion);
    d.putAndInsertString(DCM_InstanceNumber, std::to_string(number).c_str());
    d.putAndInsertString(DCM_PatientOrientation, "");
    d.putAndInsertString(DCM_ContentDate, c.contentDate.c_str());
    d.putAndInsertString(DCM_ContentTime, c.contentTime.c_str());
    d.putAndInsertString(DCM_ImageType, "DERIVED\\SECONDARY");
    d.putAndInsertString(DCM_BurnedInAnnotation, "YES");
    const std::string comment = "Image " + std::to_string(k.slice + 1) + (std::isfinite(k.score) ? ", score " + ds(k.score) : std::string()) +
                                (k.flagged ? ", flagged" : "") + (k.annotated ? ", annotated" : "");
    d.putAndInsertString(DCM_DerivationDescription, ("Key image with anomaly overlay: " + comment).substr(0, 1024).c_str());
    if (c.hasSources) {
      DcmItem* item = nullptr;
      if (d.findOrCreateSequenceItem(DCM_SourceImageSequence, item, 0).good()) {
        const auto& s = c.source(k.slice);
        item->putAndInsertString(DCM_ReferencedSOPClassUID, c.m.sopClassUid.c_str());
        item->putAndInsertString(DCM_ReferencedSOPInstanceUID, s.sopInstanceUid.c_str());
        if (s.frame > 0) item->putAndInsertString(DCM_ReferencedFrameNumber, std::to_string(s.frame).c_str());
      }
    }
    d.putAndInsertUint16(DCM_SamplesPerPixel, 3);
    d.putAndInsertString(DCM_PhotometricInterpretation, "RGB");
    d.putAndInsertUint16(DCM_PlanarConfiguration, 0);
    d.putAndInsertUint16(DCM_Rows, static_cast<Uint16>(rgb.height));
    d.putAndInsertUint16(DCM_Columns, static_cast<Uint16>(rgb.width));
    d.putAndInsertUint16(DCM_BitsAllocated, 8);
    d.putAndInsertUint16(DCM_BitsStored, 8);
    d.putAndInsertUint16(DCM_HighBit, 7);
    d.putAndInsertUint16(DCM_PixelRepresentation, 0);
    check(d.putAndInsertUint8Array(DCM_PixelData, rgb.rgb.data(), static_cast<unsigned long>(rgb.rgb.size())), file, "pixel data");
    saveDataset(ff, c, file);
    out.push_back({"secondary-capture", file, kSecondaryCaptureClass, instanceUid, seriesUid, c.studyUid, 1});
  }
}

std::string text(DcmItem& item, const DcmTagKey& key) {
  OFString v;
  return item.findAndGetOFStringArray(key, v).good() ? std::string(v.c_str()) : std::string();
}

bool doubles(DcmItem& item, const DcmTagKey& key, double* out, int n) {
  for (int i = 0; i < n; ++i) {
    Float64 v = 0;
    if (item.findAndGetFloat64(key, v, static_cast<unsigned long>(i)).bad()) return false;
    out[i] = v;
  }
  return true;
}

// A functional group's item: per-frame first, else shared.
DcmItem* groupItem(DcmItem* perFrame, DcmItem* shared, const DcmTagKey& sequence) {
  DcmItem* item = nullptr;
  if (perFrame && perFrame->findAndGetSequenceItem(sequence, item, 0).good()) return item;
  if (shared && shared->findAndGetSequenceItem(sequence, item, 0).good()) return item;
  return nullptr;
}

}  // namespace

std::vector<ExportedObject> writeDicomExport(const Report& report, const Volume& scan, const Anonymiser& anonymiser, const std::string& outDir,
                                             const DicomExportOptions& options, const KeyImageRenderer& renderKeyImage) {
  initDcmtk();
  std::error_code ec;
  fs::create_directories(outDir, ec);
  if (ec) throw FileError(outDir, "cannot create the folder: " + ec.message());
  Context c(report, scan, anonymiser, outDir);
  std::vector<ExportedObject> out;
  const bool haveMap = !report.runs.empty() && !report.runs.front().analysis->mapNames.empty();
  const bool calibrated = haveMap && report.summaries.front().mapRange.calibrated;
  const auto stopIfCancelled = [&] {
    if (options.cancelled && options.cancelled()) throw ExportCancelled();
  };
  try {
    stopIfCancelled();
    if (options.parametricMap && haveMap) out.push_back(writeParametricMap(c));
    stopIfCancelled();
    if (options.segmentation && calibrated) out.push_back(writeSegmentation(c));
    stopIfCancelled();
    if (options.structuredReport) out.push_back(writeStructuredReport(c));
    if (options.secondaryCapture) writeSecondaryCaptures(c, renderKeyImage, options.cancelled, out);
  } catch (...) {
    for (const auto& o : out) fs::remove(o.path, ec);
    throw;
  }
  // Key images of an earlier export into this folder would be taken for this one's.
  std::set<std::string> written;
  for (const auto& o : out) written.insert(fs::path(o.path).filename().string());
  for (const auto& e : fs::directory_iterator(outDir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() == 10 && name.rfind("sc_", 0) == 0 && name.compare(6, 4, ".dcm") == 0 && !written.count(name)) fs::remove(e.path(), ec);
  }
  return out;
}

bool isParametricMap(const std::string& path) {
  initDcmtk();
  DcmFileFormat ff;
  if (!tryLoadDicomFile(ff, path, DCM_SOPInstanceUID)) return false;
  return text(*ff.getDataset(), DCM_SOPClassUID) == UID_ParametricMapStorage;
}

bool isSegmentation(const std::string& path) {
  initDcmtk();
  DcmFileFormat ff;
  if (!tryLoadDicomFile(ff, path, DCM_SOPInstanceUID)) return false;
  return text(*ff.getDataset(), DCM_SOPClassUID) == UID_SegmentationStorage;
}

ImportedMap readSegmentation(const std::string& path) {
  if (!isSegmentation(path)) throw FileError(path, "not a DICOM Segmentation");
  // The pixels and the grid through the ordinary reader (1-bit frames unpacked, per-frame
  // positions read); the references and labels from the dataset.
  ImportedMap result;
  const Volume read = readVolume(path);
  result.map = Volume(PixelType::Float32, read.size(), 1);
  result.map.setSpacing(read.spacing());
  result.map.setOrigin(read.origin());
  result.map.setDirection(read.direction());
  result.map.metadata() = read.metadata();
  DcmFileFormat ff;
  loadDicomFile(ff, path);
  DcmDataset& d = *ff.getDataset();
  double scale = 1.0;
  if (text(d, DCM_SegmentationType) == "FRACTIONAL") {
    Uint16 maxValue = 0;
    if (d.findAndGetUint16(DCM_MaximumFractionalValue, maxValue).good() && maxValue > 0) scale = 1.0 / maxValue;
  }
  const std::int64_t n = read.voxelsPerChannel();
  float* out = result.map.data<float>();
  for (std::int64_t i = 0; i < n; ++i)
    out[i] = static_cast<float>(read.value(i % read.size().x, (i / read.size().x) % read.size().y, i / (read.size().x * read.size().y), 0) * scale);
  result.label = text(d, DCM_ContentLabel);
  result.description = text(d, DCM_ContentDescription);
  result.frameOfReferenceUid = text(d, DCM_FrameOfReferenceUID);
  DcmItem* series = nullptr;
  if (d.findAndGetSequenceItem(DCM_ReferencedSeriesSequence, series, 0).good()) result.referencedSeriesUid = text(*series, DCM_SeriesInstanceUID);
  result.map.metadata().seriesDescription = text(d, DCM_SeriesDescription);
  return result;
}

ImportedMap readParametricMap(const std::string& path) {
  initDcmtk();
  DcmFileFormat ff;
  loadDicomFile(ff, path);
  DcmDataset& d = *ff.getDataset();
  if (text(d, DCM_SOPClassUID) != UID_ParametricMapStorage) throw FileError(path, "not a Parametric Map");
  Uint16 rows = 0, cols = 0;
  d.findAndGetUint16(DCM_Rows, rows);
  d.findAndGetUint16(DCM_Columns, cols);
  Sint32 frames = 1;
  d.findAndGetSint32(DCM_NumberOfFrames, frames);
  if (rows == 0 || cols == 0 || frames <= 0) throw FileError(path, "the Parametric Map has no rows, columns or frames");
  const std::size_t plane = static_cast<std::size_t>(rows) * cols;
  const Float32* pixels = nullptr;
  unsigned long count = 0;
  if (d.findAndGetFloat32Array(DCM_FloatPixelData, pixels, &count).bad() || !pixels)
    throw FileError(path, "the Parametric Map has no float pixel data (only 32-bit float maps are read)");
  if (count < plane * static_cast<std::size_t>(frames)) throw FileError(path, "the pixel data is shorter than its rows x columns x frames");

  DcmItem* shared = nullptr;
  d.findAndGetSequenceItem(DCM_SharedFunctionalGroupsSequence, shared, 0);
  DcmSequenceOfItems* perFrame = nullptr;
  d.findAndGetSequence(DCM_PerFrameFunctionalGroupsSequence, perFrame);
  auto frameItem = [&](int f) -> DcmItem* {
    return perFrame && static_cast<unsigned long>(f) < perFrame->card() ? perFrame->getItem(static_cast<unsigned long>(f)) : nullptr;
  };

  // Real-world values: slope and intercept of the first mapping (identity when absent).
  double slope = 1, intercept = 0;
  if (DcmItem* rw = groupItem(frameItem(0), shared, DCM_RealWorldValueMappingSequence)) {
    Float64 v;
    if (rw->findAndGetFloat64(DCM_RealWorldValueSlope, v).good()) slope = v;
    if (rw->findAndGetFloat64(DCM_RealWorldValueIntercept, v).good()) intercept = v;
  }
  Volume map(PixelType::Float32, {cols, rows, frames}, 1);
  float* out = map.data<float>();
  for (std::size_t i = 0; i < plane * static_cast<std::size_t>(frames); ++i) out[i] = static_cast<float>(pixels[i] * slope + intercept);

  double spacing[2] = {1, 1}, thickness = 1, orient[6] = {1, 0, 0, 0, 1, 0};
  if (DcmItem* pm = groupItem(frameItem(0), shared, DCM_PixelMeasuresSequence)) {
    doubles(*pm, DCM_PixelSpacing, spacing, 2);
    Float64 t = 0;
    if (pm->findAndGetFloat64(DCM_SpacingBetweenSlices, t).good() && t > 0) thickness = t;
    else if (pm->findAndGetFloat64(DCM_SliceThickness, t).good() && t > 0) thickness = t;
  }
  if (DcmItem* po = groupItem(frameItem(0), shared, DCM_PlaneOrientationSequence)) doubles(*po, DCM_ImageOrientationPatient, orient, 6);
  double first[3] = {0, 0, 0};
  bool havePosition = false;
  if (DcmItem* pp = groupItem(frameItem(0), shared, DCM_PlanePositionSequence)) havePosition = doubles(*pp, DCM_ImagePositionPatient, first, 3);
  Vec3 normal = {orient[1] * orient[5] - orient[2] * orient[4], orient[2] * orient[3] - orient[0] * orient[5],
                 orient[0] * orient[4] - orient[1] * orient[3]};
  if (frames > 1) {
    double last[3];
    if (DcmItem* pp = groupItem(frameItem(frames - 1), nullptr, DCM_PlanePositionSequence); pp && havePosition && doubles(*pp, DCM_ImagePositionPatient, last, 3)) {
      const double step = ((last[0] - first[0]) * normal[0] + (last[1] - first[1]) * normal[1] + (last[2] - first[2]) * normal[2]) / (frames - 1);
      if (std::abs(step) > 1e-6) {
        thickness = std::abs(step);
        if (step < 0) normal = {-normal[0], -normal[1], -normal[2]};
      }
    }
  }
  map.setSpacing({spacing[1], spacing[0], thickness});
  map.setDirection({orient[0], orient[3], normal[0], orient[1], orient[4], normal[1], orient[2], orient[5], normal[2]});
  map.setOrigin({first[0], first[1], first[2]});

  ImportedMap result;
  result.map = std::move(map);
  result.label = text(d, DCM_ContentLabel);
  result.description = text(d, DCM_ContentDescription);
  result.frameOfReferenceUid = text(d, DCM_FrameOfReferenceUID);
  DcmItem* series = nullptr;
  if (d.findAndGetSequenceItem(DCM_ReferencedSeriesSequence, series, 0).good()) result.referencedSeriesUid = text(*series, DCM_SeriesInstanceUID);
  for (int f = 0; f < frames; ++f) {
    std::string uid;
    if (DcmItem* der = groupItem(frameItem(f), nullptr, DCM_DerivationImageSequence)) {
      DcmItem* src = nullptr;
      if (der->findAndGetSequenceItem(DCM_SourceImageSequence, src, 0).good()) uid = text(*src, DCM_ReferencedSOPInstanceUID);
    }
    result.referencedInstances.push_back(uid);
  }
  auto& m = result.map.metadata();
  m.patientName = text(d, DCM_PatientName);
  m.patientId = text(d, DCM_PatientID);
  m.studyInstanceUid = text(d, DCM_StudyInstanceUID);
  m.seriesInstanceUid = text(d, DCM_SeriesInstanceUID);
  m.seriesDescription = text(d, DCM_SeriesDescription);
  m.modality = text(d, DCM_Modality);
  m.frameOfReferenceUid = result.frameOfReferenceUid;
  m.sourcePath = path;
  m.sourceFormat = "DICOM Parametric Map";
  return result;
}

}  // namespace al::report
