#include "io/DicomCodecs.h"

#include <dcmtk/config/osconfig.h>  // must come first
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>

#include <charls/charls.h>  // types only: the functions are looked up in a privately opened libcharls
#include <dlfcn.h>
#include <openjpeg-2.5/openjpeg.h>  // Debian's OpenJPEG, not the copy inside ITK

#include <algorithm>
#include <cstring>
#include <memory>
#include <type_traits>

#include "errors/Error.h"
#include "runtime/MemoryBudget.h"

namespace al {

bool isJpeg2000TransferSyntax(const std::string& uid) {
  // 1.2.840.10008.1.2.4.90/91 (JPEG 2000), .92/.93 (multi-component), .201-.203 (HTJ2K).
  for (const char* j2k :
       {"1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.92", "1.2.840.10008.1.2.4.93",
        "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.203"}) {
    if (uid == j2k) return true;
  }
  return false;
}

bool isJpegLsTransferSyntax(const std::string& uid) {
  return uid == "1.2.840.10008.1.2.4.80" || uid == "1.2.840.10008.1.2.4.81";
}

namespace {

bool startsCodestream(const Uint8* data, Uint32 length) {
  if (length < 4) return false;
  const bool j2k = data[0] == 0xFF && data[1] == 0x4F && data[2] == 0xFF && data[3] == 0x51;  // SOC, SIZ
  const bool jp2 = length >= 12 && data[0] == 0 && data[1] == 0 && data[2] == 0 && data[3] == 0x0C && data[4] == 0x6A;
  const bool jpeg = data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;  // SOI (JPEG-LS)
  return j2k || jp2 || jpeg;
}

std::string frameName(const std::string& what, int frame) {
  return what + " (frame " + std::to_string(frame + 1) + ")";
}

}  // namespace

std::vector<std::vector<std::uint8_t>> encapsulatedFrames(DcmDataset& dataset, const std::string& path, int frames) {
  DcmElement* element = nullptr;
  if (dataset.findAndGetElement(DCM_PixelData, element).bad() || !element) throw FileError(path, "has no pixel data");
  auto* pixelData = dynamic_cast<DcmPixelData*>(element);
  if (!pixelData) throw FileError(path, "Pixel Data is not pixel data");
  E_TransferSyntax original = EXS_Unknown;
  const DcmRepresentationParameter* parameter = nullptr;
  pixelData->getOriginalRepresentationKey(original, parameter);
  DcmPixelSequence* sequence = nullptr;
  if (pixelData->getEncapsulatedRepresentation(original, parameter, sequence).bad() || !sequence) {
    throw FileError(path, "the transfer syntax says compressed, but the pixel data is not encapsulated");
  }
  const unsigned long items = sequence->card();
  if (items < 2) throw FileError(path, "the compressed pixel data holds no fragments");
  struct Fragment {
    const Uint8* data;
    Uint32 length;
    std::uint64_t offset;  // from the first fragment's item tag, as the Basic Offset Table counts
  };
  std::vector<Fragment> fragments;
  std::uint64_t offset = 0;
  for (unsigned long i = 1; i < items; ++i) {
    DcmPixelItem* item = nullptr;
    Uint8* data = nullptr;
    if (sequence->getItem(item, i).bad() || !item) break;
    const Uint32 length = item->getLength();
    if (length > 0 && (item->getUint8Array(data).bad() || !data))
      throw FileError(path, "a compressed fragment cannot be read (truncated file?)");
    fragments.push_back({data, length, offset});
    offset += 8 + static_cast<std::uint64_t>(length);
  }
  // Every frame needs at least one fragment: a header claiming more frames than the file has
  // fragments is refused here, before any frame buffer exists.
  if (frames < 1 || static_cast<std::size_t>(frames) > fragments.size()) {
    throw FileError(path, "the header claims " + std::to_string(frames) +
                              " frames, but the compressed pixel data holds " + std::to_string(fragments.size()) +
                              " fragments");
  }
  std::vector<std::size_t> starts;  // first fragment of each frame
  if (frames == 1) {
    starts = {0};
  } else if (static_cast<std::size_t>(frames) == fragments.size()) {
    for (std::size_t f = 0; f < fragments.size(); ++f) starts.push_back(f);
  } else {
    // The Basic Offset Table when it lists every frame, else codestream start markers.
    DcmPixelItem* table = nullptr;
    Uint8* tableData = nullptr;
    if (sequence->getItem(table, 0).good() && table && table->getLength() == 4u * static_cast<Uint32>(frames) &&
        table->getUint8Array(tableData).good() && tableData) {
      for (int f = 0; f < frames; ++f) {
        const Uint32 o = static_cast<Uint32>(tableData[4 * f]) | static_cast<Uint32>(tableData[4 * f + 1]) << 8 |
                         static_cast<Uint32>(tableData[4 * f + 2]) << 16 |
                         static_cast<Uint32>(tableData[4 * f + 3]) << 24;
        const auto it =
            std::find_if(fragments.begin(), fragments.end(), [&](const Fragment& fr) { return fr.offset == o; });
        // Offsets must rise strictly: a table that points back makes frames share fragments,
        // and a crafted one would make each frame copy most of the file.
        if (it == fragments.end() ||
            (!starts.empty() && static_cast<std::size_t>(it - fragments.begin()) <= starts.back())) {
          starts.clear();
          break;
        }
        starts.push_back(static_cast<std::size_t>(it - fragments.begin()));
      }
    }
    if (starts.size() != static_cast<std::size_t>(frames)) {
      starts.clear();
      for (std::size_t f = 0; f < fragments.size(); ++f)
        if (startsCodestream(fragments[f].data, fragments[f].length)) starts.push_back(f);
    }
    if (starts.size() < static_cast<std::size_t>(frames) || starts.front() != 0) {
      throw FileError(path, "cannot tell where each of the " + std::to_string(frames) + " compressed frames starts (" +
                                std::to_string(fragments.size()) + " fragments, no usable offset table)");
    }
  }
  std::vector<std::vector<std::uint8_t>> out(static_cast<std::size_t>(frames));
  for (int f = 0; f < frames; ++f) {
    const std::size_t first = starts[static_cast<std::size_t>(f)];
    const std::size_t last = f + 1 < frames ? starts[static_cast<std::size_t>(f) + 1] : fragments.size();
    auto& bytes = out[static_cast<std::size_t>(f)];
    for (std::size_t i = first; i < last; ++i)
      bytes.insert(bytes.end(), fragments[i].data, fragments[i].data + fragments[i].length);
  }
  return out;
}

// ---- JPEG 2000: OpenJPEG from memory ------------------------------------------------------------

namespace {

struct MemoryStream {
  const std::uint8_t* data;
  std::size_t size;
  std::size_t pos = 0;
};

OPJ_SIZE_T readBytes(void* buffer, OPJ_SIZE_T n, void* user) {
  auto* s = static_cast<MemoryStream*>(user);
  if (s->pos >= s->size) return static_cast<OPJ_SIZE_T>(-1);
  const std::size_t take = std::min<std::size_t>(n, s->size - s->pos);
  std::memcpy(buffer, s->data + s->pos, take);
  s->pos += take;
  return take;
}
OPJ_OFF_T skipBytes(OPJ_OFF_T n, void* user) {
  auto* s = static_cast<MemoryStream*>(user);
  if (n < 0) return -1;  // OpenJPEG only skips forward in memory streams
  const std::size_t take = std::min<std::size_t>(static_cast<std::size_t>(n), s->size - s->pos);
  s->pos += take;
  return static_cast<OPJ_OFF_T>(take);
}
OPJ_BOOL seekBytes(OPJ_OFF_T n, void* user) {
  auto* s = static_cast<MemoryStream*>(user);
  if (n < 0 || static_cast<std::size_t>(n) > s->size) return OPJ_FALSE;
  s->pos = static_cast<std::size_t>(n);
  return OPJ_TRUE;
}
void collectMessage(const char* message, void* user) {
  auto* text = static_cast<std::string*>(user);
  if (text->empty() && message) {
    *text = message;
    while (!text->empty() && (text->back() == '\n' || text->back() == ' ')) text->pop_back();
  }
}
void ignoreMessage(const char*, void*) {}

// opj_codec_t and opj_stream_t are both void*: one deleter each.
struct CodecDeleter {
  void operator()(opj_codec_t* c) const { opj_destroy_codec(c); }
};
struct StreamDeleter {
  void operator()(opj_stream_t* s) const { opj_stream_destroy(s); }
};
struct ImageDeleter {
  void operator()(opj_image_t* i) const { opj_image_destroy(i); }
};

}  // namespace

DecodedFrame decodeJpeg2000Frame(const std::vector<std::uint8_t>& codestream, const std::string& path, int frame,
                                 int width, int height, int components) {
  if (codestream.size() < 12) throw FileError(path, frameName("the JPEG 2000 codestream is empty or truncated", frame));
  const bool jp2 = codestream[0] == 0 && codestream[1] == 0 && codestream[2] == 0 && codestream[3] == 0x0C;
  std::unique_ptr<opj_codec_t, CodecDeleter> codec(opj_create_decompress(jp2 ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K));
  std::string error;
  opj_set_error_handler(codec.get(), collectMessage, &error);
  opj_set_warning_handler(codec.get(), ignoreMessage, nullptr);
  opj_set_info_handler(codec.get(), ignoreMessage, nullptr);
  opj_dparameters_t parameters;
  opj_set_default_decoder_parameters(&parameters);
  if (!opj_setup_decoder(codec.get(), &parameters)) throw FileError(path, "cannot set up the JPEG 2000 decoder");
  MemoryStream memory{codestream.data(), codestream.size()};
  std::unique_ptr<opj_stream_t, StreamDeleter> stream(opj_stream_create(1 << 16, OPJ_TRUE));
  opj_stream_set_user_data(stream.get(), &memory, nullptr);
  opj_stream_set_user_data_length(stream.get(), codestream.size());
  opj_stream_set_read_function(stream.get(), readBytes);
  opj_stream_set_skip_function(stream.get(), skipBytes);
  opj_stream_set_seek_function(stream.get(), seekBytes);
  opj_image_t* raw = nullptr;
  const bool header = opj_read_header(stream.get(), codec.get(), &raw);
  std::unique_ptr<opj_image_t, ImageDeleter> image(raw);
  if (!header || !image)
    throw FileError(path,
                    frameName("the JPEG 2000 header cannot be read" + (error.empty() ? "" : ": " + error), frame));
  // The codestream's own size against the DICOM header, before OpenJPEG allocates anything.
  const auto w = static_cast<std::int64_t>(image->x1) - image->x0, h = static_cast<std::int64_t>(image->y1) - image->y0;
  if (w != width || h != height || static_cast<int>(image->numcomps) != components) {
    throw FileError(
        path, frameName("the JPEG 2000 codestream holds " + std::to_string(w) + " x " + std::to_string(h) + " x " +
                            std::to_string(image->numcomps) + " samples where the header says " +
                            std::to_string(width) + " x " + std::to_string(height) + " x " + std::to_string(components),
                        frame));
  }
  for (OPJ_UINT32 c = 0; c < image->numcomps; ++c) {
    const opj_image_comp_t& comp = image->comps[c];
    if (comp.dx != 1 || comp.dy != 1)
      throw FileError(path, frameName("subsampled JPEG 2000 components are not supported", frame));
    if (comp.prec < 1 || comp.prec > 32)
      throw FileError(path, frameName("the JPEG 2000 precision is out of range", frame));
  }
  checkMemoryBudget(path,
                    imageBytes(static_cast<std::uint64_t>(w), static_cast<std::uint64_t>(h), 2,
                               static_cast<std::uint64_t>(components), 4),
                    frameName("a JPEG 2000 frame", frame));
  opj_codec_set_threads(codec.get(), 1);
  if (!opj_decode(codec.get(), stream.get(), image.get()) || !opj_end_decompress(codec.get(), stream.get())) {
    throw FileError(path,
                    frameName("the JPEG 2000 data cannot be decoded" + (error.empty() ? "" : ": " + error), frame));
  }
  DecodedFrame out;
  out.width = width;
  out.height = height;
  out.components = components;
  out.bits = static_cast<int>(image->comps[0].prec);
  out.isSigned = image->comps[0].sgnd != 0;
  const std::size_t plane = static_cast<std::size_t>(width) * static_cast<std::size_t>(height);
  out.samples.resize(plane * static_cast<std::size_t>(components));
  for (int c = 0; c < components; ++c) {
    const opj_image_comp_t& comp = image->comps[c];
    if (!comp.data || comp.w != static_cast<OPJ_UINT32>(width) || comp.h != static_cast<OPJ_UINT32>(height)) {
      throw FileError(path, frameName("the JPEG 2000 data decoded to another size", frame));
    }
    std::copy(comp.data, comp.data + plane,
              out.samples.begin() + static_cast<std::ptrdiff_t>(plane * static_cast<std::size_t>(c)));
  }
  return out;
}

// ---- JPEG-LS: CharLS ----------------------------------------------------------------------------

namespace {

// CharLS 2 is opened by name rather than linked: DCMTK's JPEG-LS library carries its own CharLS 1
// (libdcmtkcharls) exporting the same legacy symbols (JpegLsDecode, JpegLsReadHeader) with
// another ABI, and linking CharLS 2 directly puts it ahead in the symbol lookup order, which
// sends DCMTK's calls (its encoder, used by tests) into CharLS 2: a crash. Only CharLS 2's own C
// API is used, by address.
struct CharLs {
  std::string error;  // why it could not be loaded
  decltype(&charls_jpegls_decoder_create) create = nullptr;
  decltype(&charls_jpegls_decoder_destroy) destroy = nullptr;
  decltype(&charls_jpegls_decoder_set_source_buffer) setSource = nullptr;
  decltype(&charls_jpegls_decoder_read_header) readHeader = nullptr;
  decltype(&charls_jpegls_decoder_get_frame_info) frameInfo = nullptr;
  decltype(&charls_jpegls_decoder_get_interleave_mode) interleaveMode = nullptr;
  decltype(&charls_jpegls_decoder_get_destination_size) destinationSize = nullptr;
  decltype(&charls_jpegls_decoder_decode_to_buffer) decode = nullptr;
  decltype(&charls_get_error_message) message = nullptr;
};

const CharLs& charLs() {
  static const CharLs library = [] {
    CharLs c;
    void* handle = dlopen("libcharls.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      c.error = "the JPEG-LS library libcharls.so.2 (Debian package libcharls2) is not installed";
      return c;
    }
    auto get = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(handle, name));
      if (!fn && c.error.empty()) c.error = std::string("libcharls.so.2 lacks ") + name;
    };
    get(c.create, "charls_jpegls_decoder_create");
    get(c.destroy, "charls_jpegls_decoder_destroy");
    get(c.setSource, "charls_jpegls_decoder_set_source_buffer");
    get(c.readHeader, "charls_jpegls_decoder_read_header");
    get(c.frameInfo, "charls_jpegls_decoder_get_frame_info");
    get(c.interleaveMode, "charls_jpegls_decoder_get_interleave_mode");
    get(c.destinationSize, "charls_jpegls_decoder_get_destination_size");
    get(c.decode, "charls_jpegls_decoder_decode_to_buffer");
    get(c.message, "charls_get_error_message");
    return c;
  }();
  return library;
}

}  // namespace

DecodedFrame decodeJpegLsFrame(const std::vector<std::uint8_t>& codestream, const std::string& path, int frame,
                               int width, int height, int components) {
  const CharLs& ls = charLs();
  if (!ls.error.empty()) throw FileError(path, ls.error);
  std::unique_ptr<charls_jpegls_decoder, decltype(ls.destroy)> decoder(ls.create(), ls.destroy);
  if (!decoder) throw FileError(path, "cannot set up the JPEG-LS decoder");
  const auto check = [&](charls_jpegls_errc e, const char* what) {
    if (e != charls_jpegls_errc{}) throw FileError(path, frameName(std::string(what) + ": " + ls.message(e), frame));
  };
  // CharLS 2.4 spends tens of seconds on a stream of a few hundred bytes that lacks its end
  // marker (EOI) before it fails (found by fuzz_dicom_file: 20 s for 16 x 24 pixels). A stream
  // without one (after the item's zero padding) gets it appended: CharLS then decodes a
  // complete stream as before and refuses a truncated one at once.
  std::size_t length = codestream.size();
  while (length > 0 && codestream[length - 1] == 0) --length;
  const bool ended = length >= 2 && codestream[length - 2] == 0xFF && codestream[length - 1] == 0xD9;
  std::vector<std::uint8_t> completed;
  if (!ended) {
    completed.assign(codestream.begin(), codestream.begin() + static_cast<std::ptrdiff_t>(length));
    completed.push_back(0xFF);
    completed.push_back(0xD9);
  }
  const std::uint8_t* source = ended ? codestream.data() : completed.data();
  const std::size_t sourceSize = ended ? codestream.size() : completed.size();
  check(ls.setSource(decoder.get(), source, sourceSize), "the JPEG-LS data cannot be read");
  check(ls.readHeader(decoder.get()), "the JPEG-LS header cannot be read");
  charls_frame_info info{};
  check(ls.frameInfo(decoder.get(), &info), "the JPEG-LS header cannot be read");
  if (static_cast<int>(info.width) != width || static_cast<int>(info.height) != height ||
      info.component_count != components) {
    throw FileError(
        path, frameName("the JPEG-LS data holds " + std::to_string(info.width) + " x " + std::to_string(info.height) +
                            " x " + std::to_string(info.component_count) + " samples where the header says " +
                            std::to_string(width) + " x " + std::to_string(height) + " x " + std::to_string(components),
                        frame));
  }
  if (info.bits_per_sample < 2 || info.bits_per_sample > 16)
    throw FileError(path, frameName("the JPEG-LS precision is out of range", frame));
  size_t size = 0;
  check(ls.destinationSize(decoder.get(), 0, &size), "the JPEG-LS data cannot be sized");
  checkMemoryBudget(path, static_cast<std::uint64_t>(size) * 3, frameName("a JPEG-LS frame", frame));
  std::vector<std::uint8_t> buffer(size);
  check(ls.decode(decoder.get(), buffer.data(), buffer.size(), 0), "the JPEG-LS data cannot be decoded");
  charls_interleave_mode mode{};
  check(ls.interleaveMode(decoder.get(), &mode), "the JPEG-LS header cannot be read");
  DecodedFrame out;
  out.width = width;
  out.height = height;
  out.components = components;
  out.bits = info.bits_per_sample;
  const std::size_t plane = static_cast<std::size_t>(width) * static_cast<std::size_t>(height);
  const std::size_t n = plane * static_cast<std::size_t>(components);
  const bool wide = info.bits_per_sample > 8;
  if (buffer.size() < n * (wide ? 2 : 1))
    throw FileError(path, frameName("the JPEG-LS data decoded to fewer samples than expected", frame));
  out.samples.resize(n);
  const bool planar = mode == charls_interleave_mode{};  // interleave mode none: planar output
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t c = planar ? i / plane : i % static_cast<std::size_t>(components);
    const std::size_t p = planar ? i % plane : i / static_cast<std::size_t>(components);
    std::int32_t v = 0;
    if (wide) {
      std::uint16_t s = 0;
      std::memcpy(&s, buffer.data() + 2 * i, 2);
      v = s;
    } else {
      v = buffer[i];
    }
    out.samples[c * plane + p] = v;
  }
  return out;
}

}  // namespace al
