#include "io/DicomPixels.h"

#include <dcmtk/config/osconfig.h>  // must come first
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmimgle/dcmimage.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "errors/Error.h"
#include "io/GdcmDecoder.h"

namespace al {

namespace {

std::string text(DcmItem& item, const DcmTagKey& key) {
  OFString v;
  return item.findAndGetOFStringArray(key, v).good() ? std::string(v.c_str()) : std::string();
}

template <typename Dst>
Dst convertValue(double v) {
  if constexpr (std::is_floating_point_v<Dst>) {
    return static_cast<Dst>(v);
  } else {
    // The type was chosen to hold the range; rounding only removes float noise of rescale.
    return static_cast<Dst>(std::lround(v));
  }
}

template <typename Src, typename Dst>
void copyFrame(const Src* src, Dst* dst, std::int64_t n, const DicomPixelLayout& l, double storedMin, double storedMax) {
  const double slope = l.slope, intercept = l.intercept;
  if (l.monochrome1) {
    const double flip = storedMin + storedMax;
    for (std::int64_t i = 0; i < n; ++i) dst[i] = convertValue<Dst>((flip - static_cast<double>(src[i])) * slope + intercept);
  } else {
    for (std::int64_t i = 0; i < n; ++i) dst[i] = convertValue<Dst>(static_cast<double>(src[i]) * slope + intercept);
  }
}

template <typename Src>
void copyFrameInto(const Src* src, Volume& out, std::int64_t z, std::int64_t n, const DicomPixelLayout& l, double lo, double hi) {
  switch (out.pixelType()) {
    case PixelType::UInt8: copyFrame(src, out.data<std::uint8_t>() + out.linearIndex(0, 0, z), n, l, lo, hi); break;
    case PixelType::Int16: copyFrame(src, out.data<std::int16_t>() + out.linearIndex(0, 0, z), n, l, lo, hi); break;
    case PixelType::Float32: copyFrame(src, out.data<float>() + out.linearIndex(0, 0, z), n, l, lo, hi); break;
  }
}

}  // namespace

PixelType widerPixelType(PixelType a, PixelType b) {
  if (a == PixelType::Float32 || b == PixelType::Float32) return PixelType::Float32;
  if (a == PixelType::Int16 || b == PixelType::Int16) return PixelType::Int16;
  return PixelType::UInt8;
}

DicomPixelLayout dicomPixelLayout(DcmItem& ds, const std::string& path) {
  DicomPixelLayout l;
  Uint16 v = 0;
  if (ds.findAndGetUint16(DCM_Rows, v).good()) l.rows = v;
  if (ds.findAndGetUint16(DCM_Columns, v).good()) l.columns = v;
  if (ds.findAndGetUint16(DCM_SamplesPerPixel, v).good()) l.samples = v;
  Sint32 frames = 1;
  if (ds.findAndGetSint32(DCM_NumberOfFrames, frames).good() && frames > 0) l.frames = frames;
  Uint16 allocated = 16, stored = 0, representation = 0;
  ds.findAndGetUint16(DCM_BitsAllocated, allocated);
  if (ds.findAndGetUint16(DCM_BitsStored, stored).bad() || stored == 0) stored = allocated;
  ds.findAndGetUint16(DCM_PixelRepresentation, representation);
  if (l.rows <= 0 || l.columns <= 0) throw FileError(path, "no image: Rows or Columns missing or zero");
  if (l.samples != 1 && l.samples != 3) throw FileError(path, std::to_string(l.samples) + " samples per pixel is not supported");
  if (stored > 32 || stored > allocated) throw FileError(path, "BitsStored " + std::to_string(stored) + " does not fit BitsAllocated " + std::to_string(allocated));
  l.bitsStored = stored;
  l.isSigned = representation == 1;
  l.monochrome1 = text(ds, DCM_PhotometricInterpretation) == "MONOCHROME1";
  double slope = 1.0, intercept = 0.0;
  ds.findAndGetFloat64(DCM_RescaleSlope, slope);
  ds.findAndGetFloat64(DCM_RescaleIntercept, intercept);
  l.slope = std::isfinite(slope) && slope != 0.0 ? slope : 1.0;
  l.intercept = std::isfinite(intercept) ? intercept : 0.0;
  if (l.samples == 3) {
    l.type = PixelType::UInt8;
    return l;
  }
  // The stored range, from BitsStored and the sign; the real-world range through the rescale.
  const double storedMin = l.isSigned ? -std::ldexp(1.0, stored - 1) : 0.0;
  const double storedMax = l.isSigned ? std::ldexp(1.0, stored - 1) - 1 : std::ldexp(1.0, stored) - 1;
  const double a = storedMin * l.slope + l.intercept, b = storedMax * l.slope + l.intercept;
  const double lo = std::min(a, b), hi = std::max(a, b);
  const bool integral = l.slope == std::round(l.slope) && l.intercept == std::round(l.intercept);
  if (integral && lo >= 0 && hi <= 255) l.type = PixelType::UInt8;
  else if (integral && lo >= std::numeric_limits<std::int16_t>::min() && hi <= std::numeric_limits<std::int16_t>::max()) l.type = PixelType::Int16;
  else l.type = PixelType::Float32;
  return l;
}

std::string transferSyntaxUid(DcmFileFormat& file) {
  OFString uid;
  if (file.getMetaInfo() && file.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, uid).good() && !uid.empty()) {
    return uid.c_str();
  }
  return DcmXfer(file.getDataset()->getOriginalXfer()).getXferID();
}

std::string transferSyntaxName(const std::string& uid) {
  const DcmXfer xfer(uid.c_str());
  if (xfer.getXfer() != EXS_Unknown) return xfer.getXferName();
  if (uid.rfind("1.2.840.10008.1.2.4.20", 0) == 0) return "High-Throughput JPEG 2000 (" + uid + ")";
  return "unknown transfer syntax " + uid;
}

void decodeDicomPixels(DcmFileFormat& file, const std::string& path, const DicomPixelLayout& layout, Volume& out,
                       const std::vector<std::int64_t>& sliceOfFrame) {
  DcmDataset& ds = *file.getDataset();
  const std::string uid = transferSyntaxUid(file);
  const std::string xferName = transferSyntaxName(uid);
  if (!ds.tagExists(DCM_PixelData)) throw FileError(path, "has no pixel data");
  if (ds.chooseRepresentation(EXS_LittleEndianExplicit, nullptr).bad() || !ds.canWriteXfer(EXS_LittleEndianExplicit)) {
    if (isJpeg2000TransferSyntax(uid) && out.size().z == static_cast<std::int64_t>(sliceOfFrame.size())) {
      // Decode the whole file with GDCM (DCMTK has no JPEG 2000 codec), then put the frames
      // where they belong.
      Volume frames(out.pixelType(), Size3{out.size().x, out.size().y, static_cast<std::int64_t>(sliceOfFrame.size())}, out.channels());
      try {
        decodeWithGdcm(path, layout, frames);
      } catch (const FileError& e) {
        throw FileError(path, "transfer syntax " + xferName + " cannot be decoded here (" + e.reason() + ")");
      }
      const std::size_t plane = static_cast<std::size_t>(out.size().x * out.size().y) * pixelTypeSize(out.pixelType());
      for (int c = 0; c < out.channels(); ++c)
        for (std::size_t f = 0; f < sliceOfFrame.size(); ++f) {
          std::memcpy(out.bytes() + static_cast<std::size_t>(out.linearIndex(0, 0, sliceOfFrame[f], c)) * pixelTypeSize(out.pixelType()),
                      frames.bytes() + static_cast<std::size_t>(frames.linearIndex(0, 0, static_cast<std::int64_t>(f), c)) * pixelTypeSize(out.pixelType()),
                      plane);
        }
      return;
    }
    throw FileError(path, "transfer syntax " + xferName + " cannot be decoded here");
  }
  // Stored values come out unscaled; the rescale (and MONOCHROME1's inversion) is applied here,
  // into the type the layout chose.
  DicomImage image(&file, EXS_LittleEndianExplicit, CIF_IgnoreModalityTransformation, 0, 0);
  if (image.getStatus() != EIS_Normal) {
    throw FileError(path, std::string("cannot decode the image: ") + DicomImage::getString(image.getStatus()));
  }
  const std::int64_t w = static_cast<std::int64_t>(image.getWidth()), h = static_cast<std::int64_t>(image.getHeight());
  const auto frames = static_cast<std::int64_t>(image.getFrameCount());
  if (w != out.size().x || h != out.size().y) throw FileError(path, "image size differs from its header");
  if (frames < static_cast<std::int64_t>(sliceOfFrame.size())) {
    throw FileError(path, "holds " + std::to_string(frames) + " frames where " + std::to_string(sliceOfFrame.size()) + " were expected");
  }
  const std::int64_t plane = w * h;
  if (layout.samples == 3) {
    for (std::size_t f = 0; f < sliceOfFrame.size(); ++f) {
      const auto* rgb = static_cast<const Uint8*>(image.getOutputData(8, static_cast<unsigned long>(f), 1));
      if (!rgb) throw FileError(path, "cannot decode colour frame " + std::to_string(f));
      for (int c = 0; c < 3; ++c) {
        std::copy(rgb + c * plane, rgb + (c + 1) * plane, out.data<std::uint8_t>() + out.linearIndex(0, 0, sliceOfFrame[f], c));
      }
    }
    return;
  }
  const DiPixel* pixels = image.getInterData();
  if (!pixels || !pixels->getData()) throw FileError(path, "pixel data missing or truncated");
  if (static_cast<std::int64_t>(pixels->getCount()) < plane * static_cast<std::int64_t>(sliceOfFrame.size())) {
    throw FileError(path, "pixel data is shorter than rows x columns x frames (truncated file?)");
  }
  const double storedMin = layout.isSigned ? -std::ldexp(1.0, layout.bitsStored - 1) : 0.0;
  const double storedMax = layout.isSigned ? std::ldexp(1.0, layout.bitsStored - 1) - 1 : std::ldexp(1.0, layout.bitsStored) - 1;
  for (std::size_t f = 0; f < sliceOfFrame.size(); ++f) {
    const std::int64_t offset = static_cast<std::int64_t>(f) * plane;
    const void* data = pixels->getData();
    const std::int64_t z = sliceOfFrame[f];
    switch (pixels->getRepresentation()) {
      case EPR_Uint8: copyFrameInto(static_cast<const Uint8*>(data) + offset, out, z, plane, layout, storedMin, storedMax); break;
      case EPR_Sint8: copyFrameInto(static_cast<const Sint8*>(data) + offset, out, z, plane, layout, storedMin, storedMax); break;
      case EPR_Uint16: copyFrameInto(static_cast<const Uint16*>(data) + offset, out, z, plane, layout, storedMin, storedMax); break;
      case EPR_Sint16: copyFrameInto(static_cast<const Sint16*>(data) + offset, out, z, plane, layout, storedMin, storedMax); break;
      case EPR_Uint32: copyFrameInto(static_cast<const Uint32*>(data) + offset, out, z, plane, layout, storedMin, storedMax); break;
      case EPR_Sint32: copyFrameInto(static_cast<const Sint32*>(data) + offset, out, z, plane, layout, storedMin, storedMax); break;
    }
  }
}

void readDicomMetadata(DcmItem& ds, VolumeMetadata& m) {
  // Names and descriptions in UTF-8 whatever the file's character set (Latin-1, Cyrillic, ...),
  // so that the viewer, the PDF and the exported objects (ISO_IR 192) show them as written.
  // A set DCMTK cannot convert keeps its bytes.
  OFString charset;
  if (ds.findAndGetOFStringArray(DCM_SpecificCharacterSet, charset).good() && !charset.empty() && charset != "ISO_IR 192" &&
      charset != "ISO_IR 6")
    (void)ds.convertCharacterSet("ISO_IR 192", DCMTypes::CF_discardIllegal);
  m.patientName = text(ds, DCM_PatientName);
  m.patientId = text(ds, DCM_PatientID);
  m.patientBirthDate = text(ds, DCM_PatientBirthDate);
  m.patientSex = text(ds, DCM_PatientSex);
  m.studyInstanceUid = text(ds, DCM_StudyInstanceUID);
  m.studyDate = text(ds, DCM_StudyDate);
  m.studyTime = text(ds, DCM_StudyTime);
  m.studyId = text(ds, DCM_StudyID);
  m.studyDescription = text(ds, DCM_StudyDescription);
  m.referringPhysicianName = text(ds, DCM_ReferringPhysicianName);
  m.accessionNumber = text(ds, DCM_AccessionNumber);
  m.seriesInstanceUid = text(ds, DCM_SeriesInstanceUID);
  m.seriesNumber = text(ds, DCM_SeriesNumber);
  m.seriesDescription = text(ds, DCM_SeriesDescription);
  m.modality = text(ds, DCM_Modality);
  m.laterality = text(ds, DCM_ImageLaterality);
  if (m.laterality.empty()) m.laterality = text(ds, DCM_Laterality);
  m.bodyPartExamined = text(ds, DCM_BodyPartExamined);
  m.frameOfReferenceUid = text(ds, DCM_FrameOfReferenceUID);
  m.sopClassUid = text(ds, DCM_SOPClassUID);
  m.sourceFormat = "DICOM";
}

}  // namespace al
