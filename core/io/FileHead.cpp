#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "errors/Error.h"
#include "io/VolumeReader.h"

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

}  // namespace al
