// anomalylens-cli as a user runs it.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include "../core/HostileDicom.h"
#include "../core/TestPaths.h"
#include "models/AnomalyModel.h"
#include "models/ModelFile.h"
#include "RunCommand.h"

using namespace al;

namespace {
const std::string kCli = ANOMALYLENS_CLI;
}

TEST(Cli, VersionNamesTheProductAndTheLibTorchItRuns) {
  const auto r = runCommand(shellQuote(kCli) + " --version");
  ASSERT_EQ(r.exitCode, 0) << r.output;
  EXPECT_NE(r.output.find("AnomalyLens 0."), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("LibTorch"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("CUDA"), std::string::npos) << r.output;
}

TEST(Cli, PhantomThenInfoJsonDescribesTheVolume) {
  TempDir dir;
  const auto made = runCommand(shellQuote(kCli) + " phantom oct --bscans 5 --seed 7 --out " + shellQuote(dir.path()), true);
  ASSERT_EQ(made.exitCode, 0) << made.output;
  const std::string file = dir.file("oct_0000.nii.gz");
  ASSERT_TRUE(std::filesystem::exists(file));
  ASSERT_TRUE(std::filesystem::exists(dir.file("manifest.csv")));

  const auto r = runCommand(shellQuote(kCli) + " info --json " + shellQuote(file));
  ASSERT_EQ(r.exitCode, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["size"], nlohmann::json::array({512, 496, 5}));
  EXPECT_EQ(j["pixel_type"], "uint8");
  EXPECT_EQ(j["format"], "NIfTI");
  EXPECT_NEAR(j["spacing"][1].get<double>(), 1.92 / 496, 1e-6);
  EXPECT_LE(j["value_range"][0].get<double>(), 5.0);
  EXPECT_GE(j["value_range"][1].get<double>(), 200.0);

  const auto text = runCommand(shellQuote(kCli) + " info " + shellQuote(file));
  ASSERT_EQ(text.exitCode, 0);
  EXPECT_NE(text.output.find("512 x 496 x 5"), std::string::npos) << text.output;
}

TEST(Cli, PhantomMriAsDicomWritesOneSeriesPerContrastAndAManifest) {
  TempDir dir;
  const auto made = runCommand(shellQuote(kCli) + " phantom mri --healthy 1 --anomalous 1 --seed 3 --format dicom --out " +
                                   shellQuote(dir.path()),
                               true);
  ASSERT_EQ(made.exitCode, 0) << made.output;
  std::ifstream in(dir.file("manifest.json"));
  const auto manifest = nlohmann::json::parse(in);
  ASSERT_EQ(manifest["cases"].size(), 2u);
  EXPECT_EQ(manifest["kind"], "mri");
  EXPECT_EQ(manifest["cases"][0]["label"], 0);
  EXPECT_EQ(manifest["cases"][0]["split"], "train");
  EXPECT_EQ(manifest["cases"][1]["label"], 1);
  const std::string flair = dir.file(manifest["cases"][1]["contrasts"]["FLAIR"].get<std::string>());
  const auto r = runCommand(shellQuote(kCli) + " info --json " + shellQuote(flair));
  ASSERT_EQ(r.exitCode, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);  // a folder: the list of its series
  ASSERT_EQ(j["series"].size(), 1u);
  EXPECT_EQ(j["series"][0]["size"], nlohmann::json::array({128, 128, 96}));
  EXPECT_EQ(j["series"][0]["metadata"]["modality"], "MR");
  EXPECT_EQ(j["series"][0]["metadata"]["series_description"], "T2 FLAIR");
  // A bad option is refused with the reason, not half-done.
  const auto bad = runCommand(shellQuote(kCli) + " phantom oct --format jpeg --out " + shellQuote(dir.file("x")), true);
  EXPECT_NE(bad.exitCode, 0);
  EXPECT_NE(bad.output.find("jpeg"), std::string::npos) << bad.output;
}

TEST(Cli, InfoOnAFolderListsEverySeriesAndTheFilesThatFailed) {
  TempDir dir;
  ASSERT_EQ(runCommand(shellQuote(kCli) + " phantom mri --healthy 1 --anomalous 0 --seed 9 --format dicom --out " + shellQuote(dir.path())).exitCode, 0);
  const std::string study = dir.file("mri_0000");
  // Damage one T2 slice (cut inside its pixel data) and add a file that only looks like DICOM.
  const std::string cut = study + "/T2/IM00010.dcm";
  std::filesystem::resize_file(cut, std::filesystem::file_size(cut) - 1000);
  {
    std::ofstream fake(study + "/fake.dcm", std::ios::binary);
    fake << std::string(128, '\0') << "DICM" << std::string(40, '\xff');
  }
  const auto r = runCommand(shellQuote(kCli) + " info --json " + shellQuote(study));
  ASSERT_EQ(r.exitCode, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  ASSERT_EQ(j["series"].size(), 4u);
  int failed = 0;
  for (const auto& s : j["series"]) {
    EXPECT_EQ(s["files"], 96);
    if (s.contains("error")) {
      ++failed;
      EXPECT_EQ(s["metadata"]["series_description"], "T2 TSE");
      EXPECT_NE(s["error"].get<std::string>().find("IM00010.dcm"), std::string::npos) << s["error"];
    } else {
      EXPECT_EQ(s["size"], nlohmann::json::array({128, 128, 96}));
      EXPECT_NEAR(s["spacing"][2].get<double>(), 1.5, 1e-6);
    }
  }
  EXPECT_EQ(failed, 1);
  ASSERT_EQ(j["errors"].size(), 1u);
  EXPECT_NE(j["errors"][0]["file"].get<std::string>().find("fake.dcm"), std::string::npos);
  const auto text = runCommand(shellQuote(kCli) + " info " + shellQuote(study));
  EXPECT_NE(text.output.find("4 series"), std::string::npos) << text.output;
  std::filesystem::create_directories(dir.file("empty"));
  const auto empty = runCommand(shellQuote(kCli) + " info " + shellQuote(dir.file("empty")), true);
  EXPECT_EQ(empty.exitCode, 1);
  EXPECT_NE(empty.output.find("no readable DICOM image series"), std::string::npos) << empty.output;
}

TEST(Cli, ContrastsGroupsADicomStudyAndWritesOneFourDFile) {
  TempDir dir;
  ASSERT_EQ(runCommand(shellQuote(kCli) + " phantom mri --healthy 1 --anomalous 0 --format dicom --out " + shellQuote(dir.path())).exitCode, 0);
  const std::string out = dir.file("stacked.nii.gz");
  const auto r = runCommand(shellQuote(kCli) + " contrasts " + shellQuote(dir.file("mri_0000")) + " --out " + shellQuote(out), true);
  ASSERT_EQ(r.exitCode, 0) << r.output;
  EXPECT_NE(r.output.find("FLAIR: series 4 \"T2 FLAIR\""), std::string::npos) << r.output;
  const auto info = runCommand(shellQuote(kCli) + " info --json " + shellQuote(out));
  const auto j = nlohmann::json::parse(info.output);
  EXPECT_EQ(j["channels"], 4);
  const auto bad = runCommand(shellQuote(kCli) + " contrasts " + shellQuote(dir.file("mri_0000")) + " --assign nonsense", true);
  EXPECT_EQ(bad.exitCode, 1);
  EXPECT_NE(bad.output.find("SERIES_UID="), std::string::npos) << bad.output;
}

TEST(Cli, InfoOnRealNiftiBrain) {
  const std::string path = realDataPath("nifti/colin27/ch2bet.nii.gz");
  if (path.empty()) GTEST_SKIP() << "shared/realdata not found: skipping the Colin27 check";
  const auto r = runCommand(shellQuote(kCli) + " info --json " + shellQuote(path));
  ASSERT_EQ(r.exitCode, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["size"].size(), 3u);
  EXPECT_GT(j["value_range"][1].get<double>(), 0.0);
}

TEST(Cli, BadInputExitsNonZeroNamingTheFile) {
  TempDir dir;
  const std::string bad = dir.file("garbage.dcm");
  std::ofstream(bad) << "not DICOM at all";
  const auto r = runCommand(shellQuote(kCli) + " info " + shellQuote(bad), true);
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.output.find("garbage.dcm"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("terminate"), std::string::npos) << r.output;  // no uncaught exception
  const auto missing = runCommand(shellQuote(kCli) + " info /nonexistent/scan.nii", true);
  EXPECT_EQ(missing.exitCode, 1);
  EXPECT_NE(missing.output.find("/nonexistent/scan.nii: no such file"), std::string::npos) << missing.output;
}

TEST(Cli, HostileFilesGetAnErrorNamingTheFileNeverACrash) {
  // Each once crashed, aborted, allocated what its header claimed or failed inside the JSON
  // library: now `info` exits 0 or 1 (never a signal) and names the file.
  TempDir dir;
  auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(dir.file(name), std::ios::binary) << bytes;
    return dir.file(name);
  };
  std::vector<std::pair<std::string, std::string>> files = {
      {write("nested.dcm", hostile::nestedDicom(200000, false)), "nest more than"},
      {write("lying.dcm", hostile::imageDicom(65535, 65535, "1000")), "memory budget"},
      {write("short.dcm", hostile::imageDicom(640, 640, "3")), "pixel data holds"},
  };
  for (const char* real : {"dicom/pydicom-data/liver_j2k.dcm", "dicom/pydicom-data/liver_nonbyte_aligned_j2k.dcm"}) {
    if (const std::string path = realDataPath(real); !path.empty()) files.emplace_back(path, "");
  }
  for (const auto& [path, reason] : files) {
    const auto r = runCommand(shellQuote(kCli) + " info --json " + shellQuote(path), true);
    if (reason.empty()) {
      EXPECT_EQ(r.exitCode, 0) << path << ": " << r.output;  // the two GDCM used to abort on
      continue;
    }
    EXPECT_EQ(r.exitCode, 1) << path << ": " << r.output;
    EXPECT_NE(r.output.find(path), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(reason), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("bad_alloc"), std::string::npos) << r.output;
  }
  // Text in no declared character set: info --json prints valid JSON, the bytes marked.
  const std::string latin1 = write("latin1.dcm", hostile::imageDicom(64, 64, "", 64 * 64, "M\xFCller"));
  const auto r = runCommand(shellQuote(kCli) + " info --json " + shellQuote(latin1));
  ASSERT_EQ(r.exitCode, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_NE(j.dump().find("M\xEF\xBF\xBDller"), std::string::npos) << r.output;
}

TEST(Cli, ModelsMethodsListsTheFiveWithTheirPapersAndSizes) {
  const auto r = runCommand(shellQuote(kCli) + " models methods --json");
  ASSERT_EQ(r.exitCode, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  ASSERT_EQ(j.size(), 5u);
  std::vector<std::string> kinds;
  for (const auto& m : j) {
    kinds.push_back(m["kind"]);
    EXPECT_FALSE(m["paper"].get<std::string>().empty());
    EXPECT_LT(m["presets"]["lite"]["parameters"].get<long>(), m["presets"]["paper"]["parameters"].get<long>());
  }
  EXPECT_EQ(kinds, (std::vector<std::string>{"anogan", "fanogan", "sparsegan", "a2bgan", "adm"}));
  EXPECT_EQ(j[1]["presets"]["paper"]["input"], "64x64x1");
}

TEST(Cli, ModelsVerifyAndInfoReadAModelAndRefuseATamperedOne) {
  TempDir dir;
  al::models::saveModel(*al::models::createModel(al::models::ModelKind::SparseGan, "tiny"), {}, dir.file("sg"));
  const auto ok = runCommand(shellQuote(kCli) + " models verify " + shellQuote(dir.file("sg")));
  EXPECT_EQ(ok.exitCode, 0) << ok.output;
  EXPECT_NE(ok.output.find("OK"), std::string::npos) << ok.output;
  const auto info = runCommand(shellQuote(kCli) + " models info --json " + shellQuote(dir.file("sg.json")));
  ASSERT_EQ(info.exitCode, 0) << info.output;
  EXPECT_EQ(nlohmann::json::parse(info.output)["kind"], "sparsegan");
  {
    std::fstream f(dir.file("sg.safetensors"), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x55');
  }
  const auto bad = runCommand(shellQuote(kCli) + " models verify " + shellQuote(dir.file("sg")), true);
  EXPECT_EQ(bad.exitCode, 1);
  EXPECT_NE(bad.output.find("sg.safetensors"), std::string::npos) << bad.output;
  EXPECT_NE(bad.output.find("SHA-256"), std::string::npos) << bad.output;
}

// ---- train, infer, eval, models list: the whole loop a researcher runs, on tiny data ----------

namespace {

// Ten small OCT volumes (4 B-scans) with a manifest; made once.
const std::string& tinyOct() {
  static TempDir dir;
  static const std::string path = [] {
    const std::string out = dir.file("oct");
    runCommand(shellQuote(kCli) + " phantom oct --healthy 6 --anomalous 4 --bscans 4 --seed 21 --out " + shellQuote(out));
    return out;
  }();
  return path;
}

std::string tinyTrain(const std::string& out) {
  return shellQuote(kCli) + " train --model fanogan --config tiny --healthy " + shellQuote(tinyOct()) + " --val " +
         shellQuote(tinyOct()) + " --test " + shellQuote(tinyOct()) + " --out " + shellQuote(out);
}

nlohmann::json readJson(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

bool isPng(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[8] = {};
  in.read(magic, 8);
  return in && std::string(magic + 1, 3) == "PNG";
}

}  // namespace

TEST(Cli, TrainInferEvalAndListATinyModel) {
  TempDir dir;
  const std::string model = dir.file("tiny-fanogan");
  const auto trained = runCommand(tinyTrain(model) + " --stage-iterations wgan=4 encoder=2 --validate-every 2", true);
  ASSERT_EQ(trained.exitCode, 0) << trained.output;
  EXPECT_NE(trained.output.find("progress: wgan"), std::string::npos) << "plain progress lines when not on a terminal";
  const auto card = readJson(model + ".json");
  EXPECT_EQ(card["kind"], "fanogan");
  EXPECT_TRUE(card["metrics"]["test"].contains("image_auc"));
  EXPECT_TRUE(card.contains("threshold"));

  const auto listed = runCommand(shellQuote(kCli) + " models list --json " + shellQuote(dir.path()));
  ASSERT_EQ(listed.exitCode, 0);
  const auto list = nlohmann::json::parse(listed.output);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["kind"], "fanogan");

  // infer on an abnormal volume: maps on the scan's grid, overlays, scores with the threshold.
  const auto manifest = readJson(tinyOct() + "/manifest.json");
  std::string image, mask;
  for (const auto& c : manifest["cases"])
    if (c["label"] == 1) {
      image = tinyOct() + "/" + c["image"].get<std::string>();
      mask = tinyOct() + "/" + c["mask"].get<std::string>();
      break;
    }
  const std::string out = dir.file("infer");
  const auto inferred = runCommand(shellQuote(kCli) + " infer --model " + shellQuote(model) + " --input " + shellQuote(image) +
                                       " --mask " + shellQuote(mask) + " --out " + shellQuote(out), true);
  ASSERT_EQ(inferred.exitCode, 0) << inferred.output;
  const auto scores = readJson(out + "/scores.json");
  EXPECT_EQ(scores["images"].size(), 4u);
  EXPECT_TRUE(scores.contains("abnormal"));
  const std::string mapFile = out + "/" + scores["maps"]["residual"].get<std::string>();
  const auto info = runCommand(shellQuote(kCli) + " info --json " + shellQuote(mapFile));
  ASSERT_EQ(info.exitCode, 0);
  const auto mapInfo = nlohmann::json::parse(info.output);
  EXPECT_EQ(mapInfo["size"][0], 512) << "maps are written on the scan's grid";
  ASSERT_EQ(scores["overlays"].size(), 4u);
  EXPECT_TRUE(isPng(out + "/" + scores["overlays"][0].get<std::string>()));

  // eval on the test split: ROC files and metrics.
  const std::string ev = dir.file("eval");
  const auto evaluated = runCommand(shellQuote(kCli) + " eval --model " + shellQuote(model) + " --data " + shellQuote(tinyOct()) +
                                        " --out " + shellQuote(ev), true);
  ASSERT_EQ(evaluated.exitCode, 0) << evaluated.output;
  const auto metrics = readJson(ev + "/metrics.json");
  EXPECT_EQ(metrics["split"], "test");
  EXPECT_GE(metrics["image_auc"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(metrics["image_auc"].get<double>(), card["metrics"]["test"]["image_auc"].get<double>())
      << "eval reproduces the card's test AUC";
  EXPECT_TRUE(isPng(ev + "/roc.png"));
  std::ifstream roc(ev + "/roc.csv");
  std::string header;
  std::getline(roc, header);
  EXPECT_EQ(header, "threshold,fpr,tpr");
}

// Runs tinyTrain(model) with `options` in the background, its output in `log`, waits until the shell test `ready` holds (polling every 0.1 s, at most `polls` times),
// sends it SIG`signal` and returns its exit status.
int interruptTraining(const TempDir& dir, const std::string& model, const std::string& options, const std::string& log,
                      const std::string& ready, const std::string& signal, int polls) {
  const std::string pid = shellQuote(dir.file("pid")), rcPath = dir.file("rc");
  const std::string script = "(" + tinyTrain(model) + " " + options + " > " + shellQuote(log) + " 2>&1 & echo $! > " + pid +
                             "; wait $!; echo $? > " + shellQuote(rcPath) + ") & for i in $(seq " + std::to_string(polls) +
                             "); do " + ready + " 2>/dev/null && break; sleep 0.1; done; kill -" + signal + " $(cat " + pid +
                             "); wait";
  runCommand("bash -c " + shellQuote(script));
  std::ifstream rcFile(rcPath);
  int rc = -1;
  rcFile >> rc;
  return rc;
}

TEST(Cli, InferAndEvalTakeABundledModelByItsListedName) {
  // The name `models list` and the viewer show works wherever --model is asked for, not only in
  // `report`; an unknown name is refused naming it and where to look.
  TempDir dir;
  const auto manifest = readJson(tinyOct() + "/manifest.json");
  std::string image;
  for (const auto& c : manifest["cases"])
    if (c["label"] == 1) image = tinyOct() + "/" + c["image"].get<std::string>();
  ASSERT_FALSE(image.empty());
  const auto inferred = runCommand("cd " + shellQuote(dir.path()) + " && " + shellQuote(kCli) + " infer --model a2bgan-oct-lite --input " +
                                       shellQuote(image) + " --no-overlays --out " + shellQuote(dir.file("infer")), true);
  ASSERT_EQ(inferred.exitCode, 0) << inferred.output;
  EXPECT_EQ(readJson(dir.file("infer") + "/scores.json")["images"].size(), 4u);

  for (const std::string cmd : {" infer --input " + shellQuote(image) + " --out " + shellQuote(dir.file("x")),
                                " eval --data " + shellQuote(tinyOct()) + " --out " + shellQuote(dir.file("y"))}) {
    const auto r = runCommand(shellQuote(kCli) + cmd + " --model no-such-model", true);
    EXPECT_EQ(r.exitCode, 1) << r.output;
    EXPECT_NE(r.output.find("no-such-model: no such model file, and no bundled or saved model of that name"), std::string::npos) << r.output;
  }
}

TEST(Cli, ModelsCalibrateChoosesThresholdAndHeatmapRangeAgainWithoutTraining) {
  TempDir dir;
  const std::string model = dir.file("tiny-a2b");
  const auto trained = runCommand(shellQuote(kCli) + " train --model a2bgan --config tiny --healthy " + shellQuote(tinyOct()) +
                                      " --mixed " + shellQuote(tinyOct()) + " --val " + shellQuote(tinyOct()) + " --out " +
                                      shellQuote(model) + " --iterations 4 --validate-every 0",
                                  true);
  ASSERT_EQ(trained.exitCode, 0) << trained.output;
  std::ifstream original(model + ".json");
  const std::string before((std::istreambuf_iterator<char>(original)), std::istreambuf_iterator<char>());
  const auto card = nlohmann::json::parse(before);

  const std::string out = dir.file("tiny-a2b-smooth");
  const auto calibrated = runCommand(shellQuote(kCli) + " models calibrate --model " + shellQuote(model) + " --val " + shellQuote(tinyOct()) +
                                         " --test " + shellQuote(tinyOct()) + " --set map_sigma=1.5 --out " + shellQuote(out),
                                     true);
  ASSERT_EQ(calibrated.exitCode, 0) << calibrated.output;
  const auto again = readJson(out + ".json");
  EXPECT_EQ(again["config"]["map_sigma"], 1.5);
  EXPECT_EQ(again["weights"]["sha256"], card["weights"]["sha256"]) << "calibration never touches the weights";
  EXPECT_FALSE(card["weights"]["sha256"].get<std::string>().empty());
  EXPECT_EQ(again["training_data"]["recalibrated"]["overrides"]["map_sigma"], 1.5);
  EXPECT_EQ(again["training_data"]["recalibrated"]["previous_calibration"], card["calibration"]);
  EXPECT_TRUE(again["metrics"]["test"].contains("pixel_auc")) << again["metrics"].dump();
  EXPECT_TRUE(again.contains("threshold"));
  // The smoothed map's healthy range is narrower: the overlay starts lower.
  EXPECT_LT(again["calibration"]["healthy_map"]["p99"].get<double>(), card["calibration"]["healthy_map"]["p99"].get<double>());
  // The recalibrated model runs, and the input model is as it was.
  const auto inferred = runCommand(shellQuote(kCli) + " models verify " + shellQuote(out), true);
  EXPECT_EQ(inferred.exitCode, 0) << inferred.output;
  std::ifstream unchanged(model + ".json");
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(unchanged)), std::istreambuf_iterator<char>()), before);

  const std::string base = shellQuote(kCli) + " models calibrate --model " + shellQuote(model) + " --val " + shellQuote(tinyOct());
  const auto unknown = runCommand(base + " --set no_such_setting=1 --out " + shellQuote(dir.file("x")), true);
  EXPECT_EQ(unknown.exitCode, 1);
  EXPECT_NE(unknown.output.find("no_such_setting: is not a hyper-parameter of this model"), std::string::npos) << unknown.output;
  const auto over = runCommand(base + " --out " + shellQuote(model + ".json"), true);
  EXPECT_EQ(over.exitCode, 1);
  EXPECT_NE(over.output.find("is the model being recalibrated"), std::string::npos) << over.output;
}

TEST(Cli, CtrlCStopsTrainingWithACheckpointAndResumeFinishesIt) {
  TempDir dir;
  const std::string model = dir.file("m");
  const std::string log = dir.file("log");
  // Start, wait for the first progress line, interrupt, collect the exit status.
  const int rc = interruptTraining(dir, model, "--stage-iterations wgan=300 encoder=2 --checkpoint-every 100", log,
                                   "grep -q 'progress: wgan' " + shellQuote(log), "INT", 600);
  std::ifstream logFile(log);
  const std::string text((std::istreambuf_iterator<char>(logFile)), std::istreambuf_iterator<char>());
  EXPECT_EQ(rc, 130) << text;
  EXPECT_NE(text.find("--resume"), std::string::npos) << text;
  ASSERT_TRUE(std::filesystem::exists(model + ".ckpt"));
  EXPECT_FALSE(std::filesystem::exists(model + ".json")) << "no model file from a stopped run";
  const auto resumed = runCommand(tinyTrain(model) + " --stage-iterations wgan=300 encoder=2 --checkpoint-every 100 --resume", true);
  ASSERT_EQ(resumed.exitCode, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resumed from"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(model + ".json"));
}

TEST(Cli, SigkillDuringTrainingLosesAtMostOneCheckpointInterval) {
  // No Ctrl-C, no chance to save: the process is killed (out of memory, a power cut of the
  // process, a cluster's preemption) after its second checkpoint. The resumed run starts from
  // the last checkpoint written, which is within one interval (100 iterations) of the kill, and
  // ends with a valid model.
  TempDir dir;
  const std::string model = dir.file("m");
  const std::string log = dir.file("log");
  const int rc = interruptTraining(dir, model, "--stage-iterations wgan=400 encoder=2 --checkpoint-every 100", log,
                                   "grep -q '\"iteration\": [2-9][0-9][0-9]' " + shellQuote(model + ".ckpt.json"), "KILL", 3000);
  EXPECT_EQ(rc, 137) << "killed by SIGKILL";
  // The last progress line before the kill.
  std::ifstream logFile(log);
  const std::string text((std::istreambuf_iterator<char>(logFile)), std::istreambuf_iterator<char>());
  const auto last = text.rfind("progress: wgan ");
  ASSERT_NE(last, std::string::npos) << text;
  const int reached = std::stoi(text.substr(last + 15));
  ASSERT_FALSE(std::filesystem::exists(model + ".json")) << "no model from a killed run";
  const auto checkpoint = readJson(model + ".ckpt.json");  // complete JSON: written atomically
  const int saved = checkpoint["iteration"].get<int>();
  EXPECT_GE(saved, 200);
  EXPECT_LE(reached - saved, 100) << "lost more than one checkpoint interval";
  const auto resumed = runCommand(tinyTrain(model) + " --stage-iterations wgan=400 encoder=2 --checkpoint-every 100 --resume", true);
  ASSERT_EQ(resumed.exitCode, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resumed from"), std::string::npos) << resumed.output;
  EXPECT_NE(resumed.output.find("iteration " + std::to_string(saved)), std::string::npos) << resumed.output;
  const auto verified = runCommand(shellQuote(kCli) + " models verify " + shellQuote(model + ".json"), true);
  EXPECT_EQ(verified.exitCode, 0) << verified.output;
}

// ---- image-labelled data: the OCT2017 class-folder layout, single B-scan files ---------------

namespace {

// ROOT/{train,test}/{NORMAL,CNV,DME}/*.png from the phantom's PNG B-scans: the healthy train
// cases' B-scans in train/NORMAL, the other healthy ones in test/NORMAL, the anomalous cases'
// B-scans in test/CNV and test/DME by turns. Made once.
const std::string& tinyClassFolders() {
  static TempDir dir;
  static const std::string root = [] {
    namespace fs = std::filesystem;
    const std::string ph = dir.file("phantom");
    runCommand(shellQuote(kCli) + " phantom oct --healthy 6 --anomalous 4 --bscans 3 --seed 31 --format png --out " + shellQuote(ph));
    const std::string out = dir.file("OCT2017");
    std::ifstream in(ph + "/manifest.json");
    const auto manifest = nlohmann::json::parse(in);
    int abnormal = 0;
    for (const auto& c : manifest["cases"]) {
      const bool healthy = c["label"] == 0;
      const std::string folder = healthy ? (c["split"] == "train" ? "train/NORMAL" : "test/NORMAL")
                                         : (abnormal++ % 2 ? "test/DME" : "test/CNV");
      fs::create_directories(out + "/" + folder);
      for (const auto& f : fs::directory_iterator(ph + "/" + c["image"].get<std::string>()))
        fs::copy_file(f.path(), out + "/" + folder + "/" + c["id"].get<std::string>() + "-" + f.path().filename().string());
    }
    return out;
  }();
  return root;
}

}  // namespace

TEST(Cli, ClassFolderDataTrainsOnNormalAndEvalReportsPerClassAuc) {
  TempDir dir;
  const std::string root = tinyClassFolders();
  const std::string model = dir.file("oct2017-fanogan");
  const auto trained = runCommand(shellQuote(kCli) + " train --model fanogan --config tiny --healthy " + shellQuote(root + "/train/NORMAL") +
                                      " --val " + shellQuote(root + "/test") + " --out " + shellQuote(model) +
                                      " --stage-iterations wgan=4 encoder=2 --validate-every 2",
                                  true);
  ASSERT_EQ(trained.exitCode, 0) << trained.output;

  // One B-scan file, as OCT2017 distributes them: a one-image case.
  std::string one;
  for (const auto& f : std::filesystem::directory_iterator(root + "/test/CNV")) one = f.path().string();
  const std::string out = dir.file("infer");
  const auto inferred = runCommand(shellQuote(kCli) + " infer --model " + shellQuote(model) + " --input " + shellQuote(one) +
                                       " --out " + shellQuote(out), true);
  ASSERT_EQ(inferred.exitCode, 0) << inferred.output;
  const auto scores = readJson(out + "/scores.json");
  EXPECT_EQ(scores["images"].size(), 1u);
  EXPECT_TRUE(scores.contains("abnormal"));

  // eval on the root: its test split, overall and per-class AUC, printed and in metrics.json.
  const std::string ev = dir.file("eval");
  const auto evaluated = runCommand(shellQuote(kCli) + " eval --model " + shellQuote(model) + " --data " + shellQuote(root) +
                                        " --max-images 0 --out " + shellQuote(ev), true);
  ASSERT_EQ(evaluated.exitCode, 0) << evaluated.output;
  EXPECT_NE(evaluated.output.find("image AUC"), std::string::npos) << evaluated.output;
  EXPECT_NE(evaluated.output.find("CNV vs NORMAL: AUC"), std::string::npos) << evaluated.output;
  EXPECT_NE(evaluated.output.find("DME vs NORMAL: AUC"), std::string::npos) << evaluated.output;
  const auto metrics = readJson(ev + "/metrics.json");
  EXPECT_EQ(metrics["split"], "test");
  EXPECT_EQ(metrics["images"], 18) << "every test B-scan counts: 6 NORMAL, 6 CNV, 6 DME";
  ASSERT_TRUE(metrics.contains("per_class")) << metrics.dump();
  EXPECT_EQ(metrics["per_class"]["CNV"]["images"], 6);
  EXPECT_EQ(metrics["per_class"]["DME"]["healthy_images"], 6);
  EXPECT_TRUE(metrics["per_class"]["CNV"].contains("image_auc"));

  // Bad input is named: an unreadable image in a class folder is left out and said, with its file.
  std::ofstream(root + "/test/DME/broken.png") << "not a png";
  const auto broken = runCommand(shellQuote(kCli) + " eval --model " + shellQuote(model) + " --data " + shellQuote(root) +
                                     " --max-images 0 --out " + shellQuote(dir.file("eval2")), true);
  std::filesystem::remove(root + "/test/DME/broken.png");
  ASSERT_EQ(broken.exitCode, 0) << broken.output;
  EXPECT_NE(broken.output.find("broken.png: not a format AnomalyLens reads"), std::string::npos) << broken.output;
  EXPECT_EQ(readJson(dir.file("eval2") + "/metrics.json")["images"], 18);
}

TEST(Cli, Brats2023NamesOpenAsOneContrastSet) {
  namespace fs = std::filesystem;
  TempDir dir;
  const auto made = runCommand(shellQuote(kCli) + " phantom mri --healthy 0 --anomalous 1 --seed 3 --format nifti --out " +
                                   shellQuote(dir.file("mri")), true);
  ASSERT_EQ(made.exitCode, 0) << made.output;
  // BraTS 2023 names: CASE-t1n, -t1c, -t2w, -t2f, -seg.
  const std::string c = dir.file("BraTS-GLI-00002-000");
  fs::create_directories(c);
  const std::map<std::string, std::string> renamed = {{"t1", "t1n"}, {"t1ce", "t1c"}, {"t2", "t2w"}, {"flair", "t2f"}, {"seg", "seg"}};
  for (const auto& [from, to] : renamed)
    fs::copy_file(dir.file("mri/mri_0000/mri_0000_" + from + ".nii.gz"), c + "/BraTS-GLI-00002-000-" + to + ".nii.gz");
  const auto r = runCommand(shellQuote(kCli) + " contrasts " + shellQuote(c) + " --out " + shellQuote(dir.file("stacked.nii.gz")), true);
  ASSERT_EQ(r.exitCode, 0) << r.output;
  EXPECT_NE(r.output.find("4 contrasts"), std::string::npos) << r.output;
}
