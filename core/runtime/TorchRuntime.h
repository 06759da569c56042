#pragma once
// What LibTorch this build runs and whether CUDA is usable, and why not. No LibTorch headers
// here: the viewer's About box and the CLI's --version include this cheaply.

#include <string>

namespace al {

struct TorchRuntimeInfo {
  std::string libtorchVersion;  // e.g. "1.13.0"
  bool builtWithCuda = false;   // the LibTorch binary has CUDA kernels
  bool cudaAvailable = false;   // a CUDA device can be used now
  int cudaDeviceCount = 0;
  std::string cudaStatus;       // "CUDA available: ...", or why not
  int intraOpThreads = 0;

  std::string summary() const;  // one line for logs and --version
};

// Queried once, then cached; also sets LibTorch's intra-op threads to the cores available.
const TorchRuntimeInfo& torchRuntime();

}  // namespace al
