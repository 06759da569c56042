// The real viewer under Xvfb: it opens a phantom OCT volume given on its command line and its
// screenshot shows the B-scan (a bright retina band on a dark vitreous), not an empty window;
// it opens the demo study, runs a bundled model and shows its heatmap (coloured pixels over the
// grey scan, absent without the model).

#include <gtest/gtest.h>

#include <QImage>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "../core/TestPaths.h"
#include "RunCommand.h"

using namespace al;

namespace {

// Heatmap pixels in the image area (the left part of the window, below the texts): the scans
// are grey (R = G = B), the heatmap is coloured.
int heatmapPixels(const QImage& shot) {
  int n = 0;
  for (int y = 60; y < shot.height() - 50; ++y)
    for (int x = 0; x < shot.width() * 7 / 10; ++x) {
      const QRgb p = shot.pixel(x, y);
      n += std::abs(qRed(p) - qBlue(p)) > 40 ? 1 : 0;
    }
  return n;
}

CommandResult runViewer(const TempDir& dir, const std::string& args) {
  return runCommand("XDG_DATA_HOME=" + shellQuote(dir.path()) + " XDG_CONFIG_HOME=" + shellQuote(dir.path()) + " " +
                        shellQuote(ANOMALYLENS_VIEWER) + " " + args,
                    true);
}

// Screenshots of the viewer run with `args`, with the model and with --no-model; `outEnv` names
// an environment variable that, when set, receives a copy of the one with the model.
struct WithAndWithout {
  QImage with, without;
};
WithAndWithout screenshotsWithAndWithoutModel(const TempDir& dir, const std::string& args, const char* outEnv) {
  const std::string with = dir.file("with.png"), without = dir.file("without.png");
  auto r = runViewer(dir, args + " --screenshot " + shellQuote(with));
  EXPECT_EQ(r.exitCode, 0) << r.output;
  r = runViewer(dir, args + " --no-model --screenshot " + shellQuote(without));
  EXPECT_EQ(r.exitCode, 0) << r.output;
  const char* out = std::getenv(outEnv);
  if (out && *out && std::filesystem::exists(with))
    std::filesystem::copy_file(with, out, std::filesystem::copy_options::overwrite_existing);
  return {QImage(QString::fromStdString(with)), QImage(QString::fromStdString(without))};
}

}  // namespace

TEST(Viewer, OpensAScanAndShowsIt) {
  if (!std::getenv("DISPLAY")) GTEST_SKIP() << "no X display: run under xvfb-run";
  TempDir dir;
  ASSERT_EQ(runCommand(shellQuote(ANOMALYLENS_CLI) + " phantom oct --bscans 3 --out " + shellQuote(dir.path())).exitCode, 0);
  const std::string png = dir.file("shot.png");
  // The viewer's log goes to the temporary folder, not the user's data folder.
  const auto r = runCommand("XDG_DATA_HOME=" + shellQuote(dir.path()) + " XDG_CONFIG_HOME=" + shellQuote(dir.path()) + " " + shellQuote(ANOMALYLENS_VIEWER) + " --screenshot " + shellQuote(png) + " " +
                                shellQuote(dir.file("oct_0000.nii.gz")),
                            true);
  ASSERT_EQ(r.exitCode, 0) << r.output;
  QImage shot(QString::fromStdString(png));
  ASSERT_FALSE(shot.isNull());
  EXPECT_GE(shot.width(), 800);
  // The slice fills the central area: count clearly bright pixels there.
  int bright = 0, total = 0;
  for (int y = shot.height() / 4; y < 3 * shot.height() / 4; y += 2)
    for (int x = shot.width() / 4; x < 3 * shot.width() / 4; x += 2, ++total) bright += qGray(shot.pixel(x, y)) > 100;
  EXPECT_GT(bright, total / 50) << "bright " << bright << " of " << total;
  EXPECT_LT(bright, total / 2);
  EXPECT_TRUE(std::filesystem::exists(dir.file("AnomalyLens/logs/anomalylens.log")));
  const std::string out = std::getenv("ANOMALYLENS_SCREENSHOT_OUT") ? std::getenv("ANOMALYLENS_SCREENSHOT_OUT") : "";
  if (!out.empty()) std::filesystem::copy_file(png, out, std::filesystem::copy_options::overwrite_existing);
}

TEST(Viewer, DemoStudyWithTheBundledModelsHeatmap) {
  if (!std::getenv("DISPLAY")) GTEST_SKIP() << "no X display: run under xvfb-run";
  TempDir dir;
  const auto shots = screenshotsWithAndWithoutModel(dir, "--demo", "ANOMALYLENS_DEMO_SCREENSHOT_OUT");
  ASSERT_FALSE(shots.with.isNull());
  ASSERT_FALSE(shots.without.isNull());
  const int heat = heatmapPixels(shots.with), none = heatmapPixels(shots.without);
  EXPECT_GT(heat, 1000) << "coloured pixels with the model's heatmap";
  EXPECT_LT(none, 50) << "coloured pixels without a model";
}

TEST(Viewer, MriPhantomWithTheAdmEnergyMap) {
  if (!std::getenv("DISPLAY")) GTEST_SKIP() << "no X display: run under xvfb-run";
  const std::string mri = std::string(ANOMALYLENS_DEMO_DIR) + "/mri/mri_0000";
  ASSERT_TRUE(std::filesystem::is_directory(mri)) << mri;
  TempDir dir;
  const std::string png = dir.file("mri.png");
  const auto r = runViewer(dir, "--model adm-mri-lite --layout orthogonal --screenshot " + shellQuote(png) + " " + shellQuote(mri));
  ASSERT_EQ(r.exitCode, 0) << r.output;
  const QImage shot(QString::fromStdString(png));
  ASSERT_FALSE(shot.isNull());
  EXPECT_GT(heatmapPixels(shot), 1000);
}

// The MRI demo is a real multiple-sclerosis patient, scored by the model trained on real brains.
TEST(Viewer, DemoMriStudyIsARealPatientWithTheRealBrainModelsMap) {
  if (!std::getenv("DISPLAY")) GTEST_SKIP() << "no X display: run under xvfb-run";
  ASSERT_TRUE(std::filesystem::is_directory(std::string(ANOMALYLENS_DEMO_DIR) + "/open-ms-patient19"));
  TempDir dir;
  const auto shots = screenshotsWithAndWithoutModel(dir, "--demo-mri --layout orthogonal", "ANOMALYLENS_MRI_SCREENSHOT_OUT");
  ASSERT_FALSE(shots.with.isNull());
  ASSERT_FALSE(shots.without.isNull());
  // The cursor's cross lines are coloured too: the map adds its pixels to theirs. This checks
  // that the map is drawn; how much of the lesions it covers is test_demo_findings' measure
  // (measured 2026-12-07: about 900 map pixels here, the cores of the large lesions).
  const int heat = heatmapPixels(shots.with), none = heatmapPixels(shots.without);
  std::cout << "coloured pixels: " << heat << " with the model, " << none << " without\n";
  EXPECT_GT(heat, none + 300) << "the model's map is not drawn";
}

TEST(Viewer, HiDpiDrawsEverythingAtTwiceTheResolution) {
  if (!std::getenv("DISPLAY")) GTEST_SKIP() << "no X display: run under xvfb-run";
  TempDir dir;
  const std::string png = dir.file("hidpi.png");
  // The window asks for 1280x800 logical pixels; at a scale of 2 that is 2560x1600 device pixels.
  const auto r = runViewer(dir, "--demo --screenshot " + shellQuote(png));
  ASSERT_EQ(r.exitCode, 0) << r.output;
  const std::string scaled = dir.file("hidpi2.png");
  const auto r2 = runCommand("QT_SCALE_FACTOR=2 XDG_DATA_HOME=" + shellQuote(dir.path()) + " XDG_CONFIG_HOME=" +
                                 shellQuote(dir.path()) + " " + shellQuote(ANOMALYLENS_VIEWER) + " --demo --screenshot " +
                                 shellQuote(scaled),
                             true);
  ASSERT_EQ(r2.exitCode, 0) << r2.output;
  const QImage normal(QString::fromStdString(png)), hidpi(QString::fromStdString(scaled));
  ASSERT_FALSE(hidpi.isNull());
  EXPECT_EQ(hidpi.width(), 2 * normal.width());
  EXPECT_EQ(hidpi.height(), 2 * normal.height());
  // The heatmap covers about four times the device pixels: drawn at full resolution, not lost.
  EXPECT_GT(heatmapPixels(hidpi), 3 * heatmapPixels(normal));
}

// `--model` takes a card's path from anywhere, as the CLI does (a model trained or recalibrated
// elsewhere): it joins the list as the user's and its heatmap shows. A card that cannot be read is
// named with the reason, and the screenshot run fails instead of showing no heatmap.
TEST(Viewer, AModelCardFromAnywhereRunsAndABrokenOneIsNamed) {
  if (!std::getenv("DISPLAY")) GTEST_SKIP() << "no X display: run under xvfb-run";
  TempDir dir;
  namespace fs = std::filesystem;
  const fs::path elsewhere = dir.file("elsewhere");
  fs::create_directories(elsewhere);
  for (const char* ext : {".json", ".safetensors"})
    fs::copy_file(std::string(ANOMALYLENS_MODELS_DIR) + "/a2bgan-oct-lite" + ext, elsewhere / (std::string("a2bgan-oct-lite") + ext));
  const std::string shot = dir.file("external.png");
  auto r = runViewer(dir, "--demo --model " + shellQuote((elsewhere / "a2bgan-oct-lite.json").string()) + " --screenshot " + shellQuote(shot));
  ASSERT_EQ(r.exitCode, 0) << r.output;
  EXPECT_GT(heatmapPixels(QImage(QString::fromStdString(shot))), 1000) << "the external model's heatmap";

  const std::string broken = dir.file("broken.json");
  std::ofstream(broken) << "{\"format\": \"anomalylens-model\"";
  r = runViewer(dir, "--demo --model " + shellQuote(broken) + " --screenshot " + shellQuote(dir.file("broken.png")));
  EXPECT_NE(r.exitCode, 0);
  EXPECT_NE(r.output.find(broken), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("not valid JSON"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir.file("broken.png")));
}
