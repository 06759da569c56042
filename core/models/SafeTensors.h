#pragma once
// Named tensors in the safetensors layout (https://github.com/huggingface/safetensors): an
// 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}}, the
// raw little-endian data. Plain data: reading it can never run code, and Python reads it with
// the standard library alone (tests/reference/safetensors_io.py).

#include <map>
#include <string>

#include "models/TorchModel.h"

namespace al::models {

// Float32, float64 and int64 tensors; written atomically (temporary file + rename).
void writeSafeTensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Validates the header (size, JSON, dtypes, shapes against byte ranges, ranges inside the file
// and not overlapping) before allocating; throws al::FileError naming the file and the reason.
NamedTensors readSafeTensors(const std::string& path);

}  // namespace al::models
