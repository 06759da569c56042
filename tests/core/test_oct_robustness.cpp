// OCT flattening on B-scans as real devices and exports deliver them: other column counts
// without pixel spacing must give one lateral scale; padding bands, tilt, low contrast and a
// saturated reflex must not move the RPE; and a B-scan that cannot be flattened must be refused
// with its file and the reason, and left out of training.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <vector>

#include "TestPaths.h"
#include "TestPhantoms.h"
#include "errors/Error.h"
#include "io/VolumeWriter.h"
#include "models/AnomalyModel.h"
#include "models/ModelFile.h"
#include "phantom/OctArtifacts.h"
#include "phantom/OctPhantom.h"
#include "phantom/PhantomRandom.h"
#include "preprocess/OctFlatten.h"
#include "training/DataSet.h"
#include "training/Pipeline.h"
#include "training/Trainer.h"

using namespace al;

namespace {

const OctPhantom& phantom() {
  static const OctPhantom p = [] {
    OctPhantomOptions o;
    o.bscans = 1;
    o.seed = 31;
    return makeOctPhantom(o);
  }();
  return p;
}

const OctFlattened& reference() {
  static const OctFlattened f = flattenOct(phantom().image);
  return f;
}

double correlation(const Volume& a, const Volume& b) {
  const float* x = a.data<float>();
  const float* y = b.data<float>();
  const auto n = static_cast<std::size_t>(std::min(a.voxelsPerChannel(), b.voxelsPerChannel()));
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < n; ++i) mx += x[i], my += y[i];
  mx /= static_cast<double>(n), my /= static_cast<double>(n);
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < n; ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxy / std::sqrt(sxx * syy);
}

// The median over columns (outside [skipFrom, skipTo)) of |RPE - reference RPE|, in rows.
double rpeError(const OctFlattened& f, const std::vector<float>& rpe, int skipFrom = 0, int skipTo = 0) {
  std::vector<double> d;
  const auto& a = f.rpe.front();
  for (std::size_t x = 0; x < a.size(); ++x)
    if (static_cast<int>(x) < skipFrom || static_cast<int>(x) >= skipTo) d.push_back(std::abs(a[x] - rpe[x]));
  std::nth_element(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(d.size() / 2), d.end());
  return d[d.size() / 2];
}

Volume named(Volume v, const std::string& path) {
  v.metadata().sourcePath = path;
  return v;
}

// The B-scan moved down by `rows` (black above): its lower layers leave the image.
Volume shiftedDown(const Volume& v, int rows) {
  Volume out = v;
  const Size3 s = v.size();
  for (std::int64_t y = 0; y < s.y; ++y)
    for (std::int64_t x = 0; x < s.x; ++x) out.setValue(x, y, 0, 0, y >= rows ? v.value(x, y - rows, 0) : 0.0);
  return out;
}

}  // namespace

TEST(OctLateralScale, EveryColumnCountGivesOneBandWidth) {
  // A JPEG export of a 6 mm scan from devices with 512, 768, 1024 and 1536 A-scans: no spacing.
  const OctFlattened base = flattenOct(resampledWithoutSpacing(phantom().image, 512));
  EXPECT_TRUE(base.spacingAssumed);
  EXPECT_EQ(base.band.size().x, 256);
  for (int columns : {768, 1024, 1536}) {
    const OctFlattened f = flattenOct(resampledWithoutSpacing(phantom().image, columns));
    EXPECT_EQ(f.band.size().x, 256) << columns << " columns";
    EXPECT_EQ(f.band.size().y, base.band.size().y);
    EXPECT_GT(correlation(base.band, f.band), 0.9) << columns << " columns: not the same band";
  }
  // The same file with its spacing known agrees with the assumption (the phantom is 6 mm wide).
  EXPECT_EQ(reference().band.size().x, 256);
  EXPECT_FALSE(reference().spacingAssumed);
}

TEST(OctLateralScale, TheFieldOfViewIsAnOptionTheCardKeeps) {
  OctFlattenOptions o;
  o.fieldMm = 3.0;  // a 3 mm scan: half the band's columns at the same microns per column
  EXPECT_EQ(flattenOct(resampledWithoutSpacing(phantom().image, 1024), o).band.size().x, 128);
  EXPECT_DOUBLE_EQ(OctFlattenOptions::fromJson(o.toJson()).fieldMm, 3.0);

  models::InputSpec spec;
  const auto p = training::Pipeline::forInput(spec, {{"oct", {{"field_mm", 4.5}}}});
  const nlohmann::json j = p.toJson();
  EXPECT_DOUBLE_EQ(j["oct"]["field_mm"].get<double>(), 4.5);
  EXPECT_DOUBLE_EQ(training::Pipeline::fromJson(j, spec).toJson()["oct"]["field_mm"].get<double>(), 4.5);
  EXPECT_DOUBLE_EQ(training::Pipeline::forInput(spec).toJson()["oct"]["field_mm"].get<double>(), 6.0);
}

TEST(OctRobustness, PaddingBandsAreNeitherRetinaNorBoundary) {
  const auto& rpe = reference().rpe.front();
  // A black band below (a B-scan exported into a taller canvas).
  const OctFlattened bottom = flattenOct(withPadding(phantom().image, PaddingSide::Bottom, 0.12, 0));
  EXPECT_LT(rpeError(bottom, rpe), 2.0);
  // A black band over the left quarter: the RPE is fitted on the rest and nothing there is scored.
  const OctFlattened left = flattenOct(withPadding(phantom().image, PaddingSide::Left, 0.25, 0));
  EXPECT_LT(rpeError(left, rpe, 0, 128), 2.0);
  long scored = 0;
  for (int u = 0; u < 60; ++u)
    for (int y = 0; y < left.options.bandHeight; ++y) scored += left.retina.value(u, y, 0) != 0;
  EXPECT_EQ(scored, 0) << "padding counted as retina";
  // A white wedge in the corner (a rotated export).
  const OctFlattened wedge = flattenOct(withCornerWedge(phantom().image, 0.3, 255));
  EXPECT_LT(rpeError(wedge, rpe), 2.0);
  EXPECT_GT(correlation(reference().band, wedge.band), 0.8) << "the white wedge changed the intensity window";
}

TEST(OctRobustness, TiltLowContrastAndASaturatedReflexKeepTheRpe) {
  const auto& rpe = reference().rpe.front();
  const OctFlattened tilt = flattenOct(tilted(phantom().image, 0.2));  // +-51 rows over the B-scan
  EXPECT_GT(correlation(reference().band, tilt.band), 0.85);

  const OctFlattened faint = flattenOct(lowContrast(phantom().image, 0.35, 0.03, 5));
  EXPECT_LT(rpeError(faint, rpe), 2.0);

  // A saturated vertical reflex 8 columns wide at the centre.
  const OctFlattened reflex = flattenOct(withSaturatedReflex(phantom().image, 256, 8));
  EXPECT_LT(rpeError(reflex, rpe), 2.0);
  // The reflex does not set the top of the intensity window: the retina keeps its brightness.
  double a = 0, b = 0;
  long n = 0;
  for (std::int64_t i = 0; i < reference().band.voxelsPerChannel(); ++i) {
    const auto u = i % reference().band.size().x;
    if (!reference().retina.data<std::uint8_t>()[i] || (u > 118 && u < 138)) continue;
    a += reference().band.data<float>()[i];
    b += reflex.band.data<float>()[i];
    ++n;
  }
  EXPECT_NEAR(a / n, b / n, 0.05);
}

TEST(OctRobustness, WhatCannotBeFlattenedIsRefusedWithTheFileAndTheReason) {
  // Speckle without a retina.
  Volume noise(PixelType::UInt8, {512, 496, 1}, 1);
  PhantomRandom rng(3);
  for (std::int64_t i = 0; i < noise.voxelsPerChannel(); ++i)
    noise.data<std::uint8_t>()[i] = static_cast<std::uint8_t>(std::clamp(60.0 * rng.speckle(1), 0.0, 255.0));
  try {
    flattenOct(named(noise, "/data/NORMAL-noise.jpeg"));
    FAIL() << "noise was flattened";
  } catch (const Error& e) {
    EXPECT_EQ(e.context(), "/data/NORMAL-noise.jpeg");
    EXPECT_FALSE(e.reason().empty());
  }
  // Contrast so low that only noise is left.
  EXPECT_THROW(flattenOct(named(lowContrast(phantom().image, 0.01, 0.06, 9), "faint.png")), Error);
  // The retina running off the image's bottom: its RPE is gone, and the ellipsoid zone above it
  // must not be flattened in its place.
  const auto& rpe = reference().rpe.front();
  const double highest = *std::min_element(rpe.begin(), rpe.end());
  const int h = static_cast<int>(phantom().image.size().y);
  try {
    flattenOct(named(shiftedDown(phantom().image, static_cast<int>(h - highest) + 2), "cut.png"));
    FAIL() << "a B-scan without its RPE was flattened";
  } catch (const Error& e) {
    EXPECT_EQ(e.context(), "cut.png");
    EXPECT_FALSE(e.reason().empty());
    std::cout << "cut-off B-scan refused: " << e.reason() << "\n";
  }
}

TEST(OctRobustness, TrainingLeavesOutACaseThatCannotBeFlattenedAndSaysSo) {
  TempDir d;
  const std::string data = writeTestPhantoms(d.file("oct"), PhantomKind::Oct, 5, 2, 41, 2);
  // One more healthy training case: noise with no retina.
  Volume noise(PixelType::UInt8, {256, 200, 2}, 1);
  PhantomRandom rng(4);
  for (std::int64_t i = 0; i < noise.voxelsPerChannel(); ++i)
    noise.data<std::uint8_t>()[i] = static_cast<std::uint8_t>(std::clamp(60.0 * rng.speckle(1), 0.0, 255.0));
  writeVolume(noise, d.file("oct/broken.nii.gz"));
  std::ofstream(d.file("oct/manifest.csv"), std::ios::app) << "broken.nii.gz,0,,train\n";
  const training::DataSet train = training::openDataSet(d.file("oct/manifest.csv"), "train", 0);
  const auto broken = std::find_if(train.cases.begin(), train.cases.end(), [](const auto& c) { return c.image.find("broken") != std::string::npos; });
  ASSERT_NE(broken, train.cases.end());
  auto model = models::createModel(models::ModelKind::FAnoGan, "tiny");
  try {
    training::Pipeline::forInput(model->input()).prepare(*broken);
    FAIL() << "the broken case was prepared";
  } catch (const Error& e) {
    EXPECT_NE(e.context().find("broken.nii.gz"), std::string::npos) << e.message();
  }

  training::TrainingSpec s;
  s.model = "fanogan";
  s.config = "tiny";
  s.healthy = s.validation = d.file("oct/manifest.csv");
  s.out = d.file("m");
  s.iterations = {{"wgan", 2}, {"encoder", 2}};
  s.validateEvery = 0;
  std::vector<std::string> lines;
  training::TrainingCallbacks cb;
  cb.log = [&](const std::string& l) { lines.push_back(l); };
  training::TrainingControl control;
  const auto out = training::Trainer(s, cb).run(control);
  ASSERT_TRUE(out.finished);
  const nlohmann::json& left = out.card.trainingData["left_out"];
  ASSERT_EQ(left.size(), 1u) << left.dump();
  EXPECT_NE(left[0]["file"].get<std::string>().find("broken.nii.gz"), std::string::npos);
  EXPECT_FALSE(left[0]["reason"].get<std::string>().empty());
  EXPECT_TRUE(std::any_of(lines.begin(), lines.end(), [](const std::string& l) { return l.find("left out") != std::string::npos && l.find("broken") != std::string::npos; }));
}
