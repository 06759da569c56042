#include "runtime/TorchRuntime.h"

#include <malloc.h>

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#ifdef __linux__
#include <sched.h>
#endif

namespace al {

namespace {

// glibc's malloc serves blocks above its (dynamic) mmap threshold with fresh mmaps and gives
// freed memory back at once; a network's activations (megabytes, allocated and freed for every
// batch) then page-fault afresh each time: f-AnoGAN on the demo volume spent 37 of its 61 s in
// the kernel zeroing pages. Keeping blocks up to 32 MB in the heap and trimming only past 256 MB
// free makes it about 15 s, with identical results. Set when the program loads, before the
// first allocation, as the GLIBC_TUNABLES equivalent would be.
const bool kMallocTuned = [] {
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
  return true;
}();

}  // namespace

namespace {

int availableCores() {
#ifdef __linux__
  // The affinity mask, not the machine's core count: containers and taskset restrict it.
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
#endif
  return std::max(1u, std::thread::hardware_concurrency());
}

TorchRuntimeInfo query() {
  TorchRuntimeInfo info;
  info.libtorchVersion = TORCH_VERSION;
  info.builtWithCuda = at::hasCUDA();
  if (!info.builtWithCuda) {
    info.cudaStatus = "CUDA not usable: this LibTorch was built without CUDA (CPU-only build; "
                      "point -DTorch_DIR at a CUDA LibTorch to use a GPU)";
  } else {
    info.cudaDeviceCount = static_cast<int>(torch::cuda::device_count());
    info.cudaAvailable = torch::cuda::is_available();
    if (info.cudaAvailable) {
      info.cudaStatus = "CUDA available: " + std::to_string(info.cudaDeviceCount) + " device(s)";
    } else {
      info.cudaStatus = "CUDA not usable: LibTorch has CUDA, but no GPU is visible (no NVIDIA "
                        "driver loaded, or CUDA_VISIBLE_DEVICES hides the devices)";
    }
  }
  // ANOMALYLENS_THREADS caps the threads: several processes sharing the cores (parallel test
  // runs, batch jobs) must not oversubscribe them, or OpenMP's spinning threads steal the
  // cores from the working ones and small operations become tens of times slower.
  int cores = availableCores();
  if (const char* env = std::getenv("ANOMALYLENS_THREADS"); env && std::atoi(env) > 0)
    cores = std::min(cores, std::atoi(env));
  if (at::get_num_threads() != cores) at::set_num_threads(cores);
  info.intraOpThreads = at::get_num_threads();
  return info;
}

}  // namespace

std::string TorchRuntimeInfo::summary() const {
  return "LibTorch " + libtorchVersion + " (" + (builtWithCuda ? "CUDA build" : "CPU build") +
         ", " + std::to_string(intraOpThreads) + " CPU threads); " + cudaStatus;
}

const TorchRuntimeInfo& torchRuntime() {
  static const TorchRuntimeInfo info = query();
  return info;
}

}  // namespace al
