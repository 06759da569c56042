// The models shipped in models/: each card verifies (weights hash, tensor names and shapes),
// records the measured metrics the issue asks for, and the model runs through its own card's
// preprocessing on a fresh phantom scan, giving finite scores and maps on the scan's grid.

#include <gtest/gtest.h>

#include <cmath>
#include <algorithm>
#include <filesystem>
#include <set>

#include "models/ModelFile.h"
#include "phantom/MriPhantom.h"
#include "phantom/OctPhantom.h"
#include "training/Pipeline.h"

using namespace al;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> bundledCards() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(ANOMALYLENS_MODELS_DIR, ec))
    if (e.path().extension() == ".json" && e.path().filename().string().find(".best.") == std::string::npos)
      out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST(BundledModels, AllFiveMethodsAreBundledWithMeasuredCards) {
  const auto cards = bundledCards();
  if (cards.empty()) GTEST_SKIP() << "no bundled models in " << ANOMALYLENS_MODELS_DIR;
  std::set<std::string> kinds;
  for (const auto& c : cards) {
    SCOPED_TRACE(c);
    EXPECT_NO_THROW(models::verifyModel(c));
    EXPECT_LT(fs::file_size(fs::path(c).replace_extension(".safetensors")), 20u << 20) << "over 20 MB";
    const models::ModelCard card = models::readModelCard(c);
    kinds.insert(models::toString(card.kind));
    ASSERT_TRUE(card.threshold.has_value());
    EXPECT_TRUE(card.metrics["validation"].contains("image_auc"));
    EXPECT_TRUE(card.metrics["test"].contains("image_auc"));
    EXPECT_TRUE(card.metrics["test"].contains("pixel_auc")) << "the phantom has lesion masks";
    EXPECT_TRUE(card.calibration.contains("healthy_map"));
  }
  EXPECT_EQ(kinds.size(), 5u) << "one bundled model per method";
}

TEST(BundledModels, EachRunsOnAFreshPhantomThroughItsCardsPreprocessing) {
  const auto cards = bundledCards();
  if (cards.empty()) GTEST_SKIP() << "no bundled models in " << ANOMALYLENS_MODELS_DIR;
  OctPhantomOptions oo;
  oo.bscans = 2;
  oo.seed = 991;
  oo.lesions.intraretinalFluid = 1;
  const OctPhantom oct = makeOctPhantom(oo);
  MriPhantomOptions mo;
  mo.sizeZ = 24;
  mo.seed = 992;
  mo.lesions.tumours = 1;
  const MriPhantom mri = makeMriPhantom(mo);
  for (const auto& c : cards) {
    SCOPED_TRACE(c);
    auto loaded = models::loadModel(c, "cpu");
    const auto pipeline = training::Pipeline::fromJson(loaded.card.preprocessing, loaded.model->input());
    Volume scan = pipeline.modality() == training::Modality::Oct ? oct.image : mri.image;
    if (pipeline.modality() == training::Modality::Mri) {
      std::vector<std::string> names;
      for (const auto& s : mri.sequences) names.push_back(s.name);
      scan.setChannelNames(names);
    }
    const training::Prepared p = pipeline.prepare(scan, nullptr,
                                                  pipeline.modality() == training::Modality::Mri ? &mri.brainMask : nullptr, "phantom");
    models::RunOptions run;
    run.windowOverlap = 0;  // AnoGAN's latent search is the slow part: fewest windows
    const models::Analysis a = loaded.model->analyse(p.images, &p.valid, run);
    ASSERT_EQ(a.scores.size(), static_cast<std::size_t>(p.images.size().z));
    for (double s : a.scores) EXPECT_TRUE(std::isfinite(s));
    const std::string first = loaded.model->mapNames().front();
    const Volume onScan = pipeline.toScan(p, a.maps.at(first));
    EXPECT_EQ(onScan.size(), scan.size());
    double sum = 0;
    for (std::int64_t i = 0; i < onScan.voxelsPerChannel(); ++i) sum += onScan.data<float>()[i];
    EXPECT_TRUE(std::isfinite(sum));
  }
}
