#include "models/SafeTensors.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "io/AtomicFile.h"
#include "runtime/BoundedJson.h"

namespace al::models {

namespace {

struct DType {
  const char* name;
  torch::ScalarType type;
  int64_t bytes;
};
constexpr DType kDTypes[] = {{"F32", torch::kFloat, 4}, {"F64", torch::kDouble, 8}, {"I64", torch::kLong, 8}};

const DType* dtypeOf(torch::ScalarType t) {
  for (const auto& d : kDTypes)
    if (d.type == t) return &d;
  return nullptr;
}
const DType* dtypeOf(const std::string& name) {
  for (const auto& d : kDTypes)
    if (name == d.name) return &d;
  return nullptr;
}

// The largest header we accept: model indices are a few kB; 64 MB is what the format allows.
constexpr uint64_t kMaxHeader = 64ull << 20;

}  // namespace

void writeSafeTensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<torch::Tensor> cpu;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    const DType* d = dtypeOf(t.scalar_type());
    if (!d) throw FileError(path, "tensor \"" + name + "\" has an element type safetensors files here do not hold");
    torch::Tensor c = t.detach().to(torch::kCPU).contiguous();
    const uint64_t bytes = static_cast<uint64_t>(c.numel()) * d->bytes;
    header[name] = {{"dtype", d->name}, {"shape", c.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    cpu.push_back(c);
  }
  std::string headerText = header.dump();
  headerText.append((8 - headerText.size() % 8) % 8, ' ');  // the format pads with spaces to 8
  writeAtomically(path, [&](const std::string& tmpPath) {
    std::ofstream out(tmpPath, std::ios::binary | std::ios::trunc);
    if (!out) throw FileError(path, "cannot write the weights file");
    uint64_t n = headerText.size();
    unsigned char le[8];
    for (int i = 0; i < 8; ++i) le[i] = static_cast<unsigned char>((n >> (8 * i)) & 0xff);
    out.write(reinterpret_cast<const char*>(le), 8);
    out.write(headerText.data(), static_cast<std::streamsize>(headerText.size()));
    for (const auto& c : cpu)
      out.write(static_cast<const char*>(c.data_ptr()), static_cast<std::streamsize>(c.nbytes()));
    out.flush();
    if (!out) throw FileError(path, "writing the weights failed (disk full?)");
  });
}

NamedTensors readSafeTensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw FileError(path, "cannot open the weights file");
  const uint64_t fileSize = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  if (fileSize < 8) throw FileError(path, "not a safetensors file: shorter than its 8-byte header length");
  unsigned char le[8];
  in.read(reinterpret_cast<char*>(le), 8);
  uint64_t headerSize = 0;
  for (int i = 0; i < 8; ++i) headerSize |= static_cast<uint64_t>(le[i]) << (8 * i);
  if (headerSize > kMaxHeader || headerSize > fileSize - 8)
    throw FileError(path, "not a safetensors file or truncated: header length " + std::to_string(headerSize) +
                              " does not fit the file's " + std::to_string(fileSize) + " bytes");
  std::string headerText(headerSize, '\0');
  in.read(headerText.data(), static_cast<std::streamsize>(headerSize));
  const nlohmann::json header = parseBoundedJson(headerText, path, "the tensor index");
  if (!header.is_object()) throw FileError(path, "the tensor index is not a JSON object");
  const uint64_t dataSize = fileSize - 8 - headerSize;

  struct Entry { std::string name; const DType* d; std::vector<int64_t> shape; uint64_t begin, end; };
  std::vector<Entry> entries;
  for (const auto& [name, e] : header.items()) {
    if (name == "__metadata__") continue;
    try {
      Entry entry{name, dtypeOf(e.at("dtype").get<std::string>()), e.at("shape").get<std::vector<int64_t>>(),
                  e.at("data_offsets").at(0).get<uint64_t>(), e.at("data_offsets").at(1).get<uint64_t>()};
      if (!entry.d) throw FileError(path, "tensor \"" + name + "\" has an unsupported dtype " + e.at("dtype").dump());
      uint64_t count = 1;
      for (int64_t s : entry.shape) {
        if (s < 0 || (s > 0 && count > (uint64_t{1} << 40) / static_cast<uint64_t>(s)))
          throw FileError(path, "tensor \"" + name + "\" has an impossible shape");
        count *= static_cast<uint64_t>(s);
      }
      if (entry.end < entry.begin || entry.end > dataSize)
        throw FileError(path, "tensor \"" + name + "\" lies outside the file (truncated?)");
      if (entry.end - entry.begin != count * static_cast<uint64_t>(entry.d->bytes))
        throw FileError(path, "tensor \"" + name + "\": its byte range does not match its shape");
      entries.push_back(std::move(entry));
    } catch (const nlohmann::json::exception& ex) {
      throw FileError(path, "tensor \"" + name + "\" has a malformed index entry (" + ex.what() + ")");
    }
  }
  std::vector<const Entry*> byOffset;
  for (const auto& e : entries) byOffset.push_back(&e);
  std::sort(byOffset.begin(), byOffset.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  for (std::size_t i = 1; i < byOffset.size(); ++i)
    if (byOffset[i]->begin < byOffset[i - 1]->end) throw FileError(path, "tensors overlap in the file");

  NamedTensors out;
  for (const auto& e : entries) {
    torch::Tensor t = torch::empty(e.shape, e.d->type);
    in.seekg(static_cast<std::streamoff>(8 + headerSize + e.begin));
    in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(e.end - e.begin));
    if (!in) throw FileError(path, "cannot read tensor \"" + e.name + "\" (truncated?)");
    // NaN or infinite weights would colour every map: refused, with the tensor named.
    if (t.is_floating_point() && !torch::isfinite(t).all().item<bool>()) {
      throw FileError(path, "tensor \"" + e.name + "\" holds NaN or infinite values");
    }
    out.emplace_back(e.name, t);
  }
  return out;
}

}  // namespace al::models
