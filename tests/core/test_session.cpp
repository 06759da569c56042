// Sessions: measurements of regions and distances in the scan's units, and a session that
// saves and loads back identically, atomically, with clear errors for damaged files.

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "TestPaths.h"
#include "errors/Error.h"
#include "session/Session.h"

using namespace al;

namespace {

Volume ramp() {
  // 40 x 30 x 3, spacing 0.5 x 0.25 mm; value = x on slice 1, 7 elsewhere.
  Volume v(PixelType::Float32, Size3{40, 30, 3});
  v.setSpacing({0.5, 0.25, 2.0});
  for (int z = 0; z < 3; ++z)
    for (int y = 0; y < 30; ++y)
      for (int x = 0; x < 40; ++x) v.setValue(x, y, z, 0, z == 1 ? x : 7.0);
  return v;
}

}  // namespace

TEST(Session, DistanceIsInMillimetresAlongBothAxes) {
  const Volume v = ramp();
  Annotation d{AnnotationKind::Distance, 1, {{{2.0, 3.0}}, {{8.0, 11.0}}}, ""};
  // 6 px * 0.5 mm = 3 mm across, 8 px * 0.25 mm = 2 mm down.
  EXPECT_NEAR(measureDistance(v, d), std::hypot(3.0, 2.0), 1e-12);
  EXPECT_EQ(describe(v, d), "distance 3.61 mm");
}

TEST(Session, RegionCoversItsEllipseAndMeasuresTheScanAndTheMap) {
  const Volume v = ramp();
  // A circle of radius 5 px centred on (20, 15): about pi * 25 = 78.5 pixels.
  Annotation r{AnnotationKind::Region, 1, {{{15.0, 10.0}}, {{25.0, 20.0}}}, "lesion"};
  Volume map(PixelType::Float32, v.size());
  map.setValue(20, 15, 1, 0, 4.0);
  const RegionMeasure m = measureRegion(v, r, 0, &map);
  EXPECT_NEAR(static_cast<double>(m.pixels), 78.5, 6.0);
  EXPECT_NEAR(m.areaMm2, static_cast<double>(m.pixels) * 0.5 * 0.25, 1e-12);
  EXPECT_NEAR(m.mean, 19.5, 0.6);  // symmetric about x = 19.5 (pixel centres)
  EXPECT_GE(m.min, 15.0);
  EXPECT_LE(m.max, 24.0);
  EXPECT_GT(m.sd, 2.0);
  ASSERT_TRUE(m.mapMean.has_value());
  EXPECT_NEAR(*m.mapMean, 4.0 / static_cast<double>(m.pixels), 1e-12);
  EXPECT_EQ(*m.mapMax, 4.0);
  // On a slice of constant value: no spread.
  r.slice = 0;
  const RegionMeasure flat = measureRegion(v, r);
  EXPECT_EQ(flat.mean, 7.0);
  EXPECT_EQ(flat.sd, 0.0);
  EXPECT_FALSE(flat.mapMean.has_value());
  EXPECT_NE(describe(v, r).find("lesion"), std::string::npos);
  // Degenerate and out-of-range regions measure nothing (never a crash).
  EXPECT_EQ(measureRegion(v, {AnnotationKind::Region, 1, {{{5.0, 5.0}}, {{5.0, 9.0}}}, ""}).pixels, 0);
  EXPECT_EQ(measureRegion(v, {AnnotationKind::Region, 9, {{{1.0, 1.0}}, {{5.0, 9.0}}}, ""}).pixels, 0);
  EXPECT_GT(measureRegion(v, {AnnotationKind::Region, 1, {{{-10.0, -10.0}}, {{5.0, 5.0}}}, ""}).pixels, 0);
}

TEST(Session, SavesAndLoadsBackIdentically) {
  TempDir dir;
  Session s;
  s.scan = "/data/oct_0000.nii.gz";
  s.seriesLabel = "#3 OCT";
  s.view.slice = 17;
  s.view.zoom = 2.5;
  s.view.panX = -12;
  s.view.panY = 30.5;
  s.view.channel = 1;
  s.view.windowLevel[0] = {200, 100};
  s.view.windowLevel[1] = {50, -3};
  s.view.layout = "orthogonal";
  s.view.compare = true;
  s.overlay.model = "a2bgan-oct-lite";
  s.overlay.map = "mask";
  s.overlay.colormap = "jet";
  s.overlay.normalisation = "image";
  s.overlay.opacity = 0.4;
  s.overlay.threshold = 0.25;
  s.overlay.visible = false;
  s.overlay.scoreThreshold = 0.0123;
  s.sliceLabels = {{3, 1}, {9, 0}};
  s.annotations = {{AnnotationKind::Flag, 17, {}, "look again"},
                   {AnnotationKind::Region, 17, {{{1.5, 2.5}}, {{10, 20}}}, ""},
                   {AnnotationKind::Distance, 4, {{{0, 0}}, {{3, 4}}}, "PED height"}};
  const std::string path = dir.file("reading.alsession");
  saveSession(s, path);
  const Session back = loadSession(path);
  EXPECT_FALSE(back.saved.empty());
  s.saved = back.saved;
  EXPECT_EQ(toJson(back), toJson(s));
  // Only the session file is left in the folder: the temporary one was renamed.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) files += e.is_regular_file() ? 1 : 0;
  EXPECT_EQ(files, 1);
}

TEST(Session, DamagedFilesAreRefusedWithTheFileAndTheReason) {
  TempDir dir;
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir.file(name)) << text;
    return dir.file(name);
  };
  auto expectError = [](const std::string& path, const std::string& reason) {
    try {
      loadSession(path);
      ADD_FAILURE() << "no error for " << path;
    } catch (const FileError& e) {
      EXPECT_EQ(e.path(), path);
      EXPECT_NE(e.reason().find(reason), std::string::npos) << e.reason();
    }
  };
  expectError(dir.file("missing.alsession"), "cannot be opened");
  expectError(write("truncated.alsession", "{\"format\": \"anomalylens-sess"), "not valid JSON");
  expectError(write("nested.alsession", std::string(100000, '[') + std::string(100000, ']')), "nests deeper than");
  expectError(write("other.alsession", "{\"cases\": []}"), "not an AnomalyLens session");
  expectError(write("newer.alsession", R"({"format": "anomalylens-session", "format_version": 99, "scan": "x"})"), "newer");
  expectError(write("noscan.alsession", R"({"format": "anomalylens-session", "format_version": 1})"), "damaged session");
  expectError(write("badkind.alsession",
                    R"({"format": "anomalylens-session", "format_version": 1, "scan": "x", "annotations": [{"kind": "arrow", "slice": 1}]})"),
              "unknown annotation kind");
  expectError(write("short.alsession",
                    R"({"format": "anomalylens-session", "format_version": 1, "scan": "x", "annotations": [{"kind": "distance", "slice": 1, "points": [[1, 2]]}]})"),
              "two points");
}
