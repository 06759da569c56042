// The training engine on tiny phantom data and tiny models: data sources, the specification,
// a whole run to a model with a measured card, resume after a stop giving the very same model
// as an uninterrupted run, pause, and refusals of data a method cannot use.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "TestPaths.h"
#include "TestPhantoms.h"
#include "errors/Error.h"
#include "models/ModelFile.h"
#include "phantom/PhantomStudy.h"
#include "training/DataCheck.h"
#include "training/DataSet.h"
#include "training/Pipeline.h"
#include "training/Trainer.h"

using namespace al;
using namespace al::training;
namespace fs = std::filesystem;

namespace {

// Ten small OCT volumes (4 B-scans each): 4 healthy train, 1+2 validation, 1+2 test.
const std::string& octData() {
  static TempDir dir;
  static const std::string path = writeTestPhantoms(dir.file("oct"), PhantomKind::Oct, 6, 4, 21);
  return path;
}

TrainingSpec tinySpec(const std::string& out) {
  TrainingSpec s;
  s.model = "fanogan";
  s.config = "tiny";
  s.healthy = octData();
  s.validation = octData();
  s.test = octData();
  s.out = out;
  s.iterations = {{"wgan", 6}, {"encoder", 4}};
  s.checkpointEvery = 2;
  s.validateEvery = 2;
  s.validationImages = 8;
  s.seed = 5;
  return s;
}

void write(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

}  // namespace

TEST(DataSet, ReadsCsvManifestsWithSplitsAndLabels) {
  TempDir d;
  write(d.file("a.nii.gz"), "x");
  write(d.file("manifest.csv"),
        "file,label,mask,split\n\"a.nii.gz\",0,,train\nb.nii.gz,abnormal,b_mask.nii.gz,test\nc.nii.gz,,,val\n");
  const DataSet all = openDataSet(d.path());
  ASSERT_EQ(all.cases.size(), 3u);
  EXPECT_EQ(all.cases[0].image, d.file("a.nii.gz"));
  EXPECT_EQ(all.cases[1].label, 1);
  EXPECT_EQ(all.cases[1].mask, d.file("b_mask.nii.gz"));
  EXPECT_EQ(all.cases[2].label, -1);
  const DataSet test = openDataSet(d.file("manifest.csv"), "test");
  ASSERT_EQ(test.cases.size(), 1u);
  EXPECT_EQ(test.cases[0].id, "b");
  EXPECT_EQ(openDataSet(d.path(), "val", 0).cases[0].label, 0) << "unlabelled cases take the default";
  EXPECT_THROW(openDataSet(d.path(), "nosuchsplit"), FileError);
}

TEST(DataSet, RefusesBadManifestsNamingTheFile) {
  TempDir d;
  write(d.file("m.csv"), "file,label\nx.nii.gz,7\n");
  try {
    openDataSet(d.file("m.csv"));
    FAIL() << "a label of 7 was accepted";
  } catch (const FileError& e) {
    EXPECT_NE(e.message().find("m.csv"), std::string::npos);
    EXPECT_NE(e.message().find("label"), std::string::npos);
  }
  write(d.file("bad.json"), "{\"cases\": 3}");
  EXPECT_THROW(openDataSet(d.file("bad.json")), FileError);
  EXPECT_THROW(openDataSet(d.file("missing")), FileError);
  fs::create_directories(d.file("empty"));
  EXPECT_THROW(openDataSet(d.file("empty")), FileError);
}

TEST(DataSet, FolderOfVolumesAndContrastSets) {
  TempDir d;
  write(d.file("one.nii.gz"), "x");
  write(d.file("two.mha"), "x");
  write(d.file("notes.txt"), "x");
  const DataSet ds = openDataSet(d.path(), "", 0);
  ASSERT_EQ(ds.cases.size(), 2u);
  EXPECT_EQ(ds.cases[0].id, "one");
  fs::create_directories(d.file("brats"));
  for (const char* n : {"p_t1.nii.gz", "p_t1ce.nii.gz", "p_t2.nii.gz", "p_flair.nii.gz", "p_seg.nii.gz"}) write(d.file(std::string("brats/") + n), "x");
  const DataSet b = openDataSet(d.file("brats"));
  ASSERT_EQ(b.cases.size(), 1u) << "a contrast set is one case";
  EXPECT_EQ(b.cases[0].mask, d.file("brats/p_seg.nii.gz"));
}

TEST(TrainingSpec, RoundTripsAndRefusesUnknownKeys) {
  TrainingSpec s = tinySpec("/tmp/x");
  s.overrides = {{"batch_size", 8}};
  const TrainingSpec back = TrainingSpec::fromJson(s.toJson(), "spec.json");
  EXPECT_EQ(back.toJson(), s.toJson());
  nlohmann::json j = s.toJson();
  j["learning_rate"] = 1;
  EXPECT_THROW(TrainingSpec::fromJson(j, "spec.json"), Error);
}

TEST(Pipeline, LabelsBScansFromTheLesionMask) {
  const DataSet val = openDataSet(octData(), "val");
  auto model = models::createModel(models::ModelKind::FAnoGan, "tiny");
  const Pipeline p = Pipeline::forInput(model->input());
  int abnormal = 0, healthy = 0;
  for (const auto& c : val.cases) {
    const Prepared prep = p.prepare(c);
    EXPECT_EQ(prep.images.size().y, 128);
    for (int l : prep.sliceLabels) abnormal += l == 1, healthy += l == 0;
    if (c.label == 0) {
      for (int l : prep.sliceLabels) EXPECT_EQ(l, 0);
    }
  }
  EXPECT_GT(abnormal, 0);
  EXPECT_GT(healthy, 0);
}

TEST(Trainer, TrainsCalibratesAndWritesAMeasuredCard) {
  TempDir d;
  std::vector<ValidationPoint> points;
  long lastDone = 0;
  TrainingCallbacks cb;
  cb.validated = [&](const ValidationPoint& v) { points.push_back(v); };
  cb.progress = [&](const TrainingProgress& p) { lastDone = p.done; };
  TrainingControl control;
  const TrainingOutcome out = Trainer(tinySpec(d.file("m")), cb).run(control);
  ASSERT_TRUE(out.finished);
  EXPECT_EQ(lastDone, 10);
  EXPECT_FALSE(fs::exists(checkpointPathFor(d.file("m")))) << "a finished run leaves no checkpoint";
  EXPECT_FALSE(points.empty());
  const models::ModelCard card = models::readModelCard(d.file("m"));
  ASSERT_TRUE(card.threshold.has_value());
  EXPECT_EQ(card.thresholdMethod, "youden");
  EXPECT_TRUE(card.metrics.contains("validation"));
  EXPECT_TRUE(card.metrics["test"].contains("image_auc"));
  EXPECT_TRUE(card.metrics["test"].contains("pixel_auc"));
  EXPECT_TRUE(card.calibration.contains("healthy_map"));
  EXPECT_EQ(card.preprocessing.value("modality", ""), "OCT");
  EXPECT_NO_THROW(models::verifyModel(d.file("m")));
}

TEST(Trainer, AResumedRunEndsWithTheSameModelAsAnUninterruptedOne) {
  TempDir d;
  TrainingControl straight;
  const auto a = Trainer(tinySpec(d.file("a")), {}).run(straight);
  ASSERT_TRUE(a.finished);

  // Stop after the 5th iteration (inside the first stage), then resume.
  TrainingControl control;
  TrainingCallbacks cb;
  cb.progress = [&](const TrainingProgress& p) {
    if (p.phase == "training" && p.done == 5) control.cancel();
  };
  const auto stopped = Trainer(tinySpec(d.file("b")), cb).run(control);
  ASSERT_FALSE(stopped.finished);
  ASSERT_TRUE(fs::exists(checkpointPathFor(d.file("b"))));
  long firstDone = -1;
  TrainingCallbacks cb2;
  cb2.progress = [&](const TrainingProgress& p) {
    if (firstDone < 0 && p.phase == "training" && p.done > 0) firstDone = p.done;
  };
  TrainingControl again;
  const auto b = Trainer(tinySpec(d.file("b")), cb2).run(again, true);
  ASSERT_TRUE(b.finished);
  EXPECT_EQ(firstDone, 6) << "the resumed run continues with the iteration after the checkpoint";
  ASSERT_EQ(a.history.size(), 10u);
  EXPECT_EQ(a.history, b.history) << "the resumed run's losses differ from the uninterrupted run's";
  EXPECT_EQ(a.card.weightsSha256, b.card.weightsSha256) << "resume changed the training";
  EXPECT_EQ(a.card.threshold, b.card.threshold);
}

TEST(Trainer, RefusesACheckpointOfAnotherRun) {
  TempDir d;
  TrainingControl control;
  TrainingCallbacks cb;
  cb.progress = [&](const TrainingProgress& p) {
    if (p.done == 3) control.cancel();
  };
  ASSERT_FALSE(Trainer(tinySpec(d.file("m")), cb).run(control).finished);
  TrainingSpec other = tinySpec(d.file("m"));
  other.seed = 6;
  TrainingControl c2;
  EXPECT_THROW(Trainer(other, {}).run(c2, true), Error);
}

TEST(Trainer, PauseStopsTheIterationsUntilResumed) {
  TempDir d;
  TrainingControl control;
  std::atomic<long> done{0};
  std::atomic<bool> pausedSeen{false};
  TrainingCallbacks cb;
  cb.progress = [&](const TrainingProgress& p) {
    done = p.done;
    if (p.done == 2 && !pausedSeen) {
      pausedSeen = true;
      control.pause();
    }
  };
  std::thread t([&] { Trainer(tinySpec(d.file("m")), cb).run(control); });
  while (!pausedSeen) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(done.load(), 2) << "iterations ran while paused";
  control.resume();
  t.join();
  EXPECT_EQ(done.load(), 10);
  EXPECT_TRUE(fs::exists(models::modelCardPath(d.file("m"))));
}

TEST(Trainer, RefusesDataTheMethodCannotUse) {
  TempDir d;
  TrainingSpec s = tinySpec(d.file("m"));
  s.model = "a2bgan";  // needs a mixed set
  s.iterations.clear();
  TrainingControl c;
  try {
    Trainer(s, {}).run(c);
    FAIL() << "A2B-GAN trained without a mixed set";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("mixed"), std::string::npos);
  }
  TrainingSpec empty = tinySpec(d.file("m"));
  fs::create_directories(d.file("nothing"));
  empty.healthy = d.file("nothing");
  EXPECT_THROW(Trainer(empty, {}).run(c), FileError);
  TrainingSpec stage = tinySpec(d.file("m"));
  stage.iterations["gan"] = 3;  // f-AnoGAN has wgan and encoder stages
  EXPECT_THROW(Trainer(stage, {}).run(c), Error);
}

TEST(Trainer, AdmTrainsOnMultiContrastMriWithItsGmmFitPass) {
  static TempDir dir;
  const std::string mri = writeTestPhantoms(dir.file("mri"), PhantomKind::Mri, 4, 2, 23);
  TrainingSpec s;
  s.model = "adm";
  s.config = "tiny";
  s.healthy = s.validation = s.test = mri;
  s.out = dir.file("adm");
  s.iterations = {{"ctoc", 3}, {"density", 3}};
  s.evaluationImages = 40;
  std::vector<std::string> stagesSeen;
  TrainingCallbacks cb;
  cb.progress = [&](const TrainingProgress& p) {
    if (p.phase == "training" && (stagesSeen.empty() || stagesSeen.back() != p.stage)) stagesSeen.push_back(p.stage);
  };
  TrainingControl control;
  const TrainingOutcome out = Trainer(s, cb).run(control);
  ASSERT_TRUE(out.finished);
  EXPECT_EQ(stagesSeen, (std::vector<std::string>{"ctoc", "density", "gmm-fit"}));
  EXPECT_EQ(out.card.preprocessing.value("modality", ""), "MR");
  EXPECT_TRUE(out.card.metrics["test"].contains("pixel_auc"));
  EXPECT_EQ(out.card.input["channel_names"].size(), 4u);
  // The slice score was chosen on validation and is what the card's model scores with.
  const auto& choice = out.card.metrics["validation"]["score_choice"];
  ASSERT_TRUE(choice.contains("chosen")) << out.card.metrics.dump();
  EXPECT_EQ(out.card.config.at("slice_score"), choice.at("chosen"));
  EXPECT_EQ(choice.at("validation_auc").size(), 3u);
}

// Lesion slices of training cases give their tissue away from the lesions: with a margin ADM
// trains on more images, none of their lesion pixels nor those near them, and the rest of their
// brain; a model that learns on whole patches cannot leave pixels out and refuses a margin.
TEST(Trainer, LesionMarginTrainsAdmOnTheTissueAroundLesions) {
  static TempDir dir;
  const std::string mri = writeTestPhantoms(dir.file("mri"), PhantomKind::Mri, 2, 4, 29);
  nlohmann::json manifest;
  std::ifstream(mri + "/manifest.json") >> manifest;
  for (auto& c : manifest["cases"])
    if (c["split"] == "test") c["split"] = "train";  // lesion cases train too
  std::ofstream(mri + "/manifest.json") << manifest.dump(2);

  const DataSet ds = openDataSet(mri, "train");
  auto adm = models::createModel(models::ModelKind::Adm, "tiny");
  const Pipeline pipeline = Pipeline::forInput(adm->input(), {{"modality", "MR"}});
  int checked = 0;
  for (const auto& c : ds.cases) {
    const Prepared p = pipeline.prepare(c);
    if (!p.lesions) continue;
    const Size3 s = p.images.size();
    const std::int64_t plane = s.x * s.y;
    for (int i = 0; i < s.z; ++i) {
      if (p.sliceLabels[static_cast<std::size_t>(i)] != 1) continue;
      const std::vector<std::uint8_t> t = tissueAwayFromLesions(p, i, 3.0);
      const std::uint8_t* les = p.lesions->data<std::uint8_t>() + i * plane;
      const std::uint8_t* valid = p.valid.data<std::uint8_t>() + i * plane;
      long kept = 0, validCount = 0;
      for (std::int64_t k = 0; k < plane; ++k) {
        if (les[k]) EXPECT_EQ(t[static_cast<std::size_t>(k)], 0) << "a lesion pixel is left in";
        if (!valid[k]) EXPECT_EQ(t[static_cast<std::size_t>(k)], 0) << "a pixel outside the brain is let in";
        kept += t[static_cast<std::size_t>(k)] != 0;
        validCount += valid[k] != 0;
        // The lesion's neighbours (one pixel, well within 3 mm) are out as well.
        const std::int64_t x = k % s.x, y = k / s.x;
        if (les[k] && x + 1 < s.x) EXPECT_EQ(t[static_cast<std::size_t>(k + 1)], 0);
        if (les[k] && y + 1 < s.y) EXPECT_EQ(t[static_cast<std::size_t>(k + s.x)], 0);
      }
      EXPECT_GT(kept, validCount / 2) << "most of the brain of a lesion slice stays";
      EXPECT_LT(kept, validCount);
      ++checked;
    }
  }
  EXPECT_GT(checked, 0) << "the phantoms have lesion slices";

  auto healthyImages = [&](double margin) {
    TrainingSpec s;
    s.model = "adm";
    s.config = "tiny";
    s.healthy = s.validation = mri;
    s.out = dir.file("adm-" + std::to_string(margin));
    s.iterations = {{"ctoc", 1}, {"density", 1}};
    s.evaluationImages = 8;
    s.lesionMarginMm = margin;
    int images = -1;
    TrainingCallbacks cb;
    cb.log = [&](const std::string& line) {
      if (line.rfind("training images: ", 0) == 0) images = std::stoi(line.substr(17));
    };
    TrainingControl control;
    const TrainingOutcome out = Trainer(s, cb).run(control);
    EXPECT_TRUE(out.finished);
    return std::pair{images, out.card.calibration["healthy_map"].value("pixels", 0L)};
  };
  const auto [without, calibratedWithout] = healthyImages(-1);
  const auto [with, calibratedWith] = healthyImages(3.0);
  EXPECT_GT(without, 0);
  EXPECT_GT(with, without) << "the lesion slices' tissue adds training images";
  // The map's healthy range is calibrated on healthy tissue as trained on: the validation
  // lesion slices' tissue away from lesions counts too.
  EXPECT_GT(calibratedWith, calibratedWithout);

  TrainingSpec patches = tinySpec(dir.file("f"));
  patches.lesionMarginMm = 3;
  TrainingControl control;
  try {
    Trainer(patches, {}).run(control);
    FAIL() << "f-AnoGAN took a lesion margin it cannot apply";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("mask"), std::string::npos) << e.message();
  }
}

TEST(Trainer, AStoppedRunIsFoundWithWhereItStoodAndDiscarded) {
  TempDir d;
  fs::create_directories(d.file("runs/one"));
  TrainingControl control;
  TrainingCallbacks cb;
  cb.progress = [&](const TrainingProgress& p) {
    if (p.phase == "training" && p.done == 7) control.cancel();
  };
  const auto stopped = Trainer(tinySpec(d.file("runs/one/m")), cb).run(control);
  ASSERT_FALSE(stopped.finished);
  EXPECT_EQ(stopped.history.size(), 7u);
  const auto runs = findInterruptedRuns(d.file("runs"));
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].checkpoint, checkpointPathFor(d.file("runs/one/m")));
  EXPECT_EQ(runs[0].done, 7);
  EXPECT_EQ(runs[0].total, 10);
  EXPECT_EQ(runs[0].stage, "encoder");
  EXPECT_EQ(runs[0].iteration, 1);
  EXPECT_EQ(runs[0].spec.seed, 5u);
  EXPECT_FALSE(runs[0].savedAt.empty());

  writeLossHistory(d.file("losses.csv"), stopped.history);
  std::ifstream in(d.file("losses.csv"));
  std::string header, line;
  std::getline(in, header);
  EXPECT_EQ(header.rfind("stage,iteration,", 0), 0u) << header;
  int rows = 0;
  while (std::getline(in, line)) ++rows;
  EXPECT_EQ(rows, 7);

  discardCheckpoint(runs[0].checkpoint);
  EXPECT_TRUE(findInterruptedRuns(d.file("runs")).empty());
  EXPECT_FALSE(fs::exists(runs[0].checkpoint + ".json"));
}

namespace {
DataReport check(const std::string& source, DataRole role, const std::string& model, const std::string& config = "tiny") {
  auto m = models::createModel(models::modelKindFromString(model), config);
  return checkTrainingData(source, role, Pipeline::forInput(m->input()));
}
bool mentions(const DataReport& r, const std::string& what) {
  for (const auto& p : r.problems)
    if (p.find(what) != std::string::npos) return true;
  return false;
}
const std::string& mriData() {
  static TempDir dir;
  static const std::string path = writeTestPhantoms(dir.file("mri"), PhantomKind::Mri, 2, 1, 24);
  return path;
}
}  // namespace

TEST(DataCheck, CountsUsableDataAndMakesThumbnails) {
  const DataReport r = check(octData(), DataRole::Healthy, "fanogan");
  EXPECT_TRUE(r.usable()) << (r.problems.empty() ? "" : r.problems[0]);
  EXPECT_EQ(r.cases, 4);  // the manifest's train split
  EXPECT_EQ(r.images, 16);
  ASSERT_FALSE(r.thumbnails.empty());
  EXPECT_LE(r.thumbnails[0].image.size().x, 128);
  const DataReport v = check(octData(), DataRole::Validation, "fanogan");
  EXPECT_TRUE(v.usable());
  EXPECT_GT(v.abnormalCases, 0);
  const DataReport mri = check(mriData(), DataRole::Healthy, "adm");
  EXPECT_TRUE(mri.usable()) << (mri.problems.empty() ? "" : mri.problems[0]);
}

TEST(DataCheck, RefusesDataTheMethodCannotUseWithTheReason) {
  EXPECT_TRUE(mentions(check(mriData(), DataRole::Healthy, "fanogan"), "channels")) << "MRI contrasts for an OCT model";
  EXPECT_TRUE(mentions(check(octData(), DataRole::Healthy, "adm"), "contrast")) << "OCT for ADM";
  TempDir d;
  fs::create_directories(d.file("bad"));
  write(d.file("bad/scan.nii"), "not a NIfTI file at all");
  const DataReport bad = check(d.file("bad"), DataRole::Healthy, "fanogan");
  EXPECT_TRUE(mentions(bad, "scan.nii")) << "an unreadable file is named";
  EXPECT_FALSE(bad.usable());
  EXPECT_TRUE(mentions(check(d.file("missing"), DataRole::Healthy, "fanogan"), "missing"));
  EXPECT_FALSE(check("", DataRole::Mixed, "a2bgan").usable());
  // Too few images: one case of four B-scans.
  write(d.file("one.csv"), "file,label\n" + openDataSet(octData(), "train").cases[0].image + ",0\n");
  const DataReport few = check(d.file("one.csv"), DataRole::Healthy, "fanogan");
  EXPECT_TRUE(mentions(few, "at least")) << (few.problems.empty() ? "usable" : few.problems[0]);
}

TEST(Trainer, SamplesDuringTrainingLeaveTheLossesUnchanged) {
  TempDir d;
  TrainingControl plain;
  const auto a = Trainer(tinySpec(d.file("a")), {}).run(plain);
  ASSERT_TRUE(a.finished);
  int samples = 0;
  TrainingCallbacks cb;
  cb.wantSamples = [] { return true; };  // after every iteration of the scoring stage
  cb.samples = [&](const Volume& images, const models::Analysis& analysis) {
    ++samples;
    EXPECT_EQ(images.size().z, static_cast<std::int64_t>(analysis.scores.size()));
  };
  TrainingControl withSamples;
  const auto b = Trainer(tinySpec(d.file("b")), cb).run(withSamples);
  ASSERT_TRUE(b.finished);
  EXPECT_GE(samples, 3 + 2);  // encoder iterations 1-3, and the validations
  EXPECT_EQ(a.history, b.history) << "analysing samples mid-training changed the losses";
  EXPECT_EQ(a.card.weightsSha256, b.card.weightsSha256);
}
