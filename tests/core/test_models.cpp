// The five methods through their one interface, on tiny configurations and tiny synthetic data
// (CPU, seconds): shapes, training, save/load, the ADM singularity guard, and a real if small
// AUC check that a briefly trained model scores lesions above healthy images.

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "models/AnomalyModel.h"
#include "models/ModelDescription.h"
#include "models/ModelFile.h"
#include "models/SafeTensors.h"
#include "models/TorchModel.h"
#include "models/adm/AdmNetworks.h"
#include "SyntheticImages.h"
#include "TestPaths.h"

namespace al::models {
namespace {

using al::testing::auc;
using al::testing::brainSlices;
using al::testing::octPatches;
namespace fs = std::filesystem;

std::string name(const ::testing::TestParamInfo<ModelKind>& info) { return toString(info.param); }

// A batch the kind trains on at its input size.
TrainBatch batchFor(const AnomalyModel& model, int n, unsigned seed) {
  const InputSpec in = model.input();
  TrainBatch b;
  if (model.kind() == ModelKind::Adm) {
    auto s = brainSlices(n, in.height, false, seed);
    b.healthy = std::move(s.images);
    b.mask = std::move(s.mask);
    return b;
  }
  b.healthy = octPatches(n, in.height, false, seed);
  if (model.kind() == ModelKind::A2BGan) {
    // The unlabelled mixed set: half of it with lesions.
    Volume mixed = octPatches(n, in.height, false, seed + 1000);
    Volume sick = octPatches(n, in.height, true, seed + 2000);
    const std::size_t plane = static_cast<std::size_t>(in.height) * in.width;
    for (int k = 0; k < n; k += 2)
      std::copy_n(sick.data<float>() + k * plane, plane, mixed.data<float>() + k * plane);
    b.mixed = std::move(mixed);
  }
  return b;
}

// Runs every stage of the model for `steps` batches each (the fit pass once over a few batches).
std::map<std::string, std::vector<StepLosses>> train(AnomalyModel& model, int steps, int batch, unsigned seed) {
  std::map<std::string, std::vector<StepLosses>> log;
  for (const auto& stage : model.stages()) {
    const int n = stage.fitPass ? 4 : steps;
    for (int i = 0; i < n; ++i)
      log[stage.name].push_back(model.trainStep(stage.name, batchFor(model, batch, seed + 7919u * i)));
    model.finishStage(stage.name);
  }
  model.setTraining(false);
  return log;
}

// `mask`: ADM's brain mask; `lesions`: 1 inside the lesions.
Volume testImages(const AnomalyModel& model, int n, bool lesion, unsigned seed, Volume* mask = nullptr,
                  Volume* lesions = nullptr, float lesionScale = 1.f) {
  const InputSpec in = model.input();
  if (model.kind() == ModelKind::Adm) {
    auto s = brainSlices(n, in.height, lesion, seed);
    if (mask) *mask = s.mask;
    if (lesions) *lesions = s.lesion;
    return s.images;
  }
  return octPatches(n, in.height, lesion, seed, lesions, lesionScale);
}

// Pixel AUC of a map against lesion labels, over the valid pixels (all when `valid` is null).
double pixelAuc(const Volume& map, const Volume& lesions, const Volume* valid) {
  std::vector<double> healthy, sick;
  const float* m = map.data<float>();
  const float* l = lesions.data<float>();
  for (std::int64_t i = 0; i < map.voxelsPerChannel(); ++i) {
    if (valid && valid->data<float>()[i] == 0) continue;
    (l[i] > 0 ? sick : healthy).push_back(m[i]);
  }
  // Subsample the healthy pixels evenly: the Mann-Whitney count is quadratic.
  std::vector<double> h;
  const std::size_t step = std::max<std::size_t>(1, healthy.size() / 4000);
  for (std::size_t i = 0; i < healthy.size(); i += step) h.push_back(healthy[i]);
  std::vector<double> s;
  const std::size_t step2 = std::max<std::size_t>(1, sick.size() / 2000);
  for (std::size_t i = 0; i < sick.size(); i += step2) s.push_back(sick[i]);
  return auc(h, s);
}

class ModelsTest : public ::testing::TestWithParam<ModelKind> {
 protected:
  void SetUp() override { torch::manual_seed(7); }
};

TEST_P(ModelsTest, InterfaceShapesAndFiniteOutputs) {
  auto model = createModel(GetParam(), "tiny");
  EXPECT_EQ(model->kind(), GetParam());
  EXPECT_EQ(model->configName(), "tiny");
  EXPECT_GT(model->parameterCount(), 0);
  ASSERT_FALSE(model->stages().empty());
  for (const auto& s : model->stages()) EXPECT_GT(s.paperIterations, 0) << s.name;
  train(*model, 2, 4, 1);
  const InputSpec in = model->input();
  Volume mask;
  Volume images = testImages(*model, 3, false, 5, &mask);
  Analysis a = model->analyse(images, model->input().usesMask ? &mask : nullptr, {});
  ASSERT_EQ(a.scores.size(), 3u);
  for (double s : a.scores) EXPECT_TRUE(std::isfinite(s));
  ASSERT_EQ(a.maps.size(), model->mapNames().size());
  for (const auto& n : model->mapNames()) {
    ASSERT_TRUE(a.maps.count(n)) << n;
    const Volume& m = a.maps.at(n);
    EXPECT_EQ(m.channels(), 1);
    EXPECT_TRUE(m.size() == images.size());
    const auto range = m.valueRange();
    EXPECT_TRUE(std::isfinite(range.min) && std::isfinite(range.max)) << n;
  }
  ASSERT_TRUE(a.reconstruction.has_value());
  EXPECT_EQ(a.reconstruction->channels(), in.channels);
  EXPECT_TRUE(a.reconstruction->size() == images.size());
}

TEST_P(ModelsTest, ImagesOfOtherSizesAreTiledOrResized) {
  auto model = createModel(GetParam(), "tiny");
  train(*model, 1, 4, 2);
  const InputSpec in = model->input();
  Volume big(PixelType::Float32, {in.width * 2 + 7, in.height + 13, 2}, in.channels);
  Volume small(PixelType::Float32, {in.width / 2 + 1, in.height / 2, 1}, in.channels);
  for (Volume* v : {&big, &small}) {
    float* p = v->data<float>();
    for (std::int64_t i = 0; i < v->voxelsPerChannel() * v->channels(); ++i) p[i] = std::sin(0.01f * i) * 0.8f;
    Analysis a = model->analyse(*v, nullptr, {});
    ASSERT_EQ(a.scores.size(), static_cast<std::size_t>(v->size().z));
    for (const auto& [n, m] : a.maps) EXPECT_TRUE(m.size() == v->size()) << n;
    if (in.mode == InputMode::Patches) {
      ASSERT_EQ(a.windowScores.size(), static_cast<std::size_t>(v->size().z));
      if (v == &big) {
        // Three columns and two rows of windows at 50% overlap, every one scored.
        EXPECT_EQ(a.windowScores[0].size(), 4u * 2u);
        EXPECT_DOUBLE_EQ(a.scores[0], patchAggregation(a.windowScores[0]));
      } else {
        EXPECT_EQ(a.windowScores[0].size(), 1u);  // padded to one window
      }
    }
  }
}

TEST_P(ModelsTest, LossesDecrease) {
  auto model = createModel(GetParam(), "tiny");
  // The loss each stage minimises (GAN stages: the critic's, which learns first).
  const std::map<std::string, std::string> watched = {
      {"gan", GetParam() == ModelKind::SparseGan ? "l_re" : "d_loss"}, {"wgan", "d_loss"},
      {"encoder", "e_loss"}, {"ctoc", "ctoc_loss"}, {"density", "density_loss"}};
  auto log = train(*model, 40, 8, 3);
  for (const auto& [stage, steps] : log) {
    if (!watched.count(stage)) continue;
    const std::string& key = watched.at(stage);
    auto mean = [&](std::size_t from, std::size_t to) {
      double s = 0;
      for (std::size_t i = from; i < to; ++i) s += steps[i].values.at(key);
      return s / static_cast<double>(to - from);
    };
    const double first = mean(0, 5), last = mean(steps.size() - 5, steps.size());
    EXPECT_LT(last, first) << stage << "." << key << ": first five " << first << ", last five " << last;
  }
}

TEST_P(ModelsTest, SaveThenLoadGivesIdenticalOutputs) {
  al::TempDir dir;
  auto model = createModel(GetParam(), "tiny");
  train(*model, 2, 4, 4);
  ModelCard card;
  card.description = "test";
  card.threshold = 0.5;
  const std::string path = (fs::path(dir.path()) / "m").string();
  ModelCard written = saveModel(*model, card, path);
  EXPECT_EQ(written.weightsSha256.size(), 64u);
  EXPECT_TRUE(fs::exists(fs::path(dir.path()) / "m.json"));
  EXPECT_TRUE(fs::exists(fs::path(dir.path()) / "m.safetensors"));

  LoadedModel loaded = loadModel(path, "cpu");
  EXPECT_EQ(loaded.card.kind, GetParam());
  EXPECT_EQ(loaded.card.threshold, 0.5);
  EXPECT_EQ(loaded.model->config(), model->config());
  Volume mask;
  Volume images = testImages(*model, 2, true, 9, &mask);
  const Volume* m = model->input().usesMask ? &mask : nullptr;
  Analysis a = model->analyse(images, m, {}), b = loaded.model->analyse(images, m, {});
  ASSERT_EQ(a.scores.size(), b.scores.size());
  for (std::size_t i = 0; i < a.scores.size(); ++i) EXPECT_EQ(a.scores[i], b.scores[i]);
  for (const auto& [n, map] : a.maps)
    EXPECT_EQ(0, std::memcmp(map.bytes(), b.maps.at(n).bytes(), map.byteSize())) << n;
}

// Steps per stage that these tiny networks need on the synthetic data, measured here with 2 CPU
// threads (as CI runs) and 1: AnoGAN 300 (AUC 0.81 / 0.85), Sparse-GAN and A2B-GAN 150 (0.66,
// 0.74 with either), ADM 80 (0.86), f-AnoGAN 800 (0.72 / 0.56: its WGAN must first learn to
// generate the layers, and how well it has after 160 generator steps varies with the threads'
// summation order; 300 steps give 0.34-0.52).
int stepsToLearn(ModelKind kind) {
  switch (kind) {
    case ModelKind::AnoGan: return 300;
    case ModelKind::FAnoGan: return 800;
    case ModelKind::SparseGan: return 150;
    case ModelKind::A2BGan: return 150;
    case ModelKind::Adm: return 80;
  }
  return 100;
}

// The bar each kind's image AUC must clear: the value measured here with these seeds and one
// thread, less a margin for other summation orders. Measured (image / pixel AUC): AnoGAN 0.98 /
// 0.74, f-AnoGAN 0.89 / 0.80, Sparse-GAN 0.72 / 0.74 (difference map), A2B-GAN 0.81 / 0.74, ADM
// 0.88 / 0.97. With the lesions of the training images' size (scale 1) f-AnoGAN measured 0.62
// with one thread and 0.72 with two: too close to chance for a test.
double minImageAuc(ModelKind kind) {
  switch (kind) {
    case ModelKind::AnoGan: return 0.9;
    case ModelKind::FAnoGan: return 0.8;
    case ModelKind::SparseGan: return 0.62;
    case ModelKind::A2BGan: return 0.72;
    case ModelKind::Adm: return 0.8;
  }
  return 0.6;
}

// The map whose pixels the brief-training test ranks: the overlay default, except Sparse-GAN's
// Anomaly Activation Map, which lives on the latent grid (2x2 cells at this test's 64 px) and is
// tested at the paper's 7x7 in SparseGanAam below; here its difference map.
std::string pixelMap(ModelKind kind) {
  if (kind == ModelKind::SparseGan) return "difference";
  return createModel(kind, "tiny")->mapNames().front();
}

TEST_P(ModelsTest, LesionsScoreHigherAfterBriefTraining) {
  // The test lesions are 1.5 times the size of those in the training images' generator (the
  // same random stream otherwise). The OCT lesion is a mid-grey pocket that leaves the patch's
  // intensities alike, so only a network that has learned the healthy layers ranks it high:
  // untrained, every OCT network here scores these lesions *below* healthy patches (AUC 0-0.04).
  // The same check on the untrained network (ADM: with its GMM fitted) is the baseline training
  // must beat. Image AUC, and the pixel AUC of a map (pixelMap) on the lesion images.
  auto aucs = [&](int steps) {
    torch::manual_seed(7);
    auto model = createModel(GetParam(), "tiny");
    train(*model, steps, 16, 11);
    Volume healthyMask, sickMask, lesions;
    Volume healthy = testImages(*model, 24, false, 500, &healthyMask);
    Volume sick = testImages(*model, 24, true, 600, &sickMask, &lesions, 1.5f);
    const bool usesMask = model->input().usesMask;
    const Analysis onSick = model->analyse(sick, usesMask ? &sickMask : nullptr, {});
    return std::pair{auc(model->analyse(healthy, usesMask ? &healthyMask : nullptr, {}).scores, onSick.scores),
                     pixelAuc(onSick.maps.at(pixelMap(GetParam())), lesions, usesMask ? &sickMask : nullptr)};
  };
  const auto [untrained, untrainedPixels] = aucs(0);
  const auto [trained, pixels] = aucs(stepsToLearn(GetParam()));
  RecordProperty("auc", std::to_string(trained));
  RecordProperty("pixel_auc", std::to_string(pixels));
  std::cout << toString(GetParam()) << " on synthetic lesions: image AUC " << trained << " trained, " << untrained
            << " untrained; pixel AUC " << pixels << " trained, " << untrainedPixels << " untrained\n";
  EXPECT_GE(trained, minImageAuc(GetParam())) << "a briefly trained " << displayName(GetParam())
                                              << " should rank lesions above healthy images";
  EXPECT_GE(trained, untrained + 0.1) << "training should be what separates lesions";
  EXPECT_GT(pixels, 0.6) << "the map of a briefly trained " << displayName(GetParam())
                         << " should rank lesion pixels above healthy ones";
}

// Sparse-GAN's Anomaly Activation Map at the paper's latent grid (7x7 at 224 px; the tiny
// widths): after brief training it must rank lesion pixels above healthy ones. Measured with one
// thread: pixel AUC 0.74 trained, 0.46 untrained.
TEST(SparseGanAam, RanksLesionPixelsAboveHealthyOnesAtThePapersLatentGrid) {
  auto pixels = [](int steps) {
    torch::manual_seed(7);
    auto model = createModel(ModelKind::SparseGan, "tiny", nlohmann::json{{"image_size", 224}});
    train(*model, steps, 16, 11);
    Volume lesions;
    Volume sick = octPatches(24, 224, true, 600, &lesions, 1.5f);
    return pixelAuc(model->analyse(sick, nullptr, {}).maps.at("aam"), lesions, nullptr);
  };
  const double untrained = pixels(0), trained = pixels(150);
  std::cout << "Sparse-GAN AAM pixel AUC at 7x7: " << trained << " trained, " << untrained << " untrained\n";
  EXPECT_GT(trained, 0.6);
  EXPECT_GT(trained, untrained + 0.1);
}

INSTANTIATE_TEST_SUITE_P(AllKinds, ModelsTest,
                         ::testing::Values(ModelKind::AnoGan, ModelKind::FAnoGan, ModelKind::SparseGan,
                                           ModelKind::A2BGan, ModelKind::Adm),
                         name);

// ---- model files --------------------------------------------------------------------------

class ModelFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::manual_seed(3);
    model_ = createModel(ModelKind::FAnoGan, "tiny");
    path_ = (fs::path(dir_.path()) / "fanogan").string();
    saveModel(*model_, {}, path_);
  }
  std::string weights() const { return (fs::path(dir_.path()) / "fanogan.safetensors").string(); }
  std::string card() const { return (fs::path(dir_.path()) / "fanogan.json").string(); }
  void expectRefused(const std::string& needle) {
    try {
      loadModel(path_, "cpu");
      FAIL() << "loaded a broken model; expected an error mentioning \"" << needle << "\"";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  }
  al::TempDir dir_;
  std::unique_ptr<AnomalyModel> model_;
  std::string path_;
};

TEST_F(ModelFileTest, LoadsByStemCardOrWeightsPath) {
  EXPECT_NO_THROW(loadModel(path_, "cpu"));
  EXPECT_NO_THROW(loadModel(card(), "cpu"));
  EXPECT_NO_THROW(loadModel(weights(), "cpu"));
  EXPECT_NO_THROW(verifyModel(path_));
  EXPECT_EQ(readModelCard(path_).kind, ModelKind::FAnoGan);
}

TEST_F(ModelFileTest, RefusesTamperedWeights) {
  std::fstream f(weights(), std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(-3, std::ios::end);
  f.put('\x7f');
  f.close();
  expectRefused("SHA-256");
}

TEST_F(ModelFileTest, RefusesTruncatedWeights) {
  fs::resize_file(weights(), fs::file_size(weights()) / 2);
  expectRefused("do not match their card");
}

TEST_F(ModelFileTest, RefusesMissingWeights) {
  fs::remove(weights());
  expectRefused("missing");
}

TEST_F(ModelFileTest, RefusesCardWhoseConfigDoesNotFitTheWeights) {
  std::ifstream in(card());
  nlohmann::json j = nlohmann::json::parse(in);
  in.close();
  j["config"]["dim"] = 8;  // weights were saved with dim 4
  std::ofstream(card()) << j.dump();
  expectRefused("has shape");
}

TEST_F(ModelFileTest, RefusesCardOfAnotherKind) {
  std::ifstream in(card());
  nlohmann::json j = nlohmann::json::parse(in);
  in.close();
  j["kind"] = "anogan";
  j["config_name"] = "tiny";
  j["config"] = createModel(ModelKind::AnoGan, "tiny")->config();
  std::ofstream(card()) << j.dump();
  expectRefused("lack tensor");
}

// A model file is a trust boundary: someone may send a crafted one, with a card whose SHA-256
// matches its weights. Each case gets a refusal naming what is wrong, never an out-of-bounds read
// or an allocation of what the file claims.
class MaliciousModelTest : public ModelFileTest {
 protected:
  // Weights with this safetensors index (and these data bytes), the card's hash updated to match.
  void writeWeights(const std::string& index, const std::string& data, std::uint64_t claimedHeaderLength = 0) {
    std::ofstream out(weights(), std::ios::binary | std::ios::trunc);
    const std::uint64_t n = claimedHeaderLength ? claimedHeaderLength : index.size();
    for (int i = 0; i < 8; ++i) out.put(static_cast<char>((n >> (8 * i)) & 0xFF));
    out << index << data;
    out.close();
    updateHash();
  }
  void updateHash() {
    std::ifstream in(card());
    nlohmann::json j = nlohmann::json::parse(in);
    in.close();
    j["weights"]["sha256"] = sha256File(weights());
    std::ofstream(card()) << j.dump(2);
  }
};

TEST_F(MaliciousModelTest, HeaderLongerThanTheFile) {
  writeWeights("{}", "", 1ull << 40);
  expectRefused("header length");
}

TEST_F(MaliciousModelTest, OverlappingTensors) {
  writeWeights(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
               R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
               std::string(12, '\0'));
  expectRefused("overlap");
}

TEST_F(MaliciousModelTest, OffsetsOutsideTheFile) {
  writeWeights(R"({"a":{"dtype":"F32","shape":[250],"data_offsets":[0,1000]}})", std::string(8, '\0'));
  expectRefused("lies outside the file");
}

TEST_F(MaliciousModelTest, DtypeAndShapeThatDisagreeWithTheBytes) {
  writeWeights(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, '\0'));
  expectRefused("does not match its shape");
  writeWeights(R"({"a":{"dtype":"X99","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0'));
  expectRefused("unsupported dtype");
}

TEST_F(MaliciousModelTest, TenGigabyteTensorIsRefusedBeforeAllocating) {
  writeWeights(R"({"a":{"dtype":"F32","shape":[2684354560],"data_offsets":[0,10737418240]}})", std::string(16, '\0'));
  expectRefused("lies outside the file");
}

TEST_F(MaliciousModelTest, NanWeights) {
  auto tensors = dynamic_cast<const TorchModel&>(*model_).namedTensors();
  ASSERT_FALSE(tensors.empty());
  for (auto& [name, t] : tensors) {
    if (t.is_floating_point() && t.numel() > 0) {
      t = t.clone();
      t.view({-1})[0] = std::numeric_limits<float>::quiet_NaN();
      break;
    }
  }
  writeSafeTensors(weights(), tensors, {{"format", "pt"}});
  updateHash();
  expectRefused("NaN or infinite");
}

TEST_F(MaliciousModelTest, DeeplyNestedTensorIndex) {
  writeWeights(std::string(100000, '[') + std::string(100000, ']'), "");
  expectRefused("nests deeper than");
}

TEST_F(MaliciousModelTest, CardOfMegabytesOrDeeplyNested) {
  std::ifstream in(card());
  nlohmann::json j = nlohmann::json::parse(in);
  in.close();
  j["notes"] = std::string(8 << 20, 'x');
  std::ofstream(card()) << j.dump();
  expectRefused("more than a card's limit of 1 MiB");
  std::ofstream(card()) << std::string(200000, '[') << std::string(200000, ']');
  expectRefused("nests deeper than");
}

TEST_F(ModelFileTest, RefusesNonCards) {
  std::ofstream(card()) << "{\"hello\": 1}";
  expectRefused("not an AnomalyLens model card");
  std::ofstream(card()) << "{not json";
  expectRefused("not valid JSON");
}

TEST(ModelConfig, PresetsAndOverrides) {
  for (ModelKind k : allModelKinds()) {
    EXPECT_EQ(modelKindFromString(toString(k)), k);
    for (const char* preset : {"paper", "lite", "tiny"}) EXPECT_EQ(createModel(k, preset)->configName(), preset);
  }
  EXPECT_EQ(modelKindFromString("f-AnoGAN"), ModelKind::FAnoGan);
  EXPECT_THROW(modelKindFromString("vae"), Error);
  EXPECT_THROW(createModel(ModelKind::AnoGan, "huge"), Error);
  EXPECT_THROW(createModel(ModelKind::AnoGan, "tiny", nlohmann::json{{"no_such", 1}}), Error);
  auto custom = createModel(ModelKind::AnoGan, "tiny", nlohmann::json{{"mapping_steps", 7}});
  EXPECT_EQ(custom->configName(), "custom");
  EXPECT_EQ(custom->config().at("mapping_steps"), 7);
}

// The published sizes: f(x) of 8192 features (AnoGAN, f-AnoGAN), Sparse-GAN's 1024x7x7 latent,
// A2B-GAN's image + mask head and 4x4 PatchGAN output at 256 px, ADM's 3 DR features and K = 6.
TEST(ModelConfig, PaperConfigurationsHaveThePublishedShapes) {
  torch::manual_seed(1);
  const std::map<ModelKind, std::map<std::string, std::vector<int64_t>>> expected = {
      {ModelKind::AnoGan, {{"G", {1, 1, 64, 64}}, {"D.features", {1, 8192}}}},
      {ModelKind::FAnoGan, {{"G", {1, 1, 64, 64}}, {"D.features", {1, 8192}}, {"E", {1, 128}}}},
      {ModelKind::SparseGan, {{"G_en", {1, 1024, 7, 7}}, {"G_de", {1, 1, 224, 224}}, {"aam", {1, 1, 224, 224}}}},
      {ModelKind::A2BGan, {{"G", {1, 2, 256, 256}}, {"D", {1, 1, 4, 4}}}},
      {ModelKind::Adm, {{"Z_ct", {1, 4, 128, 128}}, {"Z_dr", {1, 3, 128, 128}}, {"G_de", {1, 6, 128, 128}}}},
  };
  for (const auto& [kind, shapes] : expected) {
    std::unique_ptr<TorchModel> model(dynamic_cast<TorchModel*>(createModel(kind, "paper").release()));
    const auto out = model->referenceOutputs(model->referenceInputs(1));
    for (const auto& [key, shape] : shapes) {
      ASSERT_TRUE(out.count(key)) << toString(kind) << " " << key;
      EXPECT_EQ(out.at(key).sizes().vec(), shape) << toString(kind) << " " << key;
    }
  }
}

// Bundled models are lite and must stay under 20 MB each (float32 weights).
TEST(ModelConfig, LiteModelsFitTheBundleLimit) {
  for (ModelKind k : allModelKinds()) {
    const long bytes = createModel(k, "lite")->parameterCount() * 4;
    EXPECT_LT(bytes, 20L << 20) << toString(k) << ": " << bytes / (1 << 20) << " MB";
  }
}

TEST(ModelConfig, DescriptionsAgreeWithTheBuiltModels) {
  for (auto kind : allModelKinds())
    for (const char* preset : {"paper", "lite", "tiny"}) {
      const ModelDescription d = describeModel(kind, preset);
      const auto m = createModel(kind, preset);
      SCOPED_TRACE(toString(kind) + " " + preset);
      EXPECT_EQ(d.config, m->config());
      EXPECT_EQ(d.configName, m->configName());
      EXPECT_EQ(toJson(d.input), toJson(m->input()));
      const auto stages = m->stages();
      ASSERT_EQ(d.stages.size(), stages.size());
      for (std::size_t i = 0; i < stages.size(); ++i) {
        EXPECT_EQ(d.stages[i].name, stages[i].name);
        EXPECT_EQ(d.stages[i].description, stages[i].description);
        EXPECT_EQ(d.stages[i].paperIterations, stages[i].paperIterations);
        EXPECT_EQ(d.stages[i].needsMixedSet, stages[i].needsMixedSet);
        EXPECT_EQ(d.stages[i].fitPass, stages[i].fitPass);
      }
    }
  // The checks the networks need are made without them.
  EXPECT_THROW(describeModel(ModelKind::FAnoGan, "lite", {{"image_size", 60}}), Error);
  EXPECT_THROW(describeModel(ModelKind::FAnoGan, "lite", {{"encoder_training", "zz"}}), Error);
  EXPECT_THROW(describeModel(ModelKind::SparseGan, "lite", {{"sparse_kernel", 2}}), Error);
  EXPECT_THROW(describeModel(ModelKind::Adm, "lite", {{"contrasts", {"T1"}}}), Error);
  EXPECT_THROW(describeModel(ModelKind::AnoGan, "lite", {{"no_such_key", 1}}), Error);
  EXPECT_EQ(describeModel(ModelKind::FAnoGan, "lite", {{"batch_size", 8}}).configName, "custom");
}

TEST(ModelConfig, EveryMethodDescribesItselfAndItsPaper) {
  for (ModelKind k : allModelKinds()) {
    const MethodInfo info = methodInfo(k);
    EXPECT_EQ(info.kind, k);
    EXPECT_EQ(info.name, displayName(k).substr(0, info.name.size()));
    for (const std::string* field : {&info.paper, &info.learnsFrom, &info.score, &info.maps, &info.protocol, &info.published})
      EXPECT_FALSE(field->empty()) << toString(k);
  }
  EXPECT_FALSE(methodInfo(ModelKind::A2BGan).needs.empty());
  EXPECT_FALSE(methodInfo(ModelKind::Adm).needs.empty());
}

TEST(ModelAnalysis, RefusesWrongChannelsAndNonFiniteInput) {
  auto model = createModel(ModelKind::FAnoGan, "tiny");
  Volume two(PixelType::Float32, {32, 32, 1}, 2);
  EXPECT_THROW(model->analyse(two, nullptr, {}), Error);
  Volume bad(PixelType::Float32, {32, 32, 1}, 1);
  bad.data<float>()[5] = std::nanf("");
  EXPECT_THROW(model->analyse(bad, nullptr, {}), Error);
}

TEST(ModelAnalysis, CancelStopsTheRun) {
  auto model = createModel(ModelKind::AnoGan, "tiny");
  Volume images = octPatches(40, 32, false, 1);
  RunOptions options;
  options.batchSize = 4;
  int calls = 0;
  options.progress = [&](double) { return ++calls < 3; };
  EXPECT_THROW(model->analyse(images, nullptr, options), Cancelled);
  EXPECT_EQ(calls, 3);
}

TEST(ModelAnalysis, MaskedOutWindowsAreNotScored) {
  auto model = createModel(ModelKind::FAnoGan, "tiny");
  Volume images = octPatches(1, 64, false, 1);
  Volume mask(PixelType::Float32, images.size(), 1);  // all zero: nothing valid
  Analysis a = model->analyse(images, &mask, {});
  EXPECT_TRUE(a.windowScores[0].empty());
  EXPECT_EQ(a.maps.at("residual").valueRange().max, 0.0);
}

// ---- ADM: the GMM stays usable when the features collapse ------------------------------------

TEST(AdmGmm, CovarianceStaysPositiveDefiniteWhenFeaturesCollapseOntoAPlane) {
  // 7-dimensional features that all lie on a 2-dimensional plane: every covariance is singular.
  torch::manual_seed(1);
  const torch::Tensor coords = torch::randn({500, 2}, torch::kDouble);
  const torch::Tensor basis = torch::randn({2, 7}, torch::kDouble);
  const torch::Tensor z = coords.mm(basis) + 3.0;
  const torch::Tensor gamma = torch::softmax(torch::randn({500, 6}, torch::kDouble), 1);
  adm::GmmParameters p = adm::gmmParameters(z, gamma, torch::ones({500}, torch::kDouble));
  const torch::Tensor rawEigen = at::linalg_eigvalsh(p.cov, "L");
  EXPECT_LT(rawEigen.min().item<double>(), 1e-9) << "the test case must really be singular";
  p.cov = adm::guardCovariance(p.cov, 1e-6);
  const torch::Tensor eigen = at::linalg_eigvalsh(p.cov, "L");
  EXPECT_GE(eigen.min().item<double>(), 1e-6 * (1 - 1e-6));
  const torch::Tensor energy = adm::gmmEnergy(z, p);
  EXPECT_TRUE(torch::isfinite(energy).all().item<bool>());
  // Points off the plane are far less likely than points on it.
  const torch::Tensor off = z + torch::randn({500, 7}, torch::kDouble);
  EXPECT_GT(adm::gmmEnergy(off, p).mean().item<double>(), energy.mean().item<double>() + 10);
  // And the loss stays differentiable there.
  torch::Tensor zg = z.clone().requires_grad_(true);
  adm::GmmParameters q = adm::gmmParameters(zg, gamma, torch::ones({500}, torch::kDouble));
  q.cov = adm::guardCovariance(q.cov, 1e-6);
  adm::gmmEnergy(zg, q).mean().backward();
  EXPECT_TRUE(torch::isfinite(zg.grad()).all().item<bool>());
}

TEST(AdmGmm, ModelFitOnConstantImagesGivesFiniteEnergy) {
  torch::manual_seed(2);
  auto model = createModel(ModelKind::Adm, "tiny");
  TrainBatch b;
  b.healthy = Volume(PixelType::Float32, {32, 32, 4}, 4);  // all zeros: every feature identical
  model->trainStep("gmm-fit", b);
  model->finishStage("gmm-fit");
  Analysis a = model->analyse(b.healthy, nullptr, {});
  for (double s : a.scores) EXPECT_TRUE(std::isfinite(s));
  const auto r = a.maps.at("energy").valueRange();
  EXPECT_TRUE(std::isfinite(r.min) && std::isfinite(r.max));
}

TEST(AdmGmm, UnfittedModelRefusesToScore) {
  auto model = createModel(ModelKind::Adm, "tiny");
  Volume images(PixelType::Float32, {32, 32, 1}, 4);
  EXPECT_THROW(model->analyse(images, nullptr, {}), Error);
}

}  // namespace
}  // namespace al::models
