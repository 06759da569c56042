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

namespace {

// The B-scan with its retina made `factor` times taller above the reference RPE (the rows below
// as they were): macular oedema without the fluid's texture.
Volume thickened(const Volume& v, const std::vector<float>& rpe, double factor) {
  Volume out = v;
  const Size3 s = v.size();
  for (std::int64_t x = 0; x < s.x; ++x)
    for (std::int64_t y = 0; y < s.y; ++y) {
      const double r = rpe[static_cast<std::size_t>(x)];
      if (y >= r) continue;
      const double from = r - (r - static_cast<double>(y)) / factor;
      const auto y0 = static_cast<std::int64_t>(std::floor(from));
      const double t = from - static_cast<double>(y0);
      const double a = v.value(x, std::clamp<std::int64_t>(y0, 0, s.y - 1), 0);
      const double b = v.value(x, std::clamp<std::int64_t>(y0 + 1, 0, s.y - 1), 0);
      out.setValue(x, y, 0, 0, a + t * (b - a));
    }
  return out;
}

}  // namespace

// f-AnoGAN's preprocessing normalises the thickness of a retina taller than the band: the rows
// above the RPE are compressed there so that the inner layers stay in view, where before they were
// cut off. A retina that fits is resampled exactly as without the option; the compression is
// undone when a map goes back onto the B-scan, and a lesion in the inner layers reaches the band.
TEST(OctThickness, ARetinaTallerThanTheBandIsCompressedNotCutOff) {
  const OctFlattened& ref = reference();
  OctFlattenOptions off;
  off.normaliseThickness = false;
  {
    const OctFlattened plain = flattenOct(phantom().image, off);
    ASSERT_EQ(plain.band.voxelsPerChannel(), ref.band.voxelsPerChannel());
    for (std::int64_t i = 0; i < ref.band.voxelsPerChannel(); ++i)
      ASSERT_EQ(plain.band.data<float>()[i], ref.band.data<float>()[i]) << "a retina that fits is not touched";
    for (float c : ref.compression.front()) ASSERT_EQ(c, 1.f);
  }
  const auto& rpe = ref.rpe.front();
  const auto& ilm = ref.ilm.front();
  const Volume thick = thickened(phantom().image, rpe, 2.4);
  const Size3 s = thick.size();
  // A lesion in the inner layers of the thick retina: 6 rows under its ILM, a quarter of the width.
  Volume lesion(PixelType::UInt8, s, 1);
  const std::int64_t x0 = s.x * 3 / 8, x1 = s.x * 5 / 8;
  long lesionPixels = 0;
  for (std::int64_t x = x0; x < x1; ++x) {
    const double top = rpe[static_cast<std::size_t>(x)] - 2.4 * (rpe[static_cast<std::size_t>(x)] - ilm[static_cast<std::size_t>(x)]);
    ASSERT_GT(top, 4) << "the thickened retina must stay inside the image";
    for (auto y = static_cast<std::int64_t>(top) + 6; y < static_cast<std::int64_t>(top) + 14; ++y, ++lesionPixels)
      lesion.setValue(x, y, 0, 0, 1);
  }
  const OctFlattened cut = flattenOct(thick, off);
  const OctFlattened fit = flattenOct(thick);
  ASSERT_FALSE(cut.warnings.empty());
  EXPECT_NE(cut.warnings.back().find("cut off"), std::string::npos) << cut.warnings.back();
  ASSERT_FALSE(fit.warnings.empty());
  EXPECT_NE(fit.warnings.back().find("normalised"), std::string::npos) << fit.warnings.back();
  std::cout << fit.warnings.back() << "\n";
  const float most = *std::max_element(fit.compression.front().begin(), fit.compression.front().end());
  EXPECT_GT(most, 1.2f);
  EXPECT_LE(most, 4.f);

  auto inBand = [](const OctFlattened& f, const Volume& labels) {
    const Volume b = flattenOctLabels(f, labels);
    long n = 0, inRetina = 0;
    for (std::int64_t i = 0; i < b.voxelsPerChannel(); ++i)
      if (b.data<std::uint8_t>()[i]) ++n, inRetina += f.retina.data<std::uint8_t>()[i] != 0;
    return std::pair<long, long>{n, inRetina};
  };
  const auto [cutN, cutRetina] = inBand(cut, lesion);
  const auto [fitN, fitRetina] = inBand(fit, lesion);
  std::cout << "inner-layer lesion in the band: cut off " << cutN << " band pixels, normalised " << fitN << " (" << fitRetina
            << " in the scored retina)\n";
  EXPECT_EQ(cutN, 0) << "without the normalisation the inner layers are above the band";
  EXPECT_GT(fitN, 0);
  EXPECT_GT(fitRetina, fitN * 9 / 10) << "the compressed inner layers are scored";

  // The way back: the band's lesion labels, unflattened, land on the lesion.
  const Volume bandLabels = flattenOctLabels(fit, lesion);
  Volume asMap(PixelType::Float32, bandLabels.size(), 1);
  for (std::int64_t i = 0; i < bandLabels.voxelsPerChannel(); ++i)
    asMap.data<float>()[i] = bandLabels.data<std::uint8_t>()[i] ? 1.f : 0.f;
  const Volume back = unflattenOct(fit, asMap);
  long hit = 0, stray = 0;
  for (std::int64_t y = 0; y < s.y; ++y)
    for (std::int64_t x = 0; x < s.x; ++x) {
      const bool on = back.value(x, y, 0) >= 0.5;
      if (lesion.value(x, y, 0) > 0) hit += on;
      else if (on) {
        bool near = false;  // within the band pixel's footprint of the lesion
        for (std::int64_t dy = -4; dy <= 4 && !near; ++dy)
          for (std::int64_t dx = -3; dx <= 3 && !near; ++dx)
            near = x + dx >= 0 && x + dx < s.x && y + dy >= 0 && y + dy < s.y && lesion.value(x + dx, y + dy, 0) > 0;
        stray += !near;
      }
    }
  std::cout << "back on the B-scan: " << hit << " of " << lesionPixels << " lesion pixels, " << stray << " stray\n";
  EXPECT_GT(hit, lesionPixels * 7 / 10);
  EXPECT_EQ(stray, 0);
}

// A model card written before the option was trained and measured without it, and keeps it off;
// a new card states it, on by default.
TEST(OctThickness, CardsBeforeTheOptionKeepTheirFlattening) {
  models::InputSpec spec;
  spec.channels = 1;
  spec.height = spec.width = 64;
  spec.mode = models::InputMode::Patches;
  spec.modality = "OCT";
  const training::Pipeline fresh = training::Pipeline::forInput(spec, nlohmann::json::object());
  EXPECT_EQ(fresh.toJson()["oct"].value("normalise_thickness", false), true);
  nlohmann::json old = fresh.toJson();
  old["oct"].erase("normalise_thickness");
  EXPECT_EQ(training::Pipeline::fromJson(old, spec).toJson()["oct"].value("normalise_thickness", true), false);
  old["oct"]["normalise_thickness"] = true;
  EXPECT_EQ(training::Pipeline::fromJson(old, spec).toJson()["oct"].value("normalise_thickness", false), true);
  old["oct"]["max_compression"] = 0.5;
  EXPECT_THROW(OctFlattenOptions::fromJson(old["oct"]), Error);
}
