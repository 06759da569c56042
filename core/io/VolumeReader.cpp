#include "io/VolumeReader.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "errors/Error.h"
#include "io/DicomFileReader.h"
#include "io/DicomSeriesReader.h"
#include "io/ItkVolumeReader.h"

namespace al {

bool FileHead::startsWith(const char* magic, std::size_t offset) const {
  const std::size_t n = std::strlen(magic);
  if (bytes.size() < offset + n) return false;
  return std::memcmp(bytes.data() + offset, magic, n) == 0;
}

FileHead FileHead::read(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (ec || !fs::exists(status)) throw FileError(path, "no such file");
  if (fs::is_directory(status)) throw FileError(path, "is a folder, not a file");
  FileHead head;
  head.path = path;
  head.fileSize = fs::file_size(path, ec);
  if (ec) throw FileError(path, "cannot determine the file size: " + ec.message());
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, std::string("cannot open: ") + std::strerror(errno));
  head.bytes.resize(static_cast<std::size_t>(std::min<std::uint64_t>(head.fileSize, 1024)));
  in.read(reinterpret_cast<char*>(head.bytes.data()), static_cast<std::streamsize>(head.bytes.size()));
  head.bytes.resize(static_cast<std::size_t>(in.gcount()));
  return head;
}

const ReaderRegistry& ReaderRegistry::standard() {
  static const ReaderRegistry registry = [] {
    ReaderRegistry r;
    r.add(std::make_unique<DicomFileReader>());
    r.add(std::make_unique<ItkVolumeReader>());
    return r;
  }();
  return registry;
}

void ReaderRegistry::add(std::unique_ptr<VolumeReader> reader) { readers_.push_back(std::move(reader)); }

const VolumeReader* ReaderRegistry::find(const FileHead& head) const {
  for (const auto& r : readers_) {
    if (r->canRead(head)) return r.get();
  }
  return nullptr;
}

namespace {
// The one DICOM image series an index holds, as a volume; otherwise an error listing them.
Volume readOnlySeries(const std::string& folder, const DicomFolderIndex& index) {
  if (index.series.empty()) {
    std::string reason = "holds no DICOM image series";
    if (!index.errors.empty()) reason += " (" + index.errors.front().first + ": " + index.errors.front().second + ")";
    throw FileError(folder, reason);
  }
  if (index.series.size() > 1) {
    std::string list;
    for (const auto& s : index.series) list += (list.empty() ? "" : ", ") + s.seriesDescription + " (" + std::to_string(s.files.size()) + " files)";
    throw FileError(folder, "holds " + std::to_string(index.series.size()) + " series (" + list + "); open one of them");
  }
  return readDicomSeries(index.series.front());
}
}  // namespace

Volume ReaderRegistry::read(const std::string& path) const {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return readFolder(path);
  const FileHead head = FileHead::read(path);
  if (head.fileSize == 0) throw FileError(path, "the file is empty");
  if (head.startsWith("DICM", 128) && isDicomDir(path)) return readOnlySeries(path, indexDicomDir(path));
  const VolumeReader* reader = find(head);
  if (!reader) {
    throw FileError(path, "not a format AnomalyLens reads (DICOM, NIfTI, MetaImage, NRRD)");
  }
  return reader->read(path);
}


Volume ReaderRegistry::readFolder(const std::string& folder) const { return readOnlySeries(folder, indexDicomFolder(folder)); }

Volume readVolume(const std::string& path) { return ReaderRegistry::standard().read(path); }

}  // namespace al
