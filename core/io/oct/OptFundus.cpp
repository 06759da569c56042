#include "io/oct/OptFundus.h"

#include <dcmtk/config/osconfig.h>  // must come first
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>

#include <cmath>

#include "errors/Error.h"
#include "io/DicomFileReader.h"
#include "io/DicomGuard.h"

namespace al {

namespace {

struct FrameLocation {
  std::string referencedUid;
  double r1 = 0, c1 = 0, r2 = 0, c2 = 0;  // row\column pairs on the referenced image
};

std::vector<FrameLocation> frameLocations(const std::string& path) {
  initDcmtk();
  DcmFileFormat file;
  std::vector<FrameLocation> out;
  if (!tryLoadDicomFile(file, path, DCM_PixelData)) return out;
  DcmDataset& ds = *file.getDataset();
  for (signed long f = 0;; ++f) {
    DcmItem* frame = nullptr;
    if (ds.findAndGetSequenceItem(DCM_PerFrameFunctionalGroupsSequence, frame, f).bad() || !frame) break;
    DcmItem* location = nullptr;
    FrameLocation loc;
    if (frame->findAndGetSequenceItem(DCM_OphthalmicFrameLocationSequence, location, 0).good() && location) {
      OFString uid;
      location->findAndGetOFString(DCM_ReferencedSOPInstanceUID, uid);
      loc.referencedUid = uid.c_str();
      Float32 v[4] = {0, 0, 0, 0};
      bool ok = true;
      for (unsigned long i = 0; i < 4; ++i) ok = ok && location->findAndGetFloat32(DCM_ReferenceCoordinates, v[i], i).good();
      if (!ok) return {};
      loc.r1 = v[0];
      loc.c1 = v[1];
      loc.r2 = v[2];
      loc.c2 = v[3];
    } else {
      return {};  // every frame must say where it lies, or none is used
    }
    out.push_back(loc);
  }
  return out;
}

Volume toGrey(const Volume& v) {
  if (v.channels() == 1) return v;
  Volume g(PixelType::UInt8, Size3{v.size().x, v.size().y, 1});
  for (std::int64_t y = 0; y < v.size().y; ++y)
    for (std::int64_t x = 0; x < v.size().x; ++x) {
      g.setValue(x, y, 0, 0, 0.299 * v.value(x, y, 0, 0) + 0.587 * v.value(x, y, 0, 1) + 0.114 * v.value(x, y, 0, 2));
    }
  g.setSpacing(v.spacing());
  g.metadata() = v.metadata();
  return g;
}

}  // namespace

std::optional<OptFundus> findOptFundus(const DicomSeriesEntry& opt, const std::vector<DicomSeriesEntry>& study) {
  if (opt.files.empty()) return std::nullopt;
  const auto locations = frameLocations(opt.files.front().path);
  if (locations.empty()) return std::nullopt;
  const std::string& wanted = locations.front().referencedUid;
  for (const auto& s : study) {
    for (const auto& f : s.files) {
      if (f.sopInstanceUid != wanted) continue;
      OptFundus out;
      try {
        out.fundus = toGrey(DicomFileReader().read(f.path));
      } catch (const FileError&) {
        return std::nullopt;  // an unreadable photograph: the projection will do
      }
      const double sx = out.fundus.spacing()[0], sy = out.fundus.spacing()[1];
      for (const auto& l : locations) {
        OctBScanInfo info;
        info.startXMm = l.c1 * sx;
        info.startYMm = l.r1 * sy;
        info.endXMm = l.c2 * sx;
        info.endYMm = l.r2 * sy;
        out.bscanLines.push_back(info);
      }
      return out;
    }
  }
  return std::nullopt;
}

}  // namespace al
