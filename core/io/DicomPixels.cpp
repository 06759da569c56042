#include "io/DicomPixels.h"

#include <dcmtk/config/osconfig.h>  // must come first
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmimgle/dcmimage.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "errors/Error.h"
#include "io/DicomCodecs.h"
#include "io/DicomFileReader.h"
#include "runtime/MemoryBudget.h"
#include "runtime/Utf8.h"

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
  if (!l.lut.empty()) {
    const double flip = l.monochrome1 ? storedMin + storedMax : 0.0, sign = l.monochrome1 ? -1.0 : 1.0;
    const auto last = static_cast<std::int64_t>(l.lut.size()) - 1;
    for (std::int64_t i = 0; i < n; ++i) {
      const auto stored = static_cast<std::int64_t>(std::llround(flip + sign * static_cast<double>(src[i])));
      dst[i] = convertValue<Dst>(l.lut[static_cast<std::size_t>(std::clamp<std::int64_t>(stored - l.lutFirst, 0, last))]);
    }
  } else if (l.monochrome1) {
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

// Frames decoded by OpenJPEG or CharLS into `out`: the DICOM header's sign rules where the
// codestream disagrees (as pydicom corrects it), values beyond BitsStored clamped with a warning,
// then the rescale and MONOCHROME1 inversion as for every other syntax.
void decodeEncapsulated(DcmDataset& ds, const std::string& path, const DicomPixelLayout& layout, Volume& out,
                        const std::vector<std::int64_t>& sliceOfFrame, bool jpeg2000) {
  const int frames = static_cast<int>(sliceOfFrame.size());
  std::vector<std::vector<std::uint8_t>> codestreams = encapsulatedFrames(ds, path, frames);
  const double storedMin = layout.isSigned ? -std::ldexp(1.0, layout.bitsStored - 1) : 0.0;
  const double storedMax = layout.isSigned ? std::ldexp(1.0, layout.bitsStored - 1) - 1 : std::ldexp(1.0, layout.bitsStored) - 1;
  const auto width = static_cast<int>(out.size().x), height = static_cast<int>(out.size().y);
  const std::int64_t plane = out.size().x * out.size().y;
  bool clamped = false;
  for (int f = 0; f < frames; ++f) {
    auto& codestream = codestreams[static_cast<std::size_t>(f)];
    DecodedFrame d = jpeg2000 ? decodeJpeg2000Frame(codestream, path, f, width, height, out.channels())
                              : decodeJpegLsFrame(codestream, path, f, width, height, out.channels());
    std::vector<std::uint8_t>().swap(codestream);
    const std::int64_t z = sliceOfFrame[static_cast<std::size_t>(f)];
    if (layout.samples == 3) {
      const int shift = std::max(0, d.bits - 8);
      for (int c = 0; c < 3; ++c) {
        std::uint8_t* dst = out.data<std::uint8_t>() + out.linearIndex(0, 0, z, c);
        const std::int32_t* src = d.samples.data() + c * plane;
        for (std::int64_t i = 0; i < plane; ++i) dst[i] = static_cast<std::uint8_t>(std::clamp(src[i] >> shift, 0, 255));
      }
      continue;
    }
    const std::int64_t range = std::int64_t{1} << std::min(d.bits, 32);
    for (std::int32_t& v : d.samples) {
      std::int64_t x = v;
      if (layout.isSigned && !d.isSigned && x >= range / 2) x -= range;
      else if (!layout.isSigned && d.isSigned && x < 0) x += range;
      if (x < storedMin || x > storedMax) {
        x = static_cast<std::int64_t>(std::clamp(static_cast<double>(x), storedMin, storedMax));
        clamped = true;
      }
      v = static_cast<std::int32_t>(x);
    }
    copyFrameInto(d.samples.data(), out, z, plane, layout, storedMin, storedMax);
  }
  if (clamped) {
    out.metadata().warnings.push_back("the compressed data holds values beyond Bits Stored (" + std::to_string(layout.bitsStored) +
                                      "): clamped to its range");
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
  l.bitsAllocated = allocated;
  l.isSigned = representation == 1;
  l.monochrome1 = text(ds, DCM_PhotometricInterpretation) == "MONOCHROME1";
  // DCMTK decodes a palette image as RGB (DiPaletteImage): read it as a colour image. Read as
  // one sample, its three planes were taken for grey values (found by tests/fuzz/fuzz_dicom_file:
  // a read past DCMTK's buffer, and wrong pixels without the sanitizer).
  if (l.samples == 1 && text(ds, DCM_PhotometricInterpretation) == "PALETTE COLOR") {
    if (allocated != 8 && allocated != 16) throw FileError(path, "a palette image of " + std::to_string(allocated) + " bits is not supported");
    if (ds.tagExists(DCM_SegmentedRedPaletteColorLookupTableData)) {
      throw FileError(path, "segmented palette colour lookup tables are not supported (DCMTK 3.6.7 does not decode them)");
    }
    l.palette = true;
    l.samples = 3;
  }
  double slope = 1.0, intercept = 0.0;
  ds.findAndGetFloat64(DCM_RescaleSlope, slope);
  ds.findAndGetFloat64(DCM_RescaleIntercept, intercept);
  l.slope = std::isfinite(slope) && slope != 0.0 ? slope : 1.0;
  l.intercept = std::isfinite(intercept) ? intercept : 0.0;
  if (l.samples == 3) {
    l.type = PixelType::UInt8;
    l.ybr422 = text(ds, DCM_PhotometricInterpretation) == "YBR_FULL_422";
    return l;
  }
  // A Modality LUT (rare: some CR/XA/MG) maps stored values through a table.
  DcmItem* lutItem = nullptr;
  if (ds.findAndGetSequenceItem(DCM_ModalityLUTSequence, lutItem, 0).good() && lutItem) {
    DcmElement* descriptor = nullptr;
    const Uint16* data = nullptr;
    unsigned long count = 0;
    if (lutItem->findAndGetElement(DCM_LUTDescriptor, descriptor).good() && descriptor && descriptor->getVM() == 3 &&
        lutItem->findAndGetUint16Array(DCM_LUTData, data, &count).good() && data) {
      Uint16 raw[3] = {0, 0, 0};
      for (unsigned long i = 0; i < 3; ++i) {
        Sint16 s = 0;
        if (descriptor->ident() == EVR_SS && descriptor->getSint16(s, i).good()) raw[i] = static_cast<Uint16>(s);
        else descriptor->getUint16(raw[i], i);
      }
      const std::size_t entries = raw[0] == 0 ? 65536 : raw[0];
      const int bits = raw[2];
      l.lutFirst = descriptor->ident() == EVR_SS || l.isSigned ? static_cast<Sint16>(raw[1]) : raw[1];
      if (count >= entries) {
        l.lut.assign(data, data + entries);
      } else if (bits <= 8 && count * 2 >= entries) {  // 8-bit entries packed two to a word
        for (std::size_t i = 0; i < entries; ++i) l.lut.push_back((data[i / 2] >> (8 * (i % 2))) & 0xFF);
      }
      if (!l.lut.empty()) {
        const auto [lo, hi] = std::minmax_element(l.lut.begin(), l.lut.end());
        l.type = *lo >= 0 && *hi <= 255 ? PixelType::UInt8 : *hi <= 32767 ? PixelType::Int16 : PixelType::Float32;
        return l;
      }
    }
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

void checkDicomPixelSize(DcmItem& ds, const std::string& path, const DicomPixelLayout& l, std::int64_t frames,
                         const std::string& transferSyntaxUid) {
  const auto columns = static_cast<std::uint64_t>(l.columns), rows = static_cast<std::uint64_t>(l.rows);
  const auto samples = static_cast<std::uint64_t>(l.samples), count = static_cast<std::uint64_t>(std::max<std::int64_t>(frames, 0));
  const std::string shape = std::to_string(l.columns) + " x " + std::to_string(l.rows) + " x " + std::to_string(frames) +
                            (frames == 1 ? " frame" : " frames") + (l.samples == 3 ? " x 3 samples" : "");
  checkMemoryBudget(path, imageBytes(columns, rows, count, samples, pixelTypeSize(l.type)), "the image (" + shape + ")");
  DcmElement* pixels = nullptr;
  if (ds.findAndGetElement(DCM_PixelData, pixels).bad() || !pixels) return;
  // Compressed data (or a syntax DCMTK does not know, such as HTJ2K): checked per frame as decoded.
  const DcmXfer xfer(transferSyntaxUid.c_str());
  if (xfer.getXfer() == EXS_Unknown || xfer.isEncapsulated() || isJpeg2000TransferSyntax(transferSyntaxUid)) return;
  const Uint32 length = pixels->getLength();
  if (length == DCM_UndefinedLength) return;
  // YBR_FULL_422 stores two samples per pixel, a palette image one.
  const std::uint64_t onDisk = l.ybr422 ? 2 : l.palette ? 1 : samples;
  const std::uint64_t bits = imageBytes(columns, rows, count, onDisk, static_cast<std::uint64_t>(l.bitsAllocated));
  const std::uint64_t implied = bits / 8 + (bits % 8 ? 1 : 0);
  if (length < implied) {
    throw FileError(path, "the header claims " + shape + " of " + std::to_string(l.bitsAllocated) + " bits (" + formatBytes(implied) +
                              "), but the pixel data holds " + formatBytes(length) + ": a truncated file or a header that lies");
  }
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
  // A UID is digits and periods; anything else in it (a damaged meta header) is shown escaped,
  // so the name stays printable, valid UTF-8 text for the viewer, `info --json` and reports.
  std::string shown;
  for (const char c : uid) {
    if ((c >= '0' && c <= '9') || c == '.') {
      shown.push_back(c);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "\\x%02X", static_cast<unsigned char>(c));
      shown += hex;
    }
  }
  if (uid.rfind("1.2.840.10008.1.2.4.20", 0) == 0) return "High-Throughput JPEG 2000 (" + shown + ")";
  return "unknown transfer syntax " + shown;
}

void decodeDicomPixels(DcmFileFormat& file, const std::string& path, const DicomPixelLayout& layout, Volume& out,
                       const std::vector<std::int64_t>& sliceOfFrame) {
  DcmDataset& ds = *file.getDataset();
  const std::string uid = transferSyntaxUid(file);
  const std::string xferName = transferSyntaxName(uid);
  if (!ds.tagExists(DCM_PixelData)) throw FileError(path, "has no pixel data");
  // JPEG 2000 has no codec in DCMTK's free build. JPEG-LS goes to CharLS 2: DCMTK's JPEG-LS codec
  // refuses valid files (7 bits stored in 8), and its private CharLS 1 shares symbol names with
  // CharLS 2 (which GDCM loads too), so which one DCMTK calls depends on the library load order:
  // the wrong one crashes (free(): invalid pointer).
  // DCMTK's codec stays a second choice for streams CharLS 2 refuses (the WG04 JPEG-LS samples'
  // encoder), where the process can call it safely.
  const bool jpeg2000 = isJpeg2000TransferSyntax(uid), jpegLs = isJpegLsTransferSyntax(uid);
  if (jpeg2000 || jpegLs) {
    try {
      decodeEncapsulated(ds, path, layout, out, sliceOfFrame, jpeg2000);
      return;
    } catch (const FileError& e) {
      if (!jpegLs || !dcmtkJpegLsIsSafe() || ds.chooseRepresentation(EXS_LittleEndianExplicit, nullptr).bad() ||
          !ds.canWriteXfer(EXS_LittleEndianExplicit)) {
        throw FileError(path, "transfer syntax " + xferName + " cannot be decoded (" + e.reason() + ")");
      }
    }
  } else if (ds.chooseRepresentation(EXS_LittleEndianExplicit, nullptr).bad() || !ds.canWriteXfer(EXS_LittleEndianExplicit)) {
    throw FileError(path, "transfer syntax " + xferName + " cannot be decoded here");
  }
  // 32-bit values in explicit big endian with VR OW: DCMTK swaps the bytes of each 16-bit word,
  // which leaves the two halves of every value in big-endian order.
  DcmElement* pixelElement = nullptr;
  if (layout.bitsAllocated == 32 && uid == UID_BigEndianExplicitTransferSyntax && ds.findAndGetElement(DCM_PixelData, pixelElement).good() &&
      pixelElement && pixelElement->getVR() != EVR_OL) {
    Uint16* words = nullptr;
    if (pixelElement->getUint16Array(words).good() && words) {
      const std::size_t n = pixelElement->getLength() / 4;
      for (std::size_t i = 0; i < n; ++i) std::swap(words[2 * i], words[2 * i + 1]);
    }
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
  // DCMTK decides colour or grey from the photometric interpretation: a layout that disagrees
  // would read its buffers as the wrong shape.
  if ((layout.samples == 3) == static_cast<bool>(image.isMonochrome())) {
    throw FileError(path, "the photometric interpretation (" + text(*file.getDataset(), DCM_PhotometricInterpretation) +
                              ") does not match " + std::to_string(layout.palette ? 1 : layout.samples) + " samples per pixel");
  }
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
  // Bytes a set DCMTK cannot convert (or an element it fails on) become U+FFFD below.
  OFString charset;
  if (ds.findAndGetOFStringArray(DCM_SpecificCharacterSet, charset).good() && !charset.empty() && charset != "ISO_IR 192" &&
      charset != "ISO_IR 6")
    (void)ds.convertCharacterSet("ISO_IR 192");  // no flags: Debian's DCMTK (iconv) supports none
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
  // Bytes no declared character set explains (a legacy set the file does not name, or damage)
  // become U+FFFD, and the reader is told.
  bool lost = false;
  for (std::string* field : {&m.patientName, &m.patientId, &m.patientBirthDate, &m.patientSex, &m.studyInstanceUid, &m.studyDate,
                             &m.studyTime, &m.studyId, &m.studyDescription, &m.referringPhysicianName, &m.accessionNumber,
                             &m.seriesInstanceUid, &m.seriesNumber, &m.seriesDescription, &m.modality, &m.laterality,
                             &m.bodyPartExamined, &m.frameOfReferenceUid, &m.sopClassUid}) {
    bool replaced = false;
    *field = validUtf8(*field, &replaced);
    lost = lost || replaced;
  }
  if (lost) {
    m.warnings.push_back("some text holds bytes that are not valid in its character set" +
                         (charset.empty() ? std::string(" (none is declared)") : " (" + std::string(charset.c_str()) + ")") +
                         ": shown as \xEF\xBF\xBD");
  }
}

}  // namespace al
