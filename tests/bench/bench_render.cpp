// Benchmark: one slice of the viewer drawn with its heatmap at 512x512, as scrolling redraws it
// (goal: under 16 ms, so scrolling holds 60 frames/s). Times, over many frames, the slice
// through window/level, the overlay image, and the whole view painted (image, heatmap scaled
// into the widget, colour bar and texts); the same view without a heatmap runs side by side as
// the reference, so the overlay's cost reads as a ratio. Offscreen: no display needed.
//
//   bench_render [--frames N] [--json]

#include <QApplication>
#include <QElapsedTimer>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "inference/ScanAnalysis.h"
#include "overlay/OverlayModel.h"
#include "sliceview/SliceView.h"
#include "sliceview/SliceViewModel.h"

using namespace al;

namespace {

struct Stats {
  double median = 0, p95 = 0;
};

template <typename F>
Stats timeIt(int frames, F&& f) {
  std::vector<double> ms;
  for (int i = 0; i < frames; ++i) {
    QElapsedTimer t;
    t.start();
    f(i);
    ms.push_back(t.nsecsElapsed() / 1e6);
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms[std::min(ms.size() - 1, ms.size() * 95 / 100)]};
}

}  // namespace

int main(int argc, char** argv) {
  if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
  QApplication app(argc, argv);
  int frames = 200;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--frames") && i + 1 < argc) frames = std::max(10, std::atoi(argv[++i]));
    if (!std::strcmp(argv[i], "--json")) json = true;
  }
  // A 512x512x32 float scan and a map of the same size with a blob per slice.
  const Size3 size{512, 512, 32};
  auto scan = std::make_shared<Volume>(PixelType::Float32, size);
  auto analysis = std::make_shared<inference::ScanAnalysis>();
  Volume map(PixelType::Float32, size);
  for (std::int64_t z = 0; z < size.z; ++z)
    for (std::int64_t y = 0; y < size.y; ++y)
      for (std::int64_t x = 0; x < size.x; ++x) {
        const std::int64_t i = (z * size.y + y) * size.x + x;
        scan->data<float>()[i] = static_cast<float>(100 + 50 * std::sin(x * 0.05) * std::cos(y * 0.03) + (i * 7919 % 23));
        const double d = std::hypot(x - 256.0 - 4 * z, y - 256.0);
        map.data<float>()[i] = static_cast<float>(std::exp(-d * d / 4000.0) + 0.05 * ((i * 104729) % 7) / 7.0);
      }
  analysis->modelName = "bench";
  analysis->maps.emplace("residual", std::move(map));
  analysis->mapNames = {"residual"};
  analysis->ranges["residual"] = {0.2, 1.0, true};
  analysis->sliceScores.assign(static_cast<std::size_t>(size.z), 0.5);
  analysis->threshold = 0.4;

  ui::SliceViewModel model;
  model.setVolume(scan);
  ui::OverlayModel overlay;
  overlay.setAnalysis(analysis);
  const int n = static_cast<int>(size.z);
  const Stats slice = timeIt(frames, [&](int i) {
    model.setSlice(i % n);
    (void)model.renderSlice();
  });
  const Stats heat = timeIt(frames, [&](int i) { (void)overlay.renderOverlay(i % n); });
  ui::SliceView view(&model);
  view.resize(512, 512);
  // The whole view: a slice change re-renders the slice and its overlay, then paints.
  const Stats plain = timeIt(frames, [&](int i) {
    model.setSlice((i + 1) % n);
    (void)view.renderToImage();
  });
  view.setOverlay(&overlay);
  const Stats withHeat = timeIt(frames, [&](int i) {
    model.setSlice((i + 1) % n);
    (void)view.renderToImage();
  });
  const double ratio = withHeat.median / plain.median;
  if (json) {
    std::printf("{\"frames\": %d, \"size\": 512, \"slice_ms\": %.3f, \"overlay_ms\": %.3f, "
                "\"view_plain_ms\": %.3f, \"view_heatmap_ms\": %.3f, \"view_heatmap_p95_ms\": %.3f, "
                "\"heatmap_cost_ratio\": %.3f, \"goal_ms\": 16}\n",
                frames, slice.median, heat.median, plain.median, withHeat.median, withHeat.p95, ratio);
  } else {
    std::printf("bench_render: 512x512 slice, %d frames (median / 95th percentile, ms)\n", frames);
    std::printf("  slice through window/level      %7.3f / %7.3f\n", slice.median, slice.p95);
    std::printf("  heatmap overlay image           %7.3f / %7.3f\n", heat.median, heat.p95);
    std::printf("  whole view, no heatmap (ref.)   %7.3f / %7.3f\n", plain.median, plain.p95);
    std::printf("  whole view with heatmap         %7.3f / %7.3f   (%.2fx the reference; goal under 16 ms: %s)\n",
                withHeat.median, withHeat.p95, ratio, withHeat.median < 16.0 ? "met" : "missed");
  }
  return 0;
}
