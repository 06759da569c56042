#pragma once
// The one conversion between Volume and torch::Tensor. Includes LibTorch: only the few
// translation units that run networks include this header.

#include <torch/types.h>

#include "image/Volume.h"

namespace al {

// A float32 tensor [C, Z, Y, X] holding a copy of the volume's voxels, on the CPU.
torch::Tensor toTensor(const Volume& volume);

// A Float32 volume from a [C, Z, Y, X] or [Z, Y, X] tensor (any dtype, any device), with the
// geometry, channel names and metadata of `like` when its size matches.
Volume fromTensor(const torch::Tensor& tensor, const Volume* like = nullptr);

}  // namespace al
