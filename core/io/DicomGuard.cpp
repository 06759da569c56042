#include "io/DicomGuard.h"

#include <dcmtk/config/osconfig.h>  // must come first
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dctag.h>
#include <spdlog/spdlog.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <new>
#include <vector>

#include "errors/Error.h"
#include "io/DicomFileReader.h"
#include "runtime/MemoryBudget.h"

namespace al {

namespace {

constexpr std::uint32_t kUndefined = 0xFFFFFFFFu;
constexpr std::uint64_t kNoEnd = std::numeric_limits<std::uint64_t>::max();

// Bytes to walk: the file (seeking over values) or an inflated dataset in memory.
class Source {
 public:
  virtual ~Source() = default;
  virtual bool read(void* out, std::size_t n) = 0;
  virtual bool skip(std::uint64_t n) = 0;
  virtual bool seek(std::uint64_t to) = 0;
  virtual std::uint64_t pos() const = 0;
  virtual std::uint64_t size() const = 0;
};

class FileSource : public Source {
 public:
  FileSource(std::ifstream& in, std::uint64_t size, std::uint64_t start) : in_(in), size_(size), pos_(start) {
    in_.seekg(static_cast<std::streamoff>(start));
  }
  bool read(void* out, std::size_t n) override {
    if (pos_ + n > size_ || !in_.read(static_cast<char*>(out), static_cast<std::streamsize>(n))) return false;
    pos_ += n;
    return true;
  }
  bool skip(std::uint64_t n) override {
    if (n > size_ - pos_) return false;
    pos_ += n;
    // Short skips through the stream's buffer: a seek discards it, and a file of millions of
    // empty elements then cost a read system call each (a 4 GiB file took minutes).
    if (n <= (64u << 10)) return static_cast<bool>(in_.ignore(static_cast<std::streamsize>(n)));
    return static_cast<bool>(in_.seekg(static_cast<std::streamoff>(pos_)));
  }
  bool seek(std::uint64_t to) override {
    if (to > size_) return false;
    if (to >= pos_ && to - pos_ <= (64u << 10)) return skip(to - pos_);
    pos_ = to;
    in_.clear();
    return static_cast<bool>(in_.seekg(static_cast<std::streamoff>(pos_)));
  }
  std::uint64_t pos() const override { return pos_; }
  std::uint64_t size() const override { return size_; }

 private:
  std::ifstream& in_;
  std::uint64_t size_, pos_;
};

class MemorySource : public Source {
 public:
  explicit MemorySource(std::vector<unsigned char> bytes) : bytes_(std::move(bytes)) {}
  bool read(void* out, std::size_t n) override {
    if (n > bytes_.size() - pos_) return false;
    std::memcpy(out, bytes_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  bool skip(std::uint64_t n) override {
    if (n > bytes_.size() - pos_) return false;
    pos_ += n;
    return true;
  }
  bool seek(std::uint64_t to) override {
    if (to > bytes_.size()) return false;
    pos_ = to;
    return true;
  }
  std::uint64_t pos() const override { return pos_; }
  std::uint64_t size() const override { return bytes_.size(); }

 private:
  std::vector<unsigned char> bytes_;
  std::uint64_t pos_ = 0;
};

std::uint16_t u16(const unsigned char* b, bool bigEndian) {
  return bigEndian ? static_cast<std::uint16_t>(b[0] << 8 | b[1]) : static_cast<std::uint16_t>(b[1] << 8 | b[0]);
}
std::uint32_t u32(const unsigned char* b, bool bigEndian) {
  return bigEndian ? (std::uint32_t{b[0]} << 24 | std::uint32_t{b[1]} << 16 | std::uint32_t{b[2]} << 8 | b[3])
                   : (std::uint32_t{b[3]} << 24 | std::uint32_t{b[2]} << 16 | std::uint32_t{b[1]} << 8 | b[0]);
}

bool isUpper(unsigned char c) {
  return c >= 'A' && c <= 'Z';
}

// The length field of an explicit VR: 2 bytes for the standard short VRs, 4 for the long ones
// and, as DCMTK assumes, for VRs it does not know.
bool hasLongLength(const char vr[2]) {
  static const char* kShort[] = {"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FL", "FD", "IS", "LO",
                                 "LT", "PN", "SH", "SL", "SS", "ST", "TM", "UI", "UL", "US"};
  for (const char* l : kShort)
    if (vr[0] == l[0] && vr[1] == l[1]) return false;
  return true;
}

bool isPixelData(std::uint16_t group, std::uint16_t element) {
  return (group == 0x7FE0 && element == 0x0010) || ((group & 0xFF00) == 0x6000 && element == 0x3000);
}

struct Syntax {
  bool implicit = false;
  bool bigEndian = false;
};

struct Frame {
  std::uint64_t end = kNoEnd;  // kNoEnd: ends with a delimiter
  enum Kind { Sequence, Item, Fragments } kind = Sequence;
  Syntax syntax;
};

// Walks the element stream from the source's position; returns the deepest sequence nesting
// seen, stopping as soon as it exceeds `limit` or the stream stops making sense. `meta`: the
// stream starts with the group 0002 meta header (always explicit little endian); its transfer
// syntax UID is stored in `meta->transferSyntax`, and with `stopAfterMeta` the walk stops where
// the meta group ends (`meta->end`).
struct Meta {
  std::string transferSyntax;
  std::uint64_t end = 0;
};
int walk(Source& s, Syntax syntax, int limit, bool meta, Meta* metaOut, bool stopAfterMeta, bool* complete = nullptr) {
  if (complete) *complete = false;
  std::vector<Frame> stack;
  int depth = 0, deepest = 0;
  auto pop = [&] {
    if (stack.back().kind == Frame::Sequence) --depth;
    stack.pop_back();
  };
  for (;;) {
    while (!stack.empty() && stack.back().end != kNoEnd && s.pos() >= stack.back().end) pop();
    const std::uint64_t start = s.pos();
    unsigned char b[8];
    if (start == s.size() && complete) *complete = true;  // the stream ended between elements
    if (!s.read(b, 4)) break;
    Syntax sx = stack.empty() ? syntax : stack.back().syntax;
    if (stack.empty() && meta) {
      if (u16(b, false) == 0x0002) {
        sx = Syntax{false, false};
      } else if (stopAfterMeta) {
        if (metaOut) metaOut->end = start;
        break;
      } else {
        meta = false;
      }
    }
    const std::uint16_t group = u16(b, sx.bigEndian), element = u16(b + 2, sx.bigEndian);
    if (group == 0xFFFE) {
      if (!s.read(b, 4)) break;
      const std::uint32_t length = u32(b, sx.bigEndian);
      if (element == 0xE000) {
        if (stack.empty()) break;
        if (stack.back().kind == Frame::Fragments) {
          if (length == kUndefined || !s.skip(length)) break;
          continue;
        }
        stack.push_back({length == kUndefined ? kNoEnd : s.pos() + length, Frame::Item, sx});
      } else if (element == 0xE00D) {
        if (stack.empty() || stack.back().kind != Frame::Item) break;
        pop();
      } else if (element == 0xE0DD) {
        if (!stack.empty() && stack.back().kind == Frame::Item) pop();
        if (stack.empty()) break;
        pop();
      } else {
        break;
      }
      continue;
    }
    std::uint32_t length = 0;
    bool sequence = false, unknownAsImplicit = false;
    if (sx.implicit) {
      if (!s.read(b, 4)) break;
      length = u32(b, sx.bigEndian);
      sequence = length == kUndefined || DcmTag(group, element).getEVR() == EVR_SQ;
      // A private sequence DCMTK knows through its creator is not in the public dictionary:
      // a value that starts with an item tag is walked as a sequence.
      if (!sequence && length >= 8 && !isPixelData(group, element)) {
        const std::uint64_t here = s.pos();
        unsigned char peek[4];
        if (s.read(peek, 4) && u16(peek, sx.bigEndian) == 0xFFFE && u16(peek + 2, sx.bigEndian) == 0xE000)
          sequence = true;
        if (!s.seek(here)) break;
      }
    } else {
      if (!s.read(b, 2)) break;
      const char vr[2] = {static_cast<char>(b[0]), static_cast<char>(b[1])};
      if (!isUpper(b[0]) || !isUpper(b[1])) break;
      if (hasLongLength(vr)) {
        if (!s.read(b, 6)) break;
        length = u32(b + 2, sx.bigEndian);
      } else {
        if (!s.read(b, 2)) break;
        length = u16(b, sx.bigEndian);
      }
      // DCMTK reads any element of undefined length other than pixel data as a sequence (UN's
      // content in implicit VR).
      sequence = (vr[0] == 'S' && vr[1] == 'Q') || (length == kUndefined && !isPixelData(group, element));
      unknownAsImplicit = vr[0] == 'U' && vr[1] == 'N';
    }
    if (meta && stack.empty() && group == 0x0002 && element == 0x0010 && metaOut && length < 256) {
      std::string uid(length, '\0');
      if (!s.read(uid.data(), length)) break;
      while (!uid.empty() && (uid.back() == '\0' || uid.back() == ' ')) uid.pop_back();
      metaOut->transferSyntax = uid;
      continue;
    }
    if (sequence) {
      Syntax inner = sx;
      if (unknownAsImplicit) inner = Syntax{true, false};
      stack.push_back({length == kUndefined ? kNoEnd : s.pos() + length, Frame::Sequence, inner});
      deepest = std::max(deepest, ++depth);
      if (deepest > limit) return deepest;
    } else if (length == kUndefined) {
      stack.push_back({kNoEnd, Frame::Fragments, sx});  // encapsulated pixel data
    } else if (!s.skip(length)) {
      break;
    }
    if (s.pos() <= start) break;
  }
  return deepest;
}

// The raw-deflated dataset after the meta header, inflated within the memory budget.
std::vector<unsigned char> inflateRest(std::ifstream& in, std::uint64_t from, const std::string& path) {
  in.clear();
  in.seekg(static_cast<std::streamoff>(from));
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) throw FileError(path, "cannot start inflating the deflated dataset");
  std::vector<unsigned char> out;
  std::vector<unsigned char> chunk(1 << 16), buffer(1 << 16);
  const std::uint64_t budget = memoryBudgetBytes();
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    in.read(reinterpret_cast<char*>(chunk.data()), static_cast<std::streamsize>(chunk.size()));
    z.next_in = chunk.data();
    z.avail_in = static_cast<uInt>(in.gcount());
    if (z.avail_in == 0) break;
    do {
      z.next_out = buffer.data();
      z.avail_out = static_cast<uInt>(buffer.size());
      rc = inflate(&z, Z_NO_FLUSH);
      if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) break;
      const std::size_t produced = buffer.size() - z.avail_out;
      if (out.size() + produced > budget) {
        inflateEnd(&z);
        checkMemoryBudget(path, out.size() + produced, "the deflated dataset");
      }
      out.insert(out.end(), buffer.data(), buffer.data() + produced);
    } while (z.avail_out == 0 && rc != Z_STREAM_END);
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) break;
  }
  inflateEnd(&z);
  return out;
}

// Where the walk lost the stream (a VR DCMTK would guess around, a transfer syntax the meta
// header misstates), the rest cannot be walked as DCMTK will parse it. It is refused when it
// holds more item tags (either byte order) than a file within the limit could need to nest:
// `limit + 1` then, else 0. Real files lose the walk rarely; one that does and holds that many
// items is refused as malformed rather than risked.
int itemsBeyond(std::ifstream& in, std::uint64_t size, std::uint64_t from, int limit) {
  in.clear();
  in.seekg(static_cast<std::streamoff>(from));
  std::vector<char> chunk(1 << 20);
  std::uint64_t items = 0;
  const auto threshold = static_cast<std::uint64_t>(4 * limit);
  unsigned char last[3] = {0, 0, 0};
  for (std::uint64_t done = from; done < size && items <= threshold;) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    const auto n = static_cast<std::size_t>(in.gcount());
    if (n == 0) break;
    std::vector<unsigned char> window(last, last + 3);
    window.insert(window.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
    for (std::size_t i = 0; i + 4 <= window.size(); ++i) {
      const unsigned char* w = window.data() + i;
      if ((w[0] == 0xFE && w[1] == 0xFF && w[2] == 0x00 && w[3] == 0xE0) ||
          (w[0] == 0xFF && w[1] == 0xFE && w[2] == 0xE0 && w[3] == 0x00))
        ++items;
    }
    std::copy(window.end() - 3, window.end(), last);
    done += n;
  }
  return items > threshold ? limit + 1 : 0;
}

}  // namespace

int dicomSequenceDepth(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, std::string("cannot open: ") + std::strerror(errno));
  in.seekg(0, std::ios::end);
  const auto size = static_cast<std::uint64_t>(in.tellg());
  in.seekg(0);
  unsigned char head[132] = {};
  in.read(reinterpret_cast<char*>(head), sizeof head);
  const bool part10 = in.gcount() == 132 && std::memcmp(head + 128, "DICM", 4) == 0;
  in.clear();
  bool complete = false;
  if (part10) {
    Meta meta;
    FileSource metaSource(in, size, 132);
    walk(metaSource, Syntax{}, kMaxSequenceDepth, true, &meta, true);
    const std::string& uid = meta.transferSyntax;
    if (meta.end == 0) return itemsBeyond(in, size, 132, kMaxSequenceDepth);  // a meta header that does not parse
    const std::uint64_t datasetStart = meta.end;
    if (uid == "1.2.840.10008.1.2.1.99") {
      MemorySource inflated(inflateRest(in, datasetStart, path));
      const int depth = walk(inflated, Syntax{false, false}, kMaxSequenceDepth, false, nullptr, false, &complete);
      return complete || depth > kMaxSequenceDepth ? depth
                                                   : std::max(depth, kMaxSequenceDepth + 1);  // cannot rescan: refuse
    }
    Syntax syntax;
    syntax.implicit = uid == "1.2.840.10008.1.2";
    syntax.bigEndian = uid == "1.2.840.10008.1.2.2";
    in.clear();
    FileSource dataset(in, size, datasetStart);
    const int depth = walk(dataset, syntax, kMaxSequenceDepth, false, nullptr, false, &complete);
    if (complete || depth > kMaxSequenceDepth) return depth;
    return std::max(depth, itemsBeyond(in, size, dataset.pos(), kMaxSequenceDepth));
  }
  // No meta header: guess the encoding from the first element, as DCMTK does.
  Syntax syntax;
  if (in.gcount() >= 6 || size >= 6) {
    syntax.implicit = !(isUpper(head[4]) && isUpper(head[5]));
    syntax.bigEndian = head[0] == 0x00 && head[1] != 0x00;
  }
  FileSource source(in, size, 0);
  const int depth = walk(source, syntax, kMaxSequenceDepth, true, nullptr, false, &complete);
  if (complete || depth > kMaxSequenceDepth) return depth;
  return std::max(depth, itemsBeyond(in, size, source.pos(), kMaxSequenceDepth));
}

void checkDicomNesting(const std::string& path) {
  const int depth = dicomSequenceDepth(path);
  if (depth > kMaxSequenceDepth) {
    throw FileError(path, "sequences nest more than " + std::to_string(kMaxSequenceDepth) +
                              " levels deep, or a damaged element stream holds too many items to check (real DICOM "
                              "nests a handful): refused as malformed or hostile");
  }
}

namespace {

OFCondition load(DcmFileFormat& file, const std::string& path, const DcmTagKey* stopTag) {
  initDcmtk();
  checkDicomNesting(path);
  // DCMTK 3.6.7 can throw from inside its parser: a directory record whose type string is
  // malformed made DcmByteString::verify throw std::out_of_range (found by fuzz_dicomdir), which
  // ended the process. Its text goes to the debug log; the user reads the file and the reason.
  try {
    if (stopTag)
      return file.loadFileUntilTag(path.c_str(), EXS_Unknown, EGL_noChange, DCM_MaxReadLength, ERM_autoDetect, *stopTag);
    return file.loadFile(path.c_str(), EXS_Unknown, EGL_noChange, DCM_MaxReadLength, ERM_autoDetect);
  } catch (const std::bad_alloc&) {
    throw FileError(path, "not a readable DICOM file: reading it ran out of memory");
  } catch (const std::exception& e) {
    spdlog::debug("{}: DCMTK's parser threw: {}", path, e.what());
    throw FileError(path, "not a readable DICOM file: an element is malformed");
  }
}

}  // namespace

void loadDicomFile(DcmFileFormat& file, const std::string& path) {
  const OFCondition status = load(file, path, nullptr);
  if (status.bad()) throw FileError(path, std::string("not a readable DICOM file: ") + status.text());
}

void loadDicomFile(DcmFileFormat& file, const std::string& path, const DcmTagKey& stopTag) {
  const OFCondition status = load(file, path, &stopTag);
  if (status.bad()) throw FileError(path, std::string("not a readable DICOM file: ") + status.text());
}

bool tryLoadDicomFile(DcmFileFormat& file, const std::string& path) {
  return load(file, path, nullptr).good();
}

bool tryLoadDicomFile(DcmFileFormat& file, const std::string& path, const DcmTagKey& stopTag) {
  return load(file, path, &stopTag).good();
}

}  // namespace al
