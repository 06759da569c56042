#include "io/DicomFileReader.h"

#include <dcmtk/config/osconfig.h>  // must come first
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmimage/diregist.h>
#include <dcmtk/dcmimgle/dcmimage.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dlfcn.h>
#include <dcmtk/oflog/oflog.h>

#include <algorithm>
#include <cmath>
#include <vector>
#include <limits>
#include <mutex>

#include "errors/Error.h"
#include "io/DicomGuard.h"
#include "io/DicomPixels.h"

namespace al {

bool dcmtkJpegLsIsSafe() {
  // DCMTK's JPEG-LS codec calls its private CharLS 1 by the legacy names (JpegLsDecode, ...),
  // which CharLS 2 also exports with another ABI. Whichever library the process found first
  // answers: DCMTK's codec is only used when that is DCMTK's own.
  static const bool safe = [] {
    void* symbol = dlsym(RTLD_DEFAULT, "JpegLsDecode");
    Dl_info info{};
    return symbol && dladdr(symbol, &info) && info.dli_fname && std::strstr(info.dli_fname, "dcmtkcharls");
  }();
  return safe;
}

void initDcmtk() {
  static std::once_flag once;
  std::call_once(once, [] {
    OFLog::configure(OFLogger::FATAL_LOG_LEVEL);  // our errors name the file and the reason; DCMTK's raw log lines would only confuse
    DJDecoderRegistration::registerCodecs();
    if (dcmtkJpegLsIsSafe()) DJLSDecoderRegistration::registerCodecs();  // second choice after CharLS 2
    DcmRLEDecoderRegistration::registerCodecs();
  });
}

namespace {

std::string getString(DcmItem& item, const DcmTagKey& key) {
  OFString value;
  if (item.findAndGetOFStringArray(key, value).good()) return value.c_str();
  return {};
}

bool getDoubles(DcmItem& item, const DcmTagKey& key, double* out, unsigned long count) {
  for (unsigned long i = 0; i < count; ++i) {
    Float64 v = 0;
    if (item.findAndGetFloat64(key, v, i).bad() || !std::isfinite(v)) return false;
    out[i] = v;
  }
  return true;
}

}  // namespace

bool DicomFileReader::canRead(const FileHead& head) const {
  if (head.startsWith("DICM", 128)) return true;
  // Files without the preamble and meta header (old ACR-NEMA style) start with a group 0008
  // or 0002 element, little or big endian.
  if (head.bytes.size() >= 8) {
    const auto b = head.bytes.data();
    const bool le = (b[0] == 0x08 || b[0] == 0x02) && b[1] == 0x00 && b[3] == 0x00;
    const bool be = b[0] == 0x00 && (b[1] == 0x08 || b[1] == 0x02) && b[2] == 0x00;
    return le || be;
  }
  return false;
}

Volume DicomFileReader::read(const std::string& path) const {
  initDcmtk();
  DcmFileFormat file;
  loadDicomFile(file, path);
  DcmDataset& ds = *file.getDataset();
  if (!ds.tagExists(DCM_PixelData)) {
    const std::string sopClass = getString(ds, DCM_SOPClassUID);
    if (ds.tagExists(DCM_FloatPixelData) || ds.tagExists(DCM_DoubleFloatPixelData))
      throw FileError(path, "holds a map in floating-point pixels (a Parametric Map), not a scan: open it in the viewer while the scan it "
                            "was derived from is on screen, and it is shown over it");
    throw FileError(path, "has no pixel data" + (sopClass.empty() ? std::string() : " (SOP class " + sopClass + ")"));
  }
  const DicomPixelLayout layout = dicomPixelLayout(ds, path);
  checkDicomPixelSize(ds, path, layout, layout.frames, transferSyntaxUid(file));
  const Size3 size{layout.columns, layout.rows, layout.frames};
  Volume volume(layout.type, size, layout.samples);
  if (layout.samples == 3) volume.setChannelNames({"R", "G", "B"});
  // Geometry: in the top-level dataset for classic images; in the functional groups (per frame,
  // else shared) for enhanced multi-frame images such as OPT and enhanced MR/CT.
  DcmItem* shared = nullptr;
  DcmItem* frames[2] = {nullptr, nullptr};
  ds.findAndGetSequenceItem(DCM_SharedFunctionalGroupsSequence, shared, 0);
  ds.findAndGetSequenceItem(DCM_PerFrameFunctionalGroupsSequence, frames[0], 0);
  ds.findAndGetSequenceItem(DCM_PerFrameFunctionalGroupsSequence, frames[1], 1);
  auto group = [&](DcmItem* frame, const DcmTagKey& sequence) -> DcmItem* {
    DcmItem* item = nullptr;
    if (frame && frame->findAndGetSequenceItem(sequence, item, 0).good() && item) return item;
    if (shared && shared->findAndGetSequenceItem(sequence, item, 0).good() && item) return item;
    return nullptr;
  };
  auto doubles = [&](const DcmTagKey& key, double* out, unsigned long n, DcmItem* frame, const DcmTagKey& sequence) {
    if (getDoubles(ds, key, out, n)) return true;
    DcmItem* item = group(frame, sequence);
    return item && getDoubles(*item, key, out, n);
  };
  double ps[2];
  Vec3 spacing{1, 1, 1};
  if (doubles(DCM_PixelSpacing, ps, 2, frames[0], DCM_PixelMeasuresSequence) || getDoubles(ds, DCM_ImagerPixelSpacing, ps, 2)) {
    if (ps[0] > 0 && ps[1] > 0) spacing = {ps[1], ps[0], 1.0};  // PixelSpacing is row\column
  }
  double sliceSpacing = 0;
  if ((doubles(DCM_SpacingBetweenSlices, &sliceSpacing, 1, frames[0], DCM_PixelMeasuresSequence) ||
       doubles(DCM_SliceThickness, &sliceSpacing, 1, frames[0], DCM_PixelMeasuresSequence)) &&
      sliceSpacing > 0) {
    spacing[2] = sliceSpacing;
  }
  double iop[6];
  Vec3 normal{0, 0, 1};
  if (doubles(DCM_ImageOrientationPatient, iop, 6, frames[0], DCM_PlaneOrientationSequence)) {
    const Vec3 r{iop[0], iop[1], iop[2]}, c{iop[3], iop[4], iop[5]};
    normal = {r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2], r[0] * c[1] - r[1] * c[0]};
    volume.setDirection({r[0], c[0], normal[0], r[1], c[1], normal[1], r[2], c[2], normal[2]});
  }
  // Frame positions: per frame (enhanced multi-frame), else the one ImagePositionPatient.
  std::vector<std::int64_t> frameOrder;  // frame f goes to slice frameOrder[f]
  std::vector<std::string> notes;
  double ipp[3];
  if (size.z > 1 && frames[0]) {
    std::vector<std::pair<double, std::int64_t>> keyed;
    std::vector<Vec3> positions;
    for (std::int64_t f = 0; f < size.z; ++f) {
      DcmItem* frame = nullptr;
      ds.findAndGetSequenceItem(DCM_PerFrameFunctionalGroupsSequence, frame, static_cast<signed long>(f));
      DcmItem* position = frame ? group(frame, DCM_PlanePositionSequence) : nullptr;
      if (!position || !getDoubles(*position, DCM_ImagePositionPatient, ipp, 3)) break;
      positions.push_back({ipp[0], ipp[1], ipp[2]});
      keyed.emplace_back(ipp[0] * normal[0] + ipp[1] * normal[1] + ipp[2] * normal[2], f);
    }
    if (static_cast<std::int64_t>(keyed.size()) == size.z) {
      // Order the frames along the normal (they are usually stored in order, but need not be).
      std::stable_sort(keyed.begin(), keyed.end());
      frameOrder.assign(static_cast<std::size_t>(size.z), 0);
      for (std::size_t k = 0; k < keyed.size(); ++k) frameOrder[static_cast<std::size_t>(keyed[k].second)] = static_cast<std::int64_t>(k);
      std::vector<double> steps;
      for (std::size_t k = 1; k < keyed.size(); ++k) steps.push_back(keyed[k].first - keyed[k - 1].first);
      std::vector<double> sorted = steps;
      std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(sorted.size() / 2), sorted.end());
      const double step = sorted[sorted.size() / 2];
      if (step > 1e-6) spacing[2] = step;
      const auto [lo, hi] = std::minmax_element(steps.begin(), steps.end());
      if (*lo < 1e-3) notes.push_back("frames share positions (several stacks or time points in one file): slices are shown in position order");
      else if (*hi - *lo > 0.01 * step + 1e-3) notes.push_back("frames are not evenly spaced (" + std::to_string(*lo) + " to " + std::to_string(*hi) + " mm): slice geometry is approximate");
      const Vec3& first = positions[static_cast<std::size_t>(keyed.front().second)];
      volume.setOrigin(first);
    }
  }
  if (frameOrder.empty() && doubles(DCM_ImagePositionPatient, ipp, 3, frames[0], DCM_PlanePositionSequence)) {
    volume.setOrigin({ipp[0], ipp[1], ipp[2]});
  }
  volume.setSpacing(spacing);

  auto& m = volume.metadata();
  readDicomMetadata(ds, m);
  m.transferSyntax = transferSyntaxName(transferSyntaxUid(file));
  m.sourcePath = path;
  if (layout.monochrome1) m.warnings.push_back("MONOCHROME1: values inverted so that higher is brighter");
  for (auto& n : notes) m.warnings.push_back(std::move(n));
  std::vector<std::int64_t> sliceOfFrame(static_cast<std::size_t>(size.z));
  for (std::int64_t f = 0; f < size.z; ++f) sliceOfFrame[static_cast<std::size_t>(f)] = frameOrder.empty() ? f : frameOrder[static_cast<std::size_t>(f)];
  OFString sopInstanceUid;
  ds.findAndGetOFString(DCM_SOPInstanceUID, sopInstanceUid);
  m.sourceImages.assign(static_cast<std::size_t>(size.z), {});
  for (std::int64_t f = 0; f < size.z; ++f) {
    const bool multiFrame = size.z > 1;
    m.sourceImages[static_cast<std::size_t>(sliceOfFrame[static_cast<std::size_t>(f)])] = {sopInstanceUid.c_str(), multiFrame ? static_cast<int>(f) + 1 : 0};
  }
  decodeDicomPixels(file, path, layout, volume, sliceOfFrame);
  return volume;
}

}  // namespace al
