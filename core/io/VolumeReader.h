#pragma once
// One reader per format behind one interface; the registry picks the reader by the file's
// content (its first bytes), falling back to the extension only where the content is not
// self-describing (gzip-compressed NIfTI).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "image/Volume.h"

namespace al {

// The first bytes of a file, read once and shown to every reader's sniffer.
struct FileHead {
  std::string path;
  std::uint64_t fileSize = 0;
  std::vector<unsigned char> bytes;  // up to 1 KiB

  bool startsWith(const char* magic, std::size_t offset = 0) const;
  static FileHead read(const std::string& path);  // throws FileError
};

class VolumeReader {
 public:
  virtual ~VolumeReader() = default;
  virtual std::string formatName() const = 0;
  virtual bool canRead(const FileHead& head) const = 0;
  // Throws FileError naming the file and the reason.
  virtual Volume read(const std::string& path) const = 0;
};

class ReaderRegistry {
 public:
  // The readers AnomalyLens ships, in order of preference.
  static const ReaderRegistry& standard();

  void add(std::unique_ptr<VolumeReader> reader);
  // The reader for this file, or nullptr when none recognises it.
  const VolumeReader* find(const FileHead& head) const;
  // Reads the file with the reader its content asks for; a folder or a DICOMDIR is read as the
  // one DICOM series it holds, and a folder without DICOM as a stack of 2D images (B-scans); a
  // single 2D image file is a one-B-scan volume. Throws FileError otherwise.
  Volume read(const std::string& path) const;
  Volume readFolder(const std::string& folder) const;

 private:
  Volume readUnchecked(const std::string& path) const;
  std::vector<std::unique_ptr<VolumeReader>> readers_;
};

// Shorthand for ReaderRegistry::standard().read(path).
Volume readVolume(const std::string& path);

}  // namespace al
