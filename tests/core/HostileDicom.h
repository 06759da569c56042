#pragma once
// DICOM files written byte by byte (explicit VR little endian Part 10), so tests can make what
// no well-behaved writer would: sequences nested thousands deep, headers that lie about the
// image size, text in no declared character set.

#include <cstdint>
#include <string>
#include <vector>

namespace al::hostile {

inline void putU16(std::string& s, std::uint16_t v) {
  s.append({static_cast<char>(v & 0xFF), static_cast<char>(v >> 8)});
}
inline void putU32(std::string& s, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

// One element; values of odd length are padded as the VR requires.
inline void element(std::string& s, std::uint16_t group, std::uint16_t tag, const std::string& vr, std::string value) {
  if (value.size() % 2) value.push_back(vr == "UI" || vr == "OB" ? '\0' : ' ');
  putU16(s, group);
  putU16(s, tag);
  s += vr;
  if (vr == "OB" || vr == "OW" || vr == "SQ" || vr == "UN" || vr == "UT") {
    putU16(s, 0);
    putU32(s, static_cast<std::uint32_t>(value.size()));
  } else {
    putU16(s, static_cast<std::uint16_t>(value.size()));
  }
  s += value;
}

inline std::string u16Value(std::uint16_t v) {
  std::string s;
  putU16(s, v);
  return s;
}

// Preamble, "DICM" and a meta header naming explicit VR little endian.
inline std::string part10Start(const std::string& sopClass = "1.2.840.10008.5.1.4.1.1.7") {
  std::string meta;
  element(meta, 0x0002, 0x0002, "UI", sopClass);
  element(meta, 0x0002, 0x0003, "UI", "1.2.826.0.1.3680043.9.7134.1.1");
  element(meta, 0x0002, 0x0010, "UI", "1.2.840.10008.1.2.1");
  std::string file(128, '\0');
  file += "DICM";
  std::string length;
  putU32(length, static_cast<std::uint32_t>(meta.size()));
  element(file, 0x0002, 0x0000, "UL", length);
  return file + meta;
}

// A file whose dataset nests `depth` sequences: of undefined length (a few dozen bytes per
// level, closed by delimiters), or of defined lengths. The nesting element is (group,element)
// with `vr` (DCMTK reads an OB or unknown VR of undefined length as a sequence too); `before`
// goes in raw ahead of it.
inline std::string nestedDicom(int depth, bool definedLengths, const std::string& vr = "SQ", std::uint16_t group = 0x0040,
                               std::uint16_t tag = 0xA730, const std::string& before = "") {
  std::string file = part10Start();
  element(file, 0x0008, 0x0060, "CS", "OT");
  file += before;
  if (definedLengths) {
    std::string inner;
    for (int i = 0; i < depth; ++i) {
      std::string item;
      putU16(item, 0xFFFE);
      putU16(item, 0xE000);
      putU32(item, static_cast<std::uint32_t>(inner.size()));
      item += inner;
      std::string sq;
      element(sq, group, tag, vr, item);
      inner = sq;
    }
    return file + inner;
  }
  std::string open, close;
  for (int i = 0; i < depth; ++i) {
    putU16(open, group);
    putU16(open, tag);
    open += vr;
    putU16(open, 0);
    putU32(open, 0xFFFFFFFFu);
    putU16(open, 0xFFFE);
    putU16(open, 0xE000);
    putU32(open, 0xFFFFFFFFu);
  }
  for (int i = 0; i < depth; ++i) {
    putU16(close, 0xFFFE);
    putU16(close, 0xE00D);
    putU32(close, 0);
    putU16(close, 0xFFFE);
    putU16(close, 0xE0DD);
    putU32(close, 0);
  }
  return file + open + close;
}

// A 16-bit greyscale Secondary Capture holding `pixels` values of 100, whose header claims
// rows x columns (x frames when given); `patientName` goes in as raw bytes under `charset`
// (none when empty).
inline std::string imageDicom(std::uint16_t rows, std::uint16_t columns, const std::string& frames = "",
                              std::size_t pixels = 64 * 64, const std::string& patientName = "Test^Patient",
                              const std::string& charset = "") {
  std::string file = part10Start();
  if (!charset.empty()) element(file, 0x0008, 0x0005, "CS", charset);
  element(file, 0x0008, 0x0016, "UI", "1.2.840.10008.5.1.4.1.1.7");
  element(file, 0x0008, 0x0018, "UI", "1.2.826.0.1.3680043.9.7134.1.1");
  element(file, 0x0008, 0x0060, "CS", "OT");
  element(file, 0x0010, 0x0010, "PN", patientName);
  element(file, 0x0010, 0x0020, "LO", "ID-1");
  element(file, 0x0028, 0x0002, "US", u16Value(1));
  element(file, 0x0028, 0x0004, "CS", "MONOCHROME2");
  if (!frames.empty()) element(file, 0x0028, 0x0008, "IS", frames);
  element(file, 0x0028, 0x0010, "US", u16Value(rows));
  element(file, 0x0028, 0x0011, "US", u16Value(columns));
  element(file, 0x0028, 0x0100, "US", u16Value(16));
  element(file, 0x0028, 0x0101, "US", u16Value(16));
  element(file, 0x0028, 0x0102, "US", u16Value(15));
  element(file, 0x0028, 0x0103, "US", u16Value(0));
  std::string data;
  for (std::size_t i = 0; i < pixels; ++i) putU16(data, 100);
  element(file, 0x7FE0, 0x0010, "OW", data);
  return file;
}

}  // namespace al::hostile
