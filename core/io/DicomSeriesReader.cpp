#include "io/DicomSeriesReader.h"

#include <dcmtk/config/osconfig.h>  // must come first
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>

#include "errors/Error.h"
#include "io/DicomFileReader.h"

namespace al {

namespace {

std::string str(DcmItem& item, const DcmTagKey& key) {
  OFString v;
  return item.findAndGetOFStringArray(key, v).good() ? std::string(v.c_str()) : std::string();
}

bool looksLikeDicom(const std::string& path) {
  try {
    return DicomFileReader().canRead(FileHead::read(path));
  } catch (const FileError&) {
    return false;
  }
}

}  // namespace

DicomFileHeader readDicomHeader(const std::string& path) {
  initDcmtk();
  DcmFileFormat file;
  const OFCondition status = file.loadFileUntilTag(path.c_str(), EXS_Unknown, EGL_noChange, DCM_MaxReadLength,
                                                   ERM_autoDetect, DCM_PixelData);
  if (status.bad()) throw FileError(path, std::string("not a readable DICOM file: ") + status.text());
  DcmDataset& ds = *file.getDataset();
  DicomFileHeader h;
  h.path = path;
  h.sopClassUid = str(ds, DCM_SOPClassUID);
  OFString metaClass;
  if (h.sopClassUid.empty() && file.getMetaInfo() &&
      file.getMetaInfo()->findAndGetOFString(DCM_MediaStorageSOPClassUID, metaClass).good()) {
    h.sopClassUid = metaClass.c_str();
  }
  h.sopInstanceUid = str(ds, DCM_SOPInstanceUID);
  h.seriesInstanceUid = str(ds, DCM_SeriesInstanceUID);
  h.studyInstanceUid = str(ds, DCM_StudyInstanceUID);
  h.modality = str(ds, DCM_Modality);
  h.seriesDescription = str(ds, DCM_SeriesDescription);
  h.seriesNumber = str(ds, DCM_SeriesNumber);
  h.patientName = str(ds, DCM_PatientName);
  h.patientId = str(ds, DCM_PatientID);
  h.studyDate = str(ds, DCM_StudyDate);
  h.studyDescription = str(ds, DCM_StudyDescription);
  h.transferSyntax = DcmXfer(ds.getOriginalXfer()).getXferName();
  Uint16 v = 0;
  if (ds.findAndGetUint16(DCM_Rows, v).good()) h.rows = v;
  if (ds.findAndGetUint16(DCM_Columns, v).good()) h.columns = v;
  Sint32 n = 0;
  if (ds.findAndGetSint32(DCM_NumberOfFrames, n).good() && n > 0) h.frames = n;
  if (ds.findAndGetSint32(DCM_InstanceNumber, n).good()) h.instanceNumber = n;
  h.hasPosition = true;
  for (unsigned long i = 0; i < 3; ++i) {
    Float64 f = 0;
    h.hasPosition = h.hasPosition && ds.findAndGetFloat64(DCM_ImagePositionPatient, f, i).good() && std::isfinite(f);
    h.position[i] = f;
  }
  h.hasOrientation = true;
  for (unsigned long i = 0; i < 6; ++i) {
    Float64 f = 0;
    h.hasOrientation = h.hasOrientation && ds.findAndGetFloat64(DCM_ImageOrientationPatient, f, i).good() && std::isfinite(f);
    h.orientation[i] = f;
  }
  return h;
}

DicomFolderIndex indexDicomFolder(const std::string& folder) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) throw FileError(folder, "is not a folder");
  DicomFolderIndex index;
  std::map<std::string, std::size_t> bySeries;
  std::vector<std::string> paths;
  for (fs::recursive_directory_iterator it(folder, fs::directory_options::skip_permission_denied, ec), end; it != end;
       it.increment(ec)) {
    if (ec) break;
    if (it->is_regular_file(ec)) paths.push_back(it->path().string());
  }
  std::sort(paths.begin(), paths.end());
  for (const auto& path : paths) {
    if (!looksLikeDicom(path)) continue;
    try {
      DicomFileHeader h = readDicomHeader(path);
      if (h.sopClassUid.empty()) {
        index.errors.emplace_back(path, "no SOP Class UID: not a valid DICOM object");
        continue;
      }
      if (h.rows == 0 || h.columns == 0) continue;  // DICOMDIR, SR, and other objects without an image
      const std::string key = h.seriesInstanceUid.empty() ? "(no series UID) " + path : h.seriesInstanceUid;
      auto [it, inserted] = bySeries.emplace(key, index.series.size());
      if (inserted) {
        DicomSeriesEntry e;
        e.seriesInstanceUid = h.seriesInstanceUid;
        e.modality = h.modality;
        e.seriesNumber = h.seriesNumber;
        e.seriesDescription = h.seriesDescription;
        e.patientName = h.patientName;
        e.patientId = h.patientId;
        e.studyInstanceUid = h.studyInstanceUid;
        e.studyDate = h.studyDate;
        e.studyDescription = h.studyDescription;
        index.series.push_back(std::move(e));
      }
      index.series[it->second].files.push_back(std::move(h));
    } catch (const FileError& e) {
      index.errors.emplace_back(path, e.reason());
    }
  }
  return index;
}

Volume readDicomSeries(const DicomSeriesEntry& series) {
  if (series.files.empty()) throw Error("DICOM series " + series.seriesInstanceUid, "has no image files");
  const DicomFileHeader& first = series.files.front();
  if (series.files.size() == 1) return DicomFileReader().read(first.path);
  const std::string where = first.path;
  for (const auto& f : series.files) {
    if (f.rows != first.rows || f.columns != first.columns) {
      throw FileError(where, "the series mixes image sizes (" + std::to_string(first.columns) + "x" + std::to_string(first.rows) +
                                 " and " + std::to_string(f.columns) + "x" + std::to_string(f.rows) + " in " + f.path + ")");
    }
    if (f.frames != 1) throw FileError(where, "the series mixes multi-frame files (" + f.path + ") with single slices");
    for (int i = 0; i < 6; ++i) {
      if (f.hasOrientation != first.hasOrientation || std::abs(f.orientation[i] - first.orientation[i]) > 1e-4) {
        throw FileError(where, "the series mixes slice orientations (" + f.path + ")");
      }
    }
  }
  // Order slices by their position along the normal; without positions, by instance number.
  const double* r = first.orientation;
  const Vec3 normal{r[1] * r[5] - r[2] * r[4], r[2] * r[3] - r[0] * r[5], r[0] * r[4] - r[1] * r[3]};
  const bool positioned = std::all_of(series.files.begin(), series.files.end(), [](const auto& f) { return f.hasPosition; });
  std::vector<std::pair<double, const DicomFileHeader*>> order;
  for (const auto& f : series.files) {
    const double key = positioned ? f.position[0] * normal[0] + f.position[1] * normal[1] + f.position[2] * normal[2]
                                  : static_cast<double>(f.instanceNumber);
    order.emplace_back(key, &f);
  }
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  double spacing = 0;
  if (positioned) {
    std::vector<double> steps;
    for (std::size_t i = 1; i < order.size(); ++i) steps.push_back(order[i].first - order[i - 1].first);
    for (std::size_t i = 0; i < steps.size(); ++i) {
      if (steps[i] < 1e-3) throw FileError(where, "two slices share one position (" + order[i + 1].second->path + ")");
    }
    std::vector<double> sorted = steps;
    std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(sorted.size() / 2), sorted.end());
    spacing = sorted[sorted.size() / 2];
    for (std::size_t i = 0; i < steps.size(); ++i) {
      if (std::abs(steps[i] - spacing) > 0.01 * spacing + 1e-3) {
        throw FileError(where, "uneven slice spacing (a gap or an extra slice near " + order[i + 1].second->path + ")");
      }
    }
  }

  std::vector<Volume> slices;
  slices.reserve(order.size());
  PixelType type = PixelType::UInt8;
  for (const auto& [key, header] : order) {
    slices.push_back(DicomFileReader().read(header->path));
    const Volume& s = slices.back();
    if (s.channels() != slices.front().channels()) throw FileError(where, "the series mixes colour and grey images");
    if (s.pixelType() == PixelType::Float32 || (s.pixelType() == PixelType::Int16 && type == PixelType::UInt8)) type = s.pixelType();
  }
  const Volume& ref = slices.front();
  Volume v(type, Size3{ref.size().x, ref.size().y, static_cast<std::int64_t>(slices.size())}, ref.channels());
  for (std::size_t z = 0; z < slices.size(); ++z) {
    const Volume& s = slices[z];
    for (int c = 0; c < s.channels(); ++c)
      for (std::int64_t y = 0; y < s.size().y; ++y)
        for (std::int64_t x = 0; x < s.size().x; ++x) v.setValue(x, y, static_cast<std::int64_t>(z), c, s.value(x, y, 0, c));
  }
  Vec3 sp = ref.spacing();
  if (spacing > 0) sp[2] = spacing;
  v.setSpacing(sp);
  v.setDirection(ref.direction());
  v.setOrigin(ref.origin());
  v.setChannelNames(ref.channelNames());
  v.metadata() = ref.metadata();
  v.metadata().sourcePath = std::filesystem::path(first.path).parent_path().string();
  return v;
}

}  // namespace al
