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
#include <dcmtk/oflog/oflog.h>

#include <cmath>
#include <limits>
#include <mutex>

#include "errors/Error.h"

namespace al {

void initDcmtk() {
  static std::once_flag once;
  std::call_once(once, [] {
    OFLog::configure(OFLogger::FATAL_LOG_LEVEL);  // our errors name the file and the reason; DCMTK's raw log lines would only confuse
    DJDecoderRegistration::registerCodecs();
    DJLSDecoderRegistration::registerCodecs();
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

template <typename Src, typename Dst>
void copyRescaled(const Src* src, Dst* dst, std::int64_t n, double slope, double intercept) {
  for (std::int64_t i = 0; i < n; ++i) {
    dst[i] = static_cast<Dst>(static_cast<double>(src[i]) * slope + intercept);
  }
}

template <typename Src>
Volume monochromeVolume(const Src* src, Size3 size, double slope, double intercept) {
  const std::int64_t n = size.count();
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (std::int64_t i = 0; i < n; ++i) {
    const double v = static_cast<double>(src[i]) * slope + intercept;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  const bool integral = slope == std::round(slope) && intercept == std::round(intercept);
  PixelType type = PixelType::Float32;
  if (integral && lo >= 0 && hi <= 255 && std::is_same_v<Src, Uint8>) {
    type = PixelType::UInt8;
  } else if (integral && lo >= std::numeric_limits<std::int16_t>::min() &&
             hi <= std::numeric_limits<std::int16_t>::max()) {
    type = PixelType::Int16;
  }
  Volume v(type, size, 1);
  switch (type) {
    case PixelType::UInt8: copyRescaled(src, v.data<std::uint8_t>(), n, slope, intercept); break;
    case PixelType::Int16: copyRescaled(src, v.data<std::int16_t>(), n, slope, intercept); break;
    case PixelType::Float32: copyRescaled(src, v.data<float>(), n, slope, intercept); break;
  }
  return v;
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
  OFCondition status = file.loadFile(path.c_str(), EXS_Unknown, EGL_noChange, DCM_MaxReadLength, ERM_autoDetect);
  if (status.bad()) throw FileError(path, std::string("not a readable DICOM file: ") + status.text());
  DcmDataset& ds = *file.getDataset();
  const E_TransferSyntax xfer = ds.getOriginalXfer();
  const std::string xferName = DcmXfer(xfer).getXferName();
  if (!ds.tagExists(DCM_PixelData) && !ds.tagExists(DCM_FloatPixelData)) {
    throw FileError(path, "has no pixel data (" + getString(ds, DCM_SOPClassUID) + ")");
  }
  if (ds.chooseRepresentation(EXS_LittleEndianExplicit, nullptr).bad() ||
      !ds.canWriteXfer(EXS_LittleEndianExplicit)) {
    throw FileError(path, "transfer syntax " + xferName + " cannot be decoded here");
  }

  // Stored values come out unscaled; Rescale Slope/Intercept are applied below so that the
  // voxel type can be chosen to hold the real-world values exactly.
  DicomImage image(&file, EXS_LittleEndianExplicit, CIF_IgnoreModalityTransformation, 0, 0);
  if (image.getStatus() != EIS_Normal) {
    throw FileError(path, std::string("cannot decode the image: ") + DicomImage::getString(image.getStatus()));
  }
  const Size3 size{static_cast<std::int64_t>(image.getWidth()), static_cast<std::int64_t>(image.getHeight()),
                   static_cast<std::int64_t>(image.getFrameCount())};
  if (size.count() <= 0) throw FileError(path, "the image has no rows, columns or frames");

  Volume volume;
  if (image.isMonochrome()) {
    const DiPixel* pixels = image.getInterData();
    if (!pixels || pixels->getData() == nullptr) throw FileError(path, "pixel data missing or truncated");
    if (static_cast<std::int64_t>(pixels->getCount()) < size.count()) {
      throw FileError(path, "pixel data is shorter than rows x columns x frames");
    }
    double slope = 1.0, intercept = 0.0;
    ds.findAndGetFloat64(DCM_RescaleSlope, slope);
    ds.findAndGetFloat64(DCM_RescaleIntercept, intercept);
    if (!std::isfinite(slope) || slope == 0.0) slope = 1.0;
    if (!std::isfinite(intercept)) intercept = 0.0;
    const void* data = pixels->getData();
    switch (pixels->getRepresentation()) {
      case EPR_Uint8: volume = monochromeVolume(static_cast<const Uint8*>(data), size, slope, intercept); break;
      case EPR_Sint8: volume = monochromeVolume(static_cast<const Sint8*>(data), size, slope, intercept); break;
      case EPR_Uint16: volume = monochromeVolume(static_cast<const Uint16*>(data), size, slope, intercept); break;
      case EPR_Sint16: volume = monochromeVolume(static_cast<const Sint16*>(data), size, slope, intercept); break;
      case EPR_Uint32: volume = monochromeVolume(static_cast<const Uint32*>(data), size, slope, intercept); break;
      case EPR_Sint32: volume = monochromeVolume(static_cast<const Sint32*>(data), size, slope, intercept); break;
    }
    if (volume.empty()) throw FileError(path, "unsupported pixel representation");
  } else {
    // Colour: 8 bits per sample, one plane per channel.
    volume = Volume(PixelType::UInt8, size, 3);
    for (std::int64_t f = 0; f < size.z; ++f) {
      const auto* rgb = static_cast<const Uint8*>(image.getOutputData(8, static_cast<unsigned long>(f), 1));
      if (!rgb) throw FileError(path, "cannot decode colour frame " + std::to_string(f));
      for (int c = 0; c < 3; ++c) {
        std::copy(rgb + c * size.x * size.y, rgb + (c + 1) * size.x * size.y,
                  volume.data<std::uint8_t>() + volume.linearIndex(0, 0, f, c));
      }
    }
    volume.setChannelNames({"R", "G", "B"});
  }

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
  double ipp[3], ipp1[3];
  if (doubles(DCM_ImagePositionPatient, ipp, 3, frames[0], DCM_PlanePositionSequence)) {
    volume.setOrigin({ipp[0], ipp[1], ipp[2]});
    // Multi-frame: the frames' spacing is the distance between the first two positions.
    DcmItem* second = frames[1] ? group(frames[1], DCM_PlanePositionSequence) : nullptr;
    if (size.z > 1 && second && getDoubles(*second, DCM_ImagePositionPatient, ipp1, 3)) {
      const double step = (ipp1[0] - ipp[0]) * normal[0] + (ipp1[1] - ipp[1]) * normal[1] + (ipp1[2] - ipp[2]) * normal[2];
      if (std::abs(step) > 1e-6) spacing[2] = std::abs(step);
      if (step < 0) {  // frames run against the normal: the third axis points the other way
        Mat3 d = volume.direction();
        for (int r = 0; r < 3; ++r) d[static_cast<std::size_t>(r * 3 + 2)] = -d[static_cast<std::size_t>(r * 3 + 2)];
        volume.setDirection(d);
      }
    }
  }
  volume.setSpacing(spacing);

  auto& m = volume.metadata();
  m.patientName = getString(ds, DCM_PatientName);
  m.patientId = getString(ds, DCM_PatientID);
  m.patientBirthDate = getString(ds, DCM_PatientBirthDate);
  m.patientSex = getString(ds, DCM_PatientSex);
  m.studyInstanceUid = getString(ds, DCM_StudyInstanceUID);
  m.studyDate = getString(ds, DCM_StudyDate);
  m.studyDescription = getString(ds, DCM_StudyDescription);
  m.accessionNumber = getString(ds, DCM_AccessionNumber);
  m.seriesInstanceUid = getString(ds, DCM_SeriesInstanceUID);
  m.seriesNumber = getString(ds, DCM_SeriesNumber);
  m.seriesDescription = getString(ds, DCM_SeriesDescription);
  m.modality = getString(ds, DCM_Modality);
  m.laterality = getString(ds, DCM_ImageLaterality);
  if (m.laterality.empty()) m.laterality = getString(ds, DCM_Laterality);
  m.sourcePath = path;
  m.sourceFormat = "DICOM";
  m.transferSyntax = xferName;
  return volume;
}

}  // namespace al
