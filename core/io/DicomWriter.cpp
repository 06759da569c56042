#include "io/DicomWriter.h"

#include <dcmtk/config/osconfig.h>  // must come first
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcuid.h>  // SOP class UIDs

#include <chrono>
#include <mutex>
#include <random>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>

#include "errors/Error.h"
#include "io/AtomicFile.h"
#include "runtime/Version.h"

namespace al {

std::string newDicomUid() {
  // A UUID-derived UID (root 2.25, PS3.5 B.2): a random version-4 UUID as one decimal number.
  // Not DCMTK's dcmGenerateUniqueIdentifier: that looks the host name up (gethostid) for every
  // UID, which costs a DNS round trip each time, and seconds when no name server answers.
  static std::mutex mutex;
  static std::mt19937_64 engine = [] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd(),
                      static_cast<unsigned>(std::chrono::high_resolution_clock::now().time_since_epoch().count())};
    return std::mt19937_64(seq);
  }();
  std::uint64_t hi, lo;
  {
    std::lock_guard<std::mutex> lock(mutex);
    hi = engine();
    lo = engine();
  }
  hi = (hi & ~0xf000ull) | 0x4000ull;                                    // version 4
  lo = (lo & ~0xc000000000000000ull) | 0x8000000000000000ull;           // variant 10
  // The 128-bit number in decimal: long division by 10 over four 32-bit limbs.
  std::uint32_t limbs[4] = {static_cast<std::uint32_t>(hi >> 32), static_cast<std::uint32_t>(hi),
                            static_cast<std::uint32_t>(lo >> 32), static_cast<std::uint32_t>(lo)};
  std::string digits;
  while (limbs[0] || limbs[1] || limbs[2] || limbs[3]) {
    std::uint64_t remainder = 0;
    for (auto& limb : limbs) {
      const std::uint64_t current = (remainder << 32) | limb;
      limb = static_cast<std::uint32_t>(current / 10);
      remainder = current % 10;
    }
    digits.insert(digits.begin(), static_cast<char>('0' + remainder));
  }
  return "2.25." + digits;
}

namespace {

std::string nowString(const char* format) {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), format, &tm);
  return buf;
}

std::string decimal(double v) {
  // DICOM DS: at most 16 characters.
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.10g", v);
  std::string s = buf;
  if (s.size() > 16) {
    std::snprintf(buf, sizeof(buf), "%.6g", v);
    s = buf;
  }
  return s;
}

std::string decimals(std::initializer_list<double> values) {
  std::string s;
  for (double v : values) s += (s.empty() ? "" : "\\") + decimal(v);
  return s;
}

void put(DcmItem& item, const DcmTagKey& key, const std::string& value) {
  const OFCondition status = item.putAndInsertString(key, value.c_str());
  if (status.bad()) throw Error("DICOM writer", "cannot set " + std::string(DcmTag(key).getTagName()) + ": " + status.text());
}

void putCode(DcmItem& parent, const DcmTagKey& sequence, const char* value, const char* scheme, const char* meaning) {
  DcmItem* item = nullptr;
  parent.findOrCreateSequenceItem(sequence, item, -2);
  put(*item, DCM_CodeValue, value);
  put(*item, DCM_CodingSchemeDesignator, scheme);
  put(*item, DCM_CodeMeaning, meaning);
}

void putPatientStudy(DcmItem& ds, const DicomStudy& study) {
  put(ds, DCM_SpecificCharacterSet, "ISO_IR 192");
  put(ds, DCM_PatientName, study.patientName);
  put(ds, DCM_PatientID, study.patientId);
  put(ds, DCM_PatientBirthDate, study.patientBirthDate);
  put(ds, DCM_PatientSex, study.patientSex);
  put(ds, DCM_StudyInstanceUID, study.studyInstanceUid);
  put(ds, DCM_StudyDate, study.studyDate);
  put(ds, DCM_StudyTime, study.studyTime);
  put(ds, DCM_StudyDescription, study.studyDescription);
  put(ds, DCM_AccessionNumber, study.accessionNumber);
  put(ds, DCM_StudyID, study.studyId);
  put(ds, DCM_ReferringPhysicianName, "");
  put(ds, DCM_FrameOfReferenceUID, study.frameOfReferenceUid);
  put(ds, DCM_PositionReferenceIndicator, "");
  put(ds, DCM_Manufacturer, "AnomalyLens");
  put(ds, DCM_ManufacturerModelName, "AnomalyLens phantom");
  put(ds, DCM_DeviceSerialNumber, "0");
  put(ds, DCM_SoftwareVersions, kVersion);
}

// The Image Pixel module of a grey image (the pixel data itself is added by the caller).
void putGreyPixelModule(DcmItem& ds, const Size3& size, Uint16 bits, bool isSigned) {
  ds.putAndInsertUint16(DCM_SamplesPerPixel, 1);
  put(ds, DCM_PhotometricInterpretation, "MONOCHROME2");
  ds.putAndInsertUint16(DCM_Rows, static_cast<Uint16>(size.y));
  ds.putAndInsertUint16(DCM_Columns, static_cast<Uint16>(size.x));
  ds.putAndInsertUint16(DCM_BitsAllocated, bits);
  ds.putAndInsertUint16(DCM_BitsStored, bits);
  ds.putAndInsertUint16(DCM_HighBit, static_cast<Uint16>(bits - 1));
  ds.putAndInsertUint16(DCM_PixelRepresentation, isSigned ? 1 : 0);
}

void save(DcmFileFormat& file, const std::string& path) {
  writeAtomically(path, [&](const std::string& tmp) {
    const OFCondition status = file.saveFile(tmp.c_str(), EXS_LittleEndianExplicit);
    if (status.bad()) throw FileError(path, std::string("cannot write DICOM: ") + status.text());
  });
}

}  // namespace

void DicomStudy::complete() {
  if (studyInstanceUid.empty()) studyInstanceUid = newDicomUid();
  if (frameOfReferenceUid.empty()) frameOfReferenceUid = newDicomUid();
  if (studyDate.empty()) studyDate = nowString("%Y%m%d");
  if (studyTime.empty()) studyTime = nowString("%H%M%S");
}

std::vector<std::string> writeDicomMrSeries(const Volume& volume, int channel, const std::string& folder,
                                            DicomStudy study, const DicomSeries& series) {
  if (volume.empty() || channel < 0 || channel >= volume.channels()) throw FileError(folder, "nothing to write");
  if (volume.size().x > 65535 || volume.size().y > 65535) throw FileError(folder, "slices larger than 65535 pixels");
  study.complete();
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec) throw FileError(folder, "cannot create the folder: " + ec.message());
  const std::string seriesUid = series.seriesInstanceUid.empty() ? newDicomUid() : series.seriesInstanceUid;
  const auto& s = volume.size();
  const auto& d = volume.direction();
  const Vec3 normal{d[2], d[5], d[8]};
  const std::string orientation = decimals({d[0], d[3], d[6], d[1], d[4], d[7]});
  std::vector<Sint16> pixels(static_cast<std::size_t>(s.x * s.y));
  std::vector<std::string> files;
  for (std::int64_t z = 0; z < s.z; ++z) {
    DcmFileFormat file;
    DcmDataset& ds = *file.getDataset();
    putPatientStudy(ds, study);
    put(ds, DCM_SOPClassUID, UID_MRImageStorage);
    put(ds, DCM_SOPInstanceUID, newDicomUid());
    put(ds, DCM_Modality, "MR");
    put(ds, DCM_SeriesInstanceUID, seriesUid);
    put(ds, DCM_SeriesNumber, std::to_string(series.seriesNumber));
    put(ds, DCM_SeriesDescription, series.seriesDescription);
    put(ds, DCM_ProtocolName, series.seriesDescription);
    put(ds, DCM_InstanceNumber, std::to_string(z + 1));
    put(ds, DCM_ImageType, "ORIGINAL\\PRIMARY\\OTHER");
    put(ds, DCM_ContentDate, study.studyDate);
    put(ds, DCM_ContentTime, study.studyTime);
    // MR acquisition.
    const bool ir = series.inversionTime > 0;
    put(ds, DCM_ScanningSequence, ir ? "IR\\SE" : "SE");
    put(ds, DCM_SequenceVariant, "NONE");
    put(ds, DCM_ScanOptions, "");
    put(ds, DCM_MRAcquisitionType, "2D");
    put(ds, DCM_RepetitionTime, decimal(series.repetitionTime));
    put(ds, DCM_EchoTime, decimal(series.echoTime));
    if (ir) put(ds, DCM_InversionTime, decimal(series.inversionTime));
    put(ds, DCM_EchoTrainLength, "1");
    put(ds, DCM_MagneticFieldStrength, "1.5");
    put(ds, DCM_BodyPartExamined, "HEAD");
    put(ds, DCM_PatientPosition, "HFS");
    if (series.contrastAgent) {
      put(ds, DCM_ContrastBolusAgent, "Gadolinium");
      put(ds, DCM_ContrastBolusRoute, "IV");
    }
    // Geometry.
    const Vec3 position = volume.indexToPhysical({0.0, 0.0, static_cast<double>(z)});
    put(ds, DCM_ImagePositionPatient, decimals({position[0], position[1], position[2]}));
    put(ds, DCM_ImageOrientationPatient, orientation);
    put(ds, DCM_PixelSpacing, decimals({volume.spacing()[1], volume.spacing()[0]}));  // row, column
    put(ds, DCM_SliceThickness, decimal(volume.spacing()[2]));
    put(ds, DCM_SpacingBetweenSlices, decimal(volume.spacing()[2]));
    put(ds, DCM_SliceLocation, decimal(position[0] * normal[0] + position[1] * normal[1] + position[2] * normal[2]));
    // Pixels.
    putGreyPixelModule(ds, s, 16, true);
    double lo = 1e30, hi = -1e30;
    for (std::int64_t y = 0; y < s.y; ++y)
      for (std::int64_t x = 0; x < s.x; ++x) {
        const double v = std::clamp(std::round(volume.value(x, y, z, channel)), -32768.0, 32767.0);
        pixels[static_cast<std::size_t>(y * s.x + x)] = static_cast<Sint16>(v);
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
    const double width = std::max(1.0, hi - lo);
    put(ds, DCM_WindowCenter, decimal(std::round(lo + width / 2)));
    put(ds, DCM_WindowWidth, decimal(std::round(width)));
    ds.putAndInsertUint16Array(DCM_PixelData, reinterpret_cast<const Uint16*>(pixels.data()),
                               static_cast<unsigned long>(pixels.size()));
    char name[32];
    std::snprintf(name, sizeof(name), "IM%05lld.dcm", static_cast<long long>(z + 1));
    const std::string path = (std::filesystem::path(folder) / name).string();
    save(file, path);
    files.push_back(path);
  }
  return files;
}

void writeDicomOphthalmicTomography(const Volume& volume, const std::string& path, DicomStudy study,
                                    const DicomSeries& series) {
  if (volume.empty() || volume.pixelType() != PixelType::UInt8 || volume.channels() != 1) {
    throw FileError(path, "an OCT volume must be single-channel uint8");
  }
  study.complete();
  const auto& s = volume.size();
  if (s.x > 65535 || s.y > 65535) throw FileError(path, "B-scans larger than 65535 pixels");
  DcmFileFormat file;
  DcmDataset& ds = *file.getDataset();
  putPatientStudy(ds, study);
  put(ds, DCM_SOPClassUID, UID_OphthalmicTomographyImageStorage);
  put(ds, DCM_Modality, "OPT");
  put(ds, DCM_SeriesInstanceUID, series.seriesInstanceUid.empty() ? newDicomUid() : series.seriesInstanceUid);
  put(ds, DCM_SeriesNumber, std::to_string(series.seriesNumber));
  put(ds, DCM_SeriesDescription, series.seriesDescription);
  put(ds, DCM_InstanceNumber, "1");
  put(ds, DCM_ContentDate, study.studyDate);
  put(ds, DCM_ContentTime, study.studyTime);
  const std::string acquired = study.studyDate + study.studyTime;
  // Ophthalmic Tomography Image module.
  put(ds, DCM_ImageType, "ORIGINAL\\PRIMARY");
  put(ds, DCM_AcquisitionDateTime, acquired);
  put(ds, DCM_AcquisitionDuration, "1.5");
  put(ds, DCM_AcquisitionNumber, "1");
  put(ds, DCM_PresentationLUTShape, "IDENTITY");
  put(ds, DCM_LossyImageCompression, "00");
  put(ds, DCM_BurnedInAnnotation, "NO");
  // Not a concatenation: no Concatenation UID, and so none of the attributes that PS3.3 makes
  // conditional on it (dicom3tools 2022 lists three of them as type 1 for OPT; see the test).
  put(ds, DCM_SOPInstanceUID, newDicomUid());
  // Acquisition parameters (type 2: present, may be empty).
  put(ds, DCM_AxialLengthOfTheEye, "");
  put(ds, DCM_HorizontalFieldOfView, "");
  ds.insertEmptyElement(DCM_RefractiveStateSequence);
  put(ds, DCM_EmmetropicMagnification, "");
  put(ds, DCM_IntraOcularPressure, "");
  put(ds, DCM_PupilDilated, "");
  // Ophthalmic tomography parameters.
  putCode(ds, DCM_AcquisitionDeviceTypeCodeSequence, "392012008", "SCT", "Optical Coherence Tomography Scanner");
  ds.insertEmptyElement(DCM_LightPathFilterTypeStackCodeSequence);
  put(ds, DCM_DetectorType, "CCD");
  put(ds, DCM_IlluminationWaveLength, "870");
  put(ds, DCM_IlluminationPower, "1.2");
  put(ds, DCM_IlluminationBandwidth, "50");
  put(ds, DCM_DepthSpatialResolution, decimal(volume.spacing()[1] * 1000.0));  // micrometres
  put(ds, DCM_MaximumDepthDistortion, "0");
  put(ds, DCM_AlongScanSpatialResolution, decimal(volume.spacing()[0] * 1000.0));
  put(ds, DCM_MaximumAlongScanDistortion, "0");
  put(ds, DCM_AcrossScanSpatialResolution, decimal(volume.spacing()[2] * 1000.0));
  put(ds, DCM_MaximumAcrossScanDistortion, "0");
  // Ocular region imaged.
  put(ds, DCM_ImageLaterality, series.laterality.empty() ? "R" : series.laterality);
  putCode(ds, DCM_AnatomicRegionSequence, "5665001", "SCT", "Retina");
  // Acquisition context (type 2, empty).
  ds.insertEmptyElement(DCM_AcquisitionContextSequence);

  // Multi-frame: one B-scan per frame, stacked along the volume's third axis.
  put(ds, DCM_NumberOfFrames, std::to_string(s.z));
  const std::string dimensionUid = newDicomUid();
  {
    DcmItem* org = nullptr;
    ds.findOrCreateSequenceItem(DCM_DimensionOrganizationSequence, org, -2);
    put(*org, DCM_DimensionOrganizationUID, dimensionUid);
    DcmItem* index = nullptr;
    ds.findOrCreateSequenceItem(DCM_DimensionIndexSequence, index, -2);
    put(*index, DCM_DimensionOrganizationUID, dimensionUid);
    index->putAndInsertTagKey(DCM_DimensionIndexPointer, DCM_InStackPositionNumber);
    index->putAndInsertTagKey(DCM_FunctionalGroupPointer, DCM_FrameContentSequence);
    put(*index, DCM_DimensionDescriptionLabel, "B-scan");
  }
  {
    DcmItem* shared = nullptr;
    ds.findOrCreateSequenceItem(DCM_SharedFunctionalGroupsSequence, shared, -2);
    DcmItem* measures = nullptr;
    shared->findOrCreateSequenceItem(DCM_PixelMeasuresSequence, measures, -2);
    put(*measures, DCM_PixelSpacing, decimals({volume.spacing()[1], volume.spacing()[0]}));
    put(*measures, DCM_SliceThickness, decimal(volume.spacing()[2]));
    const auto& d = volume.direction();
    DcmItem* orientation = nullptr;
    shared->findOrCreateSequenceItem(DCM_PlaneOrientationSequence, orientation, -2);
    put(*orientation, DCM_ImageOrientationPatient, decimals({d[0], d[3], d[6], d[1], d[4], d[7]}));
    DcmItem* anatomy = nullptr;
    shared->findOrCreateSequenceItem(DCM_FrameAnatomySequence, anatomy, -2);
    putCode(*anatomy, DCM_AnatomicRegionSequence, "5665001", "SCT", "Retina");
    put(*anatomy, DCM_FrameLaterality, series.laterality.empty() ? "R" : series.laterality);
  }
  for (std::int64_t z = 0; z < s.z; ++z) {
    DcmItem* frame = nullptr;
    ds.findOrCreateSequenceItem(DCM_PerFrameFunctionalGroupsSequence, frame, -2);
    DcmItem* content = nullptr;
    frame->findOrCreateSequenceItem(DCM_FrameContentSequence, content, -2);
    put(*content, DCM_FrameAcquisitionDateTime, acquired);
    put(*content, DCM_FrameReferenceDateTime, acquired);
    put(*content, DCM_FrameAcquisitionDuration, "30");
    put(*content, DCM_StackID, "1");
    put(*content, DCM_InStackPositionNumber, std::to_string(z + 1));
    const Uint32 dimensionValue = static_cast<Uint32>(z + 1);
    content->putAndInsertUint32Array(DCM_DimensionIndexValues, &dimensionValue, 1);
    DcmItem* position = nullptr;
    frame->findOrCreateSequenceItem(DCM_PlanePositionSequence, position, -2);
    const Vec3 p = volume.indexToPhysical({0.0, 0.0, static_cast<double>(z)});
    put(*position, DCM_ImagePositionPatient, decimals({p[0], p[1], p[2]}));
  }
  putGreyPixelModule(ds, s, 8, false);
  ds.putAndInsertUint8Array(DCM_PixelData, reinterpret_cast<const Uint8*>(volume.bytes()),
                            static_cast<unsigned long>(volume.byteSize()));
  save(file, path);
}

}  // namespace al
