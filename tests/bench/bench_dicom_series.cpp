// Benchmark (not a test): index and load a 300-slice 512 x 512 int16 DICOM series with
// AnomalyLens's reader and with ITK's ImageSeriesReader + GDCMImageIO, on the same files, in the
// same run. Each reader runs in a child process so that its peak memory (ru_maxrss) is its own;
// the peak is reported above the child's resting size, next to the voxel data's size.
// Goal (issue 4): at least 1.5x faster than ITK, peak at most 1.2x the voxel data.

#include <itkGDCMImageIO.h>
#include <itkGDCMSeriesFileNames.h>
#include <itkImage.h>
#include <itkImageSeriesReader.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "io/DicomSeriesReader.h"
#include "io/DicomWriter.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kSlices = 300, kSize = 512;

void makeSeries(const std::string& folder) {
  if (fs::exists(folder + "/IM00300.dcm")) return;
  std::printf("writing %d slices of %dx%d int16 to %s ...\n", kSlices, kSize, kSize, folder.c_str());
  al::Volume v(al::PixelType::Int16, al::Size3{kSize, kSize, kSlices});
  auto* p = v.data<std::int16_t>();
  for (std::int64_t i = 0; i < v.voxelsPerChannel(); ++i) p[i] = static_cast<std::int16_t>((i * 2654435761u >> 20) % 3000 - 1000);
  v.setSpacing({0.7, 0.7, 1.0});
  al::writeDicomMrSeries(v, 0, folder, al::DicomStudy{}, al::DicomSeries{});
}

double runOurs(const std::string& folder) {
  const auto t0 = Clock::now();
  const auto index = al::indexDicomFolder(folder);
  const al::Volume v = al::readDicomSeries(index.series.at(0));
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  return v.size().z == kSlices ? s : -1;
}

double runItk(const std::string& folder) {
  const auto t0 = Clock::now();
  using Image = itk::Image<short, 3>;
  auto names = itk::GDCMSeriesFileNames::New();
  names->SetDirectory(folder);
  const auto files = names->GetFileNames(names->GetSeriesUIDs().front());
  auto reader = itk::ImageSeriesReader<Image>::New();
  reader->SetImageIO(itk::GDCMImageIO::New());
  reader->SetFileNames(files);
  reader->Update();
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  return reader->GetOutput()->GetLargestPossibleRegion().GetSize()[2] == kSlices ? s : -1;
}

long maxRssKb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

// Runs `which` (0 ours, 1 ITK) in a child; returns seconds and the peak memory above the
// child's size before reading (MB).
std::pair<double, double> inChild(int which, const std::string& folder) {
  int fds[2];
  if (pipe(fds) != 0) return {-1, -1};
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    const long before = maxRssKb();
    const double s = which == 0 ? runOurs(folder) : runItk(folder);
    const double result[2] = {s, static_cast<double>(maxRssKb() - before) / 1024.0};
    if (write(fds[1], result, sizeof(result)) != sizeof(result)) _exit(2);
    _exit(0);
  }
  close(fds[1]);
  double result[2] = {-1, -1};
  if (read(fds[0], result, sizeof(result)) != sizeof(result)) result[0] = -1;
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return {result[0], result[1]};
}

}  // namespace

int main(int argc, char** argv) {
  const std::string folder = argc > 1 ? argv[1] : (fs::temp_directory_path() / "anomalylens-bench-series").string();
  makeSeries(folder);
  const double voxelMb = static_cast<double>(kSlices) * kSize * kSize * 2 / 1048576.0;
  inChild(0, folder);  // warm the page cache for both
  double best[2] = {1e9, 1e9}, peak[2] = {0, 0};
  for (int round = 0; round < 3; ++round) {
    for (int which : {round % 2, 1 - round % 2}) {  // alternate the order
      const auto [s, mb] = inChild(which, folder);
      if (s < 0) {
        std::printf("reader %d failed\n", which);
        return 1;
      }
      best[which] = std::min(best[which], s);
      peak[which] = std::max(peak[which], mb);
    }
  }
  std::printf("DICOM series %d x %dx%d int16 (%.0f MB of voxels), best of 3, %u threads available\n", kSlices, kSize, kSize, voxelMb,
              std::thread::hardware_concurrency());
  std::printf("  AnomalyLens: %.3f s, peak +%.0f MB (%.2fx the voxel data)\n", best[0], peak[0], peak[0] / voxelMb);
  std::printf("  ITK ImageSeriesReader + GDCMImageIO: %.3f s, peak +%.0f MB (%.2fx)\n", best[1], peak[1], peak[1] / voxelMb);
  std::printf("  speed ratio ITK / AnomalyLens: %.2fx (goal >= 1.5x); memory goal <= 1.2x\n", best[1] / best[0]);
  return 0;
}
