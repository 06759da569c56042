#include "io/VolumeReader.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <spdlog/spdlog.h>

#include "errors/Error.h"
#include "io/DicomFileReader.h"
#include "io/DicomSeriesReader.h"
#include "io/ItkVolumeReader.h"
#include "io/oct/HeidelbergVolReader.h"
#include "io/oct/ImageStackReader.h"

namespace al {

const ReaderRegistry& ReaderRegistry::standard() {
  static const ReaderRegistry registry = [] {
    ReaderRegistry r;
    r.add(std::make_unique<DicomFileReader>());
    r.add(std::make_unique<HeidelbergVolReader>());
    r.add(std::make_unique<ItkVolumeReader>());
    r.add(std::make_unique<ImageFileReader>());  // one B-scan as PNG, JPEG, TIFF or BMP
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
  // Every failure leaves here as an al::Error naming the file and saying what is wrong in words:
  // std::bad_alloc and the libraries' own exception texts never reach the user.
  try {
    return readUnchecked(path);
  } catch (const Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw FileError(path, "not enough memory to read it (the image it describes does not fit this machine)");
  } catch (const std::exception& e) {
    spdlog::debug("reading failed inside a library: {}", e.what());
    throw FileError(path, "cannot be read: the file is damaged or uses a variant AnomalyLens does not read");
  }
}

Volume ReaderRegistry::readUnchecked(const std::string& path) const {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return readFolder(path);
  const FileHead head = FileHead::read(path);
  if (head.fileSize == 0) throw FileError(path, "the file is empty");
  if (head.startsWith("DICM", 128) && isDicomDir(path)) return readOnlySeries(path, indexDicomDir(path));
  const VolumeReader* reader = find(head);
  if (!reader) {
    throw FileError(path, "not a format AnomalyLens reads (DICOM, Heidelberg .vol, NIfTI, MetaImage, NRRD, PNG, JPEG, TIFF, BMP)");
  }
  return reader->read(path);
}


Volume ReaderRegistry::readFolder(const std::string& folder) const {
  const DicomFolderIndex index = indexDicomFolder(folder);
  // No DICOM at all: a folder of B-scan images (PNG, TIFF, ...) is one volume.
  if (index.series.empty() && index.errors.empty() && !imageStackFiles(folder).empty()) return readImageStack(folder);
  return readOnlySeries(folder, index);
}

Volume readVolume(const std::string& path) { return ReaderRegistry::standard().read(path); }

}  // namespace al
