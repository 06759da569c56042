// The real viewer under Xvfb: it opens a phantom OCT volume given on its command line and its
// screenshot shows the B-scan (a bright retina band on a dark vitreous), not an empty window.

#include <gtest/gtest.h>

#include <QImage>
#include <filesystem>

#include "../core/TestPaths.h"
#include "RunCommand.h"

using namespace al;

TEST(Viewer, OpensAScanAndShowsIt) {
  if (!std::getenv("DISPLAY")) GTEST_SKIP() << "no X display: run under xvfb-run";
  TempDir dir;
  ASSERT_EQ(runCommand(shellQuote(ANOMALYLENS_CLI) + " phantom oct --bscans 3 --out " + shellQuote(dir.path())).exitCode, 0);
  const std::string png = dir.file("shot.png");
  // The viewer's log goes to the temporary folder, not the user's data folder.
  const auto r = runCommand("XDG_DATA_HOME=" + shellQuote(dir.path()) + " " + shellQuote(ANOMALYLENS_VIEWER) + " --screenshot " + shellQuote(png) + " " +
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
