#include "io/DicomSeriesReader.h"

#include <dcmtk/config/osconfig.h>  // must come first
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcdicdir.h>
#include <dcmtk/dcmdata/dcdirrec.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>
#include <fstream>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>

#include "errors/Error.h"
#include "io/DicomFileReader.h"
#include "io/DicomGuard.h"
#include "runtime/MemoryBudget.h"

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
  loadDicomFile(file, path, DCM_PixelData);
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
  VolumeMetadata m;  // the same attributes a decoded volume gets, read in one place
  readDicomMetadata(ds, m);
  h.seriesInstanceUid = m.seriesInstanceUid;
  h.studyInstanceUid = m.studyInstanceUid;
  h.modality = m.modality;
  h.seriesDescription = m.seriesDescription;
  h.seriesNumber = m.seriesNumber;
  h.patientName = m.patientName;
  h.patientId = m.patientId;
  h.studyDate = m.studyDate;
  h.studyDescription = m.studyDescription;
  h.patientBirthDate = m.patientBirthDate;
  h.patientSex = m.patientSex;
  h.accessionNumber = m.accessionNumber;
  h.laterality = m.laterality;
  h.transferSyntax = transferSyntaxName(transferSyntaxUid(file));
  h.protocolName = str(ds, DCM_ProtocolName);
  h.scanningSequence = str(ds, DCM_ScanningSequence);
  h.contrastAgent = str(ds, DCM_ContrastBolusAgent);
  Float64 ms = 0;
  if (ds.findAndGetFloat64(DCM_EchoTime, ms).good() && std::isfinite(ms)) h.echoTime = ms;
  if (ds.findAndGetFloat64(DCM_RepetitionTime, ms).good() && std::isfinite(ms)) h.repetitionTime = ms;
  if (ds.findAndGetFloat64(DCM_InversionTime, ms).good() && std::isfinite(ms)) h.inversionTime = ms;
  if (ds.findAndGetFloat64(DCM_DiffusionBValue, ms).good() && std::isfinite(ms)) h.diffusionBValue = ms;
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
  if (h.rows > 0 && h.columns > 0) {
    try {
      h.layout = dicomPixelLayout(ds, path);
    } catch (const FileError&) {
      h.rows = h.columns = 0;  // an image this reader cannot use: not listed as a slice
    }
  }
  h.hasOrientation = true;
  for (unsigned long i = 0; i < 6; ++i) {
    Float64 f = 0;
    h.hasOrientation = h.hasOrientation && ds.findAndGetFloat64(DCM_ImageOrientationPatient, f, i).good() && std::isfinite(f);
    h.orientation[i] = f;
  }
  return h;
}

namespace {

// Reads the headers of `paths` (sorted) into `index`, grouped by series.
void indexFiles(const std::vector<std::string>& paths, DicomFolderIndex& index) {
  std::map<std::string, std::size_t> bySeries;
  for (std::size_t i = 0; i < index.series.size(); ++i) bySeries[index.series[i].seriesInstanceUid] = i;
  for (const auto& path : paths) {
    if (!looksLikeDicom(path)) continue;
    try {
      if (isDicomDir(path)) continue;
      DicomFileHeader h = readDicomHeader(path);
      if (h.sopClassUid.empty()) {
        index.errors.emplace_back(path, "no SOP Class UID: not a valid DICOM object");
        continue;
      }
      if (h.rows == 0 || h.columns == 0) continue;  // SR, presentation states and other objects without an image
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
        e.patientBirthDate = h.patientBirthDate;
        e.patientSex = h.patientSex;
        e.accessionNumber = h.accessionNumber;
        e.laterality = h.laterality;
        index.series.push_back(std::move(e));
      }
      index.series[it->second].files.push_back(std::move(h));
    } catch (const FileError& e) {
      index.errors.emplace_back(path, e.reason());
    }
  }
}

// A DICOMDIR's referenced file ID: components separated by '\', often upper case on the media
// while the copy on disk is not. Resolve component by component, ignoring case if need be.
std::string resolveReference(const std::filesystem::path& base, const std::string& fileId) {
  namespace fs = std::filesystem;
  fs::path p = base;
  std::size_t start = 0;
  while (start <= fileId.size()) {
    const std::size_t end = fileId.find('\\', start);
    std::string part = fileId.substr(start, end == std::string::npos ? std::string::npos : end - start);
    start = end == std::string::npos ? fileId.size() + 1 : end + 1;
    if (part.empty()) continue;
    if (part == "..") return {};  // a reference must stay inside the media
    std::error_code ec;
    if (fs::exists(p / part, ec)) {
      p /= part;
      continue;
    }
    bool found = false;
    for (fs::directory_iterator it(p, ec), e; !ec && it != e; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (name.size() == part.size() &&
          std::equal(name.begin(), name.end(), part.begin(), [](char x, char y) { return std::toupper(static_cast<unsigned char>(x)) == std::toupper(static_cast<unsigned char>(y)); })) {
        p = it->path();
        found = true;
        break;
      }
    }
    if (!found) return {};
  }
  return p.string();
}

void collectReferences(DcmDirectoryRecord* record, std::vector<std::string>& ids, int depth) {
  if (!record || depth > 16) return;
  DcmDirectoryRecord* sub = nullptr;
  while ((sub = record->nextSub(sub)) != nullptr) {
    OFString id;
    if (sub->findAndGetOFStringArray(DCM_ReferencedFileID, id).good() && !id.empty()) ids.emplace_back(id.c_str());
    collectReferences(sub, ids, depth + 1);
  }
}

}  // namespace

bool isDicomDir(const std::string& path) {
  // A DICOMDIR always has the Part 10 header (PS3.10 7.1): anything else is not one, and is not
  // parsed here (a 4 GiB NIfTI was walked as DICOM for minutes before `info` looked at it).
  {
    std::ifstream in(path, std::ios::binary);
    char head[132] = {};
    if (!in.read(head, sizeof head) || std::memcmp(head + 128, "DICM", 4) != 0) return false;
  }
  initDcmtk();
  DcmFileFormat file;
  try {
    if (!tryLoadDicomFile(file, path, DCM_DirectoryRecordSequence)) return false;
  } catch (const FileError&) {
    return false;  // nested too deep: not a DICOMDIR we open (reading it as a file says why)
  }
  OFString sopClass;
  if (file.getMetaInfo() && file.getMetaInfo()->findAndGetOFString(DCM_MediaStorageSOPClassUID, sopClass).good() &&
      sopClass == UID_MediaStorageDirectoryStorage) {
    return true;
  }
  return file.getDataset()->tagExists(DCM_DirectoryRecordSequence) || file.getDataset()->tagExists(DCM_OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity);
}

DicomFolderIndex indexDicomDir(const std::string& dicomdir) {
  namespace fs = std::filesystem;
  initDcmtk();
  if (!isDicomDir(dicomdir)) throw FileError(dicomdir, "is not a DICOMDIR");
  checkDicomNesting(dicomdir);
  // DCMTK's parser can throw from inside (std::out_of_range on a malformed record type, found by
  // tests/fuzz/fuzz_dicomdir): that is a malformed DICOMDIR, not the end of the process.
  std::unique_ptr<DcmDicomDir> dir;
  try {
    dir = std::make_unique<DcmDicomDir>(dicomdir.c_str());
  } catch (const std::exception& e) {
    spdlog::debug("{}: DCMTK's DICOMDIR parser threw: {}", dicomdir, e.what());
    throw FileError(dicomdir, "unreadable DICOMDIR: a directory record is malformed");
  }
  if (dir->error().bad()) throw FileError(dicomdir, std::string("unreadable DICOMDIR: ") + dir->error().text());
  std::vector<std::string> ids;
  collectReferences(&dir->getRootRecord(), ids, 0);
  DicomFolderIndex index;
  std::vector<std::string> paths;
  const fs::path base = fs::path(dicomdir).parent_path();
  for (const auto& id : ids) {
    const std::string path = resolveReference(base, id);
    if (path.empty()) index.errors.emplace_back(dicomdir, "references " + id + ", which is not on disk");
    else paths.push_back(path);
  }
  std::sort(paths.begin(), paths.end());
  paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
  indexFiles(paths, index);
  return index;
}

DicomFolderIndex indexDicomFolder(const std::string& folder) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) throw FileError(folder, "is not a folder");
  DicomFolderIndex index;
  std::vector<std::string> paths;
  for (fs::recursive_directory_iterator it(folder, fs::directory_options::skip_permission_denied, ec), end; it != end;
       it.increment(ec)) {
    if (ec) break;
    if (it->is_regular_file(ec)) paths.push_back(it->path().string());
  }
  std::sort(paths.begin(), paths.end());
  indexFiles(paths, index);
  return index;
}

namespace {

Vec3 normalOf(const DicomFileHeader& h) {
  const double* r = h.orientation;
  return {r[1] * r[5] - r[2] * r[4], r[2] * r[3] - r[0] * r[5], r[0] * r[4] - r[1] * r[3]};
}

std::string geometryKey(const DicomFileHeader& h) {
  char buf[160];
  std::snprintf(buf, sizeof(buf), "%dx%dx%d/%d/%d/%.3f,%.3f,%.3f,%.3f,%.3f,%.3f", h.columns, h.rows, h.layout.samples, h.frames,
                h.hasOrientation ? 1 : 0, h.orientation[0], h.orientation[1], h.orientation[2], h.orientation[3],
                h.orientation[4], h.orientation[5]);
  return buf;
}

std::string mm(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3g mm", v);
  return buf;
}

}  // namespace

DicomSeriesPlan planDicomSeries(const DicomSeriesEntry& series) {
  DicomSeriesPlan plan;
  // 1. Images of one size, pixel format and orientation belong together; multi-frame files
  //    are stacks of their own.
  std::map<std::string, std::vector<DicomFileHeader>> groups;
  std::vector<std::string> order;
  for (const auto& f : series.files) {
    const std::string key = f.frames > 1 ? "multiframe:" + f.path : geometryKey(f);
    if (!groups.count(key)) order.push_back(key);
    groups[key].push_back(f);
  }
  if (order.size() > 1) {
    plan.notes.push_back("the series mixes image sizes, orientations or multi-frame files: split into " +
                         std::to_string(order.size()) + " groups");
  }
  for (const auto& key : order) {
    auto& files = groups[key];
    if (files.size() == 1) {
      DicomStack s;
      s.files = files;
      plan.stacks.push_back(std::move(s));
      continue;
    }
    const Vec3 n = normalOf(files.front());
    const bool positioned = std::all_of(files.begin(), files.end(), [](const auto& f) { return f.hasPosition; });
    auto keyOf = [&](const DicomFileHeader& f) {
      return positioned ? f.position[0] * n[0] + f.position[1] * n[1] + f.position[2] * n[2] : static_cast<double>(f.instanceNumber);
    };
    std::stable_sort(files.begin(), files.end(), [&](const auto& a, const auto& b) {
      const double ka = keyOf(a), kb = keyOf(b);
      return ka != kb ? ka < kb : a.instanceNumber < b.instanceNumber;
    });
    // 2. Two images at one position (echoes, repeats): the k-th image of each position goes to
    //    the k-th stack, rather than one being dropped or both interleaved.
    std::vector<std::vector<DicomFileHeader>> layers;
    std::size_t i = 0;
    while (i < files.size()) {
      std::size_t j = i;
      while (j + 1 < files.size() && std::abs(keyOf(files[j + 1]) - keyOf(files[i])) < (positioned ? 1e-3 : 0.5)) ++j;
      for (std::size_t k = i; k <= j; ++k) {
        if (layers.size() <= k - i) layers.emplace_back();
        layers[k - i].push_back(files[k]);
      }
      i = j + 1;
    }
    if (layers.size() > 1) {
      plan.notes.push_back(std::to_string(layers.size()) + " images share each position (echoes or repeats): split into one stack per image");
    }
    // 3. Gaps: split where the step between neighbours departs from the usual step.
    for (auto& layer : layers) {
      std::vector<double> steps;
      for (std::size_t k = 1; k < layer.size(); ++k) steps.push_back(keyOf(layer[k]) - keyOf(layer[k - 1]));
      double usual = 0;
      if (!steps.empty()) {
        std::vector<double> sorted = steps;
        std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(sorted.size() / 2), sorted.end());
        usual = sorted[sorted.size() / 2];
      }
      DicomStack current;
      current.spacing = positioned ? usual : 0.0;
      current.files.push_back(layer.front());
      for (std::size_t k = 1; k < layer.size(); ++k) {
        if (positioned && std::abs(steps[k - 1] - usual) > 0.01 * usual + 1e-3) {
          plan.notes.push_back("gap of " + mm(steps[k - 1]) + " where slices are " + mm(usual) + " apart, before " + layer[k].path +
                               ": split there");
          plan.stacks.push_back(std::move(current));
          current = DicomStack();
          current.spacing = usual;
        }
        current.files.push_back(layer[k]);
      }
      plan.stacks.push_back(std::move(current));
    }
  }
  // 4. Gantry tilt: the slices are stacked along a direction other than their normal.
  for (auto& s : plan.stacks) {
    if (s.files.size() < 2 || !s.files.front().hasPosition) continue;
    const auto& a = s.files.front().position;
    const auto& b = s.files.back().position;
    const Vec3 d{b[0] - a[0], b[1] - a[1], b[2] - a[2]};
    const Vec3 n = normalOf(s.files.front());
    const double len = std::sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
    if (len > 0) {
      const double c = std::clamp(std::abs(d[0] * n[0] + d[1] * n[1] + d[2] * n[2]) / len, 0.0, 1.0);
      s.tiltDegrees = std::acos(c) * 180.0 / 3.14159265358979323846;
    }
  }
  for (std::size_t k = 0; k < plan.stacks.size(); ++k) {
    auto& s = plan.stacks[k];
    s.label = "stack " + std::to_string(k + 1) + " of " + std::to_string(plan.stacks.size()) + ": " +
              std::to_string(s.files.size()) + (s.files.size() == 1 ? " image" : " images") +
              (s.spacing > 0 && s.files.size() > 1 ? ", " + mm(s.spacing) + " apart" : "");
  }
  return plan;
}

Volume readDicomStack(const DicomStack& stack) {
  if (stack.files.empty()) throw Error("DICOM stack", "has no images");
  const DicomFileHeader& first = stack.files.front();
  if (stack.files.size() == 1) return DicomFileReader().read(first.path);
  PixelType type = first.layout.type;
  for (const auto& f : stack.files) type = widerPixelType(type, f.layout.type);
  const auto depth = static_cast<std::int64_t>(stack.files.size());
  checkMemoryBudget(first.path, imageBytes(static_cast<std::uint64_t>(first.columns), static_cast<std::uint64_t>(first.rows),
                                           static_cast<std::uint64_t>(depth), static_cast<std::uint64_t>(first.layout.samples), pixelTypeSize(type)),
                    "its series (" + std::to_string(first.columns) + " x " + std::to_string(first.rows) + " x " + std::to_string(depth) + " slices)");
  Volume v(type, Size3{first.columns, first.rows, depth}, first.layout.samples);
  if (first.layout.samples == 3) v.setChannelNames({"R", "G", "B"});

  // Decode in parallel, each slice straight into its place: no second copy of the voxels.
  initDcmtk();
  std::atomic<std::size_t> next{0};
  std::mutex errorMutex;
  std::exception_ptr error;
  auto work = [&] {
    for (std::size_t z = next++; z < stack.files.size(); z = next++) {
      try {
        const auto& h = stack.files[z];
        DcmFileFormat file;
        loadDicomFile(file, h.path);
        checkDicomPixelSize(*file.getDataset(), h.path, h.layout, 1, transferSyntaxUid(file));
        decodeDicomPixels(file, h.path, h.layout, v, {static_cast<std::int64_t>(z)});
      } catch (...) {
        std::lock_guard<std::mutex> lock(errorMutex);
        if (!error) error = std::current_exception();
        next = stack.files.size();
      }
    }
  };
  const unsigned threads = std::max(1u, std::min<unsigned>(std::thread::hardware_concurrency(), static_cast<unsigned>(stack.files.size())));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);

  // Geometry from the headers: the first slice's position, the normal, the slice step.
  Vec3 spacing{1, 1, stack.spacing > 0 ? stack.spacing : 1.0};
  DcmFileFormat header;
  if (tryLoadDicomFile(header, first.path, DCM_PixelData)) {
    DcmDataset& ds = *header.getDataset();
    Float64 row = 0, col = 0;
    if (ds.findAndGetFloat64(DCM_PixelSpacing, row, 0).good() && ds.findAndGetFloat64(DCM_PixelSpacing, col, 1).good() && row > 0 && col > 0) {
      spacing[0] = col;
      spacing[1] = row;
    }
    if (stack.spacing <= 0) {
      Float64 t = 0;
      if (ds.findAndGetFloat64(DCM_SliceThickness, t).good() && t > 0) spacing[2] = t;
    }
    readDicomMetadata(ds, v.metadata());
    v.metadata().transferSyntax = transferSyntaxName(transferSyntaxUid(header));
  }
  v.setSpacing(spacing);
  if (first.hasOrientation) {
    const double* r = first.orientation;
    const Vec3 n = normalOf(first);
    v.setDirection({r[0], r[3], n[0], r[1], r[4], n[1], r[2], r[5], n[2]});
  }
  if (first.hasPosition) v.setOrigin({first.position[0], first.position[1], first.position[2]});
  auto& m = v.metadata();
  m.sourcePath = std::filesystem::path(first.path).parent_path().string();
  m.sourceImages.clear();
  for (const auto& f : stack.files) m.sourceImages.push_back({f.sopInstanceUid, 0});
  if (first.layout.monochrome1) m.warnings.push_back("MONOCHROME1: values inverted so that higher is brighter");
  if (stack.tiltDegrees > 0.5) {
    char buf[160];
    std::snprintf(buf, sizeof(buf), "gantry tilt of %.1f degrees: slices are shown stacked along their normal, without shear correction",
                  stack.tiltDegrees);
    m.warnings.push_back(buf);
  }
  return v;
}

Volume readDicomSeries(const DicomSeriesEntry& series) {
  if (series.files.empty()) throw Error("DICOM series " + series.seriesInstanceUid, "has no image files");
  const DicomSeriesPlan plan = planDicomSeries(series);
  if (plan.stacks.size() == 1) {
    Volume v = readDicomStack(plan.stacks.front());
    for (const auto& n : plan.notes) v.metadata().warnings.push_back(n);
    return v;
  }
  std::string reason = "is not one consistent stack";
  for (const auto& n : plan.notes) reason += "; " + n;
  reason += " (" + std::to_string(plan.stacks.size()) + " stacks: open one of them)";
  throw FileError(series.files.front().path, reason);
}

}  // namespace al
