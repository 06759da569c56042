#pragma once
// JSON from files a user may have been sent (model cards, safetensors indexes, sessions,
// manifests) is parsed with a nesting limit: a few kilobytes of "[[[[..." must get a refusal
// naming the file, not a stack overflow anywhere that walks the value afterwards.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <fstream>
#include <string>

#include "errors/Error.h"

namespace al {

constexpr int kMaxJsonDepth = 64;

// Parses `text` (from `path`, described as `what`: "the model card"); throws FileError naming
// the file when it is not JSON or nests deeper than kMaxJsonDepth.
inline nlohmann::json parseBoundedJson(const std::string& text, const std::string& path, const std::string& what) {
  try {
    return nlohmann::json::parse(text, [&](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
      if (depth > kMaxJsonDepth) {
        throw FileError(path,
                        what + " nests deeper than " + std::to_string(kMaxJsonDepth) + " levels: refused as malformed");
      }
      return true;
    });
  } catch (const nlohmann::json::exception& e) {
    throw FileError(path, what + " is not valid JSON (" + e.what() + ")");
  }
}

// Reads and parses the JSON file at `path`, refusing files larger than `maxBytes` before reading
// them and nesting as parseBoundedJson does.
inline nlohmann::json readBoundedJsonFile(const std::string& path, const std::string& what, std::uint64_t maxBytes) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw FileError(path, "cannot be opened");
  const std::streamoff size = in.tellg();
  if (size < 0 || static_cast<std::uint64_t>(size) > maxBytes) {
    throw FileError(path, what + " is " + std::to_string(size) + " bytes, more than its limit of " +
                              std::to_string(maxBytes >> 20) + " MiB: refused");
  }
  std::string text(static_cast<std::size_t>(size), '\0');
  in.seekg(0);
  in.read(text.data(), size);
  return parseBoundedJson(text, path, what);
}

}  // namespace al
