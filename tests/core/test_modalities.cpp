// Preprocessing chosen by modality for the single-channel GANs: OCT (flattening), one MRI
// contrast (brain mask, z-score, brain crop, axial slices, into [-1, 1]) and 2D radiographs
// (DICOM CR/DX with MONOCHROME1, percentile window, aspect kept with padding). Each GAN trains a
// few steps through the Trainer on MRI slices and on radiographs, its card records the
// pipeline, and inference from the card prepares scans the same way.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "TestPaths.h"
#include "TestPhantoms.h"
#include "errors/Error.h"
#include "inference/ScanAnalysis.h"
#include "io/VolumeReader.h"
#include "io/VolumeWriter.h"
#include "models/AnomalyModel.h"
#include "models/ModelFile.h"
#include "phantom/MriPhantom.h"
#include "phantom/OctPhantom.h"
#include "phantom/RadiographPhantom.h"
#include "preprocess/RadiographPrepare.h"
#include "training/DataSet.h"
#include "training/Pipeline.h"
#include "training/Trainer.h"

using namespace al;
using namespace al::training;

namespace {

models::InputSpec inputOf(const std::string& kind) {
  return models::createModel(models::modelKindFromString(kind), "tiny")->input();
}

// Four healthy and two anomalous small brains (64 x 64 x 36 at 3 mm; four contrasts each as
// BraTS-named NIfTI files, with lesion and brain masks) and their manifest.json.
const std::string& mriData() {
  static TempDir dir;
  static const std::string path = [] {
    const std::string root = dir.file("mri");
    std::filesystem::create_directories(root);
    nlohmann::json cases = nlohmann::json::array();
    const char* splits[] = {"train", "train", "train", "val", "val", "test"};
    for (int i = 0; i < 6; ++i) {
      MriPhantomOptions o;
      o.sizeX = o.sizeY = 64, o.sizeZ = 36, o.spacing = 3.0, o.seed = 57 + static_cast<std::uint64_t>(i);
      const bool anomalous = i >= 4;
      if (anomalous) o.lesions.tumours = 1, o.lesions.size = 1.5;
      const MriPhantom p = makeMriPhantom(o);
      const std::string id = "brain_" + std::to_string(i);
      nlohmann::json contrasts = nlohmann::json::object();
      for (int c = 0; c < p.image.channels(); ++c) {
        Volume one(p.image.pixelType(), p.image.size(), 1);
        std::copy_n(p.image.bytes() + static_cast<std::size_t>(c) * one.byteSize(), one.byteSize(), one.bytes());
        one.setSpacing(p.image.spacing());
        const std::string file = id + "_" + p.sequences[static_cast<std::size_t>(c)].name + ".nii.gz";
        writeVolume(one, root + "/" + file);
        contrasts[p.sequences[static_cast<std::size_t>(c)].name] = file;
      }
      writeVolume(p.mask, root + "/" + id + "_seg.nii.gz");
      writeVolume(p.brainMask, root + "/" + id + "_brainmask.nii.gz");
      cases.push_back({{"id", id}, {"contrasts", contrasts}, {"label", anomalous ? 1 : 0}, {"mask", id + "_seg.nii.gz"},
                       {"brain_mask", id + "_brainmask.nii.gz"}, {"split", splits[i]}});
    }
    std::ofstream(root + "/manifest.json") << nlohmann::json{{"cases", cases}}.dump(2);
    return root;
  }();
  return path;
}

// Eight healthy and four anomalous chest radiographs as DICOM CR, stored MONOCHROME1.
const std::string& cxrData() {
  static TempDir dir;
  static const std::string path = [] {
    RadiographStudyRequest r;
    r.outDir = dir.file("cxr");
    r.healthy = 8;
    r.anomalous = 4;
    r.seed = 61;
    r.monochrome1 = true;
    return writeRadiographStudies(r);
  }();
  return path;
}

double correlation(const float* a, const float* b, std::size_t n) {
  double ma = 0, mb = 0;
  for (std::size_t i = 0; i < n; ++i) ma += a[i], mb += b[i];
  ma /= static_cast<double>(n), mb /= static_cast<double>(n);
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < n; ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

}  // namespace

TEST(Modality, NamesParseAndAdmStaysMr) {
  EXPECT_EQ(parseModality("dx"), Modality::Radiograph);
  EXPECT_EQ(parseModality("CR"), Modality::Radiograph);
  EXPECT_EQ(parseModality("MRI"), Modality::Mri);
  EXPECT_EQ(parseModality("OPT"), Modality::Oct);
  EXPECT_THROW(parseModality("PET"), Error);
  EXPECT_EQ(modalityName(Modality::Radiograph), "CR");
  // The single-channel GANs default to OCT (old cards without a modality meant that).
  for (const char* kind : {"anogan", "fanogan", "sparsegan", "a2bgan"})
    EXPECT_EQ(Pipeline::forInput(inputOf(kind)).modality(), Modality::Oct) << kind;
  EXPECT_EQ(Pipeline::forInput(inputOf("adm")).modality(), Modality::Mri);
  EXPECT_THROW(Pipeline::forInput(inputOf("adm"), {{"modality", "CR"}}), Error);
}

TEST(RadiographPrepare, WindowsKeepsTheAspectAndMapsBack) {
  RadiographPhantomOptions o;
  o.width = 160, o.height = 240, o.nodules = 2, o.seed = 3;
  const RadiographPhantom p = makeRadiographPhantom(o);
  RadiographPrepareOptions po;
  po.size = 64;
  const RadiographPrepared r = prepareRadiograph(p.image, po);
  ASSERT_EQ(r.images.size(), (Size3{64, 64, 1}));
  const ValueRange range = r.images.valueRange();
  EXPECT_GE(range.min, -1.0);
  EXPECT_LE(range.max, 1.0);
  // Portrait: full height, columns padded on both sides; padding is -1 and not valid.
  const double imageColumns = 64.0 * p.image.size().x / p.image.size().y;
  long validColumns = 0;
  for (int x = 0; x < 64; ++x) validColumns += r.valid.value(x, 32, 0) != 0;
  EXPECT_NEAR(validColumns, imageColumns, 1.5);
  EXPECT_EQ(r.valid.value(0, 32, 0), 0);
  EXPECT_EQ(r.images.value(0, 32, 0), -1.0);
  EXPECT_EQ(r.valid.value(32, 0, 0), 1);
  EXPECT_EQ(r.valid.value(32, 63, 0), 1);
  // The percentile window: about 0.5% of the image at each end.
  long low = 0, high = 0, n = 0;
  for (std::int64_t i = 0; i < r.images.voxelsPerChannel(); ++i)
    if (r.valid.data<std::uint8_t>()[i]) {
      ++n;
      low += r.images.data<float>()[i] <= -0.999f;
      high += r.images.data<float>()[i] >= 0.999f;
    }
  EXPECT_LT(static_cast<double>(low) / n, 0.03);
  EXPECT_LT(static_cast<double>(high) / n, 0.03);
  // Lesion labels into the square and a map back onto the radiograph land on the lesions.
  const Volume labels = prepareRadiographLabels(r, p.mask);
  Volume map(PixelType::Float32, labels.size(), 1);
  for (std::int64_t i = 0; i < map.voxelsPerChannel(); ++i) map.data<float>()[i] = labels.data<std::uint8_t>()[i] ? 1.f : 0.f;
  const Volume back = unprepareRadiograph(r, map);
  ASSERT_EQ(back.size(), p.image.size());
  long lesion = 0, hit = 0;
  for (std::int64_t i = 0; i < back.voxelsPerChannel(); ++i)
    if (p.mask.data<std::uint8_t>()[i]) ++lesion, hit += back.data<float>()[i] >= 0.5f;
  ASSERT_GT(lesion, 20);
  EXPECT_GT(static_cast<double>(hit) / lesion, 0.7);
}

TEST(RadiographPrepare, Monochrome1IsInvertedOnceByTheReader) {
  TempDir d;
  RadiographPhantomOptions o;
  o.seed = 8;
  const RadiographPhantom p = makeRadiographPhantom(o);
  writeRadiographDicom(p.image, d.file("m2.dcm"), "CR", false);
  writeRadiographDicom(p.image, d.file("m1.dcm"), "DX", true);
  const Volume m2 = readVolume(d.file("m2.dcm")), m1 = readVolume(d.file("m1.dcm"));
  EXPECT_EQ(m1.metadata().modality, "DX");
  ASSERT_FALSE(m1.metadata().warnings.empty());
  EXPECT_NE(m1.metadata().warnings.front().find("MONOCHROME1"), std::string::npos);
  const Pipeline cr = Pipeline::forInput(inputOf("a2bgan"), {{"modality", "CR"}});
  const Prepared a = cr.prepare(m2, nullptr, nullptr, "m2"), b = cr.prepare(m1, nullptr, nullptr, "m1");
  // Same picture, bone bright in both: prepare does not invert a second time.
  EXPECT_GT(correlation(a.images.data<float>(), b.images.data<float>(), static_cast<std::size_t>(a.images.voxelsPerChannel())), 0.99);
}

TEST(RadiographPrepare, ARealMonochrome1ChestComesOutBoneBright) {
  // A real CR chest PA stored MONOCHROME1 (GDCM's test data, via dwv).
  const std::string path = realDataPath("dicom/dwv/gdcm-CR-MONO1-10-chest.dcm");
  if (path.empty()) GTEST_SKIP() << "shared/realdata absent";
  const Volume v = readVolume(path);
  EXPECT_EQ(v.metadata().modality, "CR");
  DataCase c;
  c.image = path;
  const Pipeline cr = Pipeline::forData(inputOf("a2bgan"), nlohmann::json::object(), c);
  ASSERT_EQ(cr.modality(), Modality::Radiograph) << "the DICOM modality CR chooses the radiograph pipeline";
  const Prepared p = cr.prepare(v, nullptr, nullptr, "chest");
  const int n = static_cast<int>(p.images.size().x);
  auto strip = [&](double x0, double x1) {
    double sum = 0;
    long count = 0;
    for (int y = n * 3 / 10; y < n * 6 / 10; ++y)
      for (int x = static_cast<int>(x0 * n); x < static_cast<int>(x1 * n); ++x) sum += p.images.value(x, y, 0), ++count;
    return sum / static_cast<double>(count);
  };
  // Mediastinum and spine (centre) brighter than either lung: higher = more attenuation.
  const double centre = strip(0.46, 0.54), right = strip(0.22, 0.32), left = strip(0.68, 0.78);
  RecordProperty("centre_right_left", std::to_string(centre) + " " + std::to_string(right) + " " + std::to_string(left));
  EXPECT_GT(centre, right + 0.2);
  EXPECT_GT(centre, left + 0.2);
}

TEST(Pipeline, RadiographsAreRefusedWhatIsNotOne) {
  const Pipeline cr = Pipeline::forInput(inputOf("sparsegan"), {{"modality", "CR"}});
  EXPECT_EQ(cr.toJson()["modality"], "CR");
  EXPECT_EQ(cr.toJson()["radiograph"]["size"], 64);  // the whole-image model's size
  OctPhantomOptions oo;
  oo.bscans = 1;
  const OctPhantom oct = makeOctPhantom(oo);
  EXPECT_THROW(cr.checkScan(oct.image, "oct.dcm"), Error);  // OPT
  Volume two(PixelType::UInt8, {32, 32, 1}, 2);
  EXPECT_THROW(cr.checkScan(two, "rgb.png"), Error);
  Volume png(PixelType::UInt8, {32, 40, 1}, 1);  // no modality: a PNG
  EXPECT_NO_THROW(cr.checkScan(png, "chest.png"));
  // And an OCT model refuses a radiograph.
  Volume dx = png;
  dx.metadata().modality = "DX";
  EXPECT_THROW(Pipeline::forInput(inputOf("sparsegan")).checkScan(dx, "chest.dcm"), Error);
}

TEST(Pipeline, OneMriContrastForAGanInMinusOneToOne) {
  MriPhantomOptions o;
  o.sizeX = 80, o.sizeY = 80, o.sizeZ = 40, o.spacing = 2.4, o.seed = 5;
  o.lesions.tumours = 1;
  MriPhantom p = makeMriPhantom(o);
  p.image.metadata().modality = "MR";
  const Pipeline mr = Pipeline::forInput(inputOf("fanogan"), {{"modality", "MR"}, {"contrasts", nlohmann::json::array({"FLAIR"})}});
  EXPECT_EQ(mr.modality(), Modality::Mri);
  EXPECT_FALSE(mr.zScored());
  const Prepared prep = mr.prepare(p.image, &p.mask, &p.brainMask, "brain");
  ASSERT_EQ(prep.images.channels(), 1);
  EXPECT_EQ(prep.images.size().x, 128);  // a patch model tiles 128-pixel slices
  const ValueRange r = prep.images.valueRange();
  EXPECT_GE(r.min, -1.0);
  EXPECT_LE(r.max, 1.0);
  long outside = 0, outsideBlack = 0, inside = 0;
  double sum = 0;
  for (std::int64_t i = 0; i < prep.valid.voxelsPerChannel(); ++i) {
    const float v = prep.images.data<float>()[i];
    if (prep.valid.data<std::uint8_t>()[i]) ++inside, sum += v;
    else ++outside, outsideBlack += v == -1.f;
  }
  EXPECT_EQ(outside, outsideBlack) << "outside the brain is black";
  EXPECT_NEAR(sum / inside, 0.0, 0.1) << "z-scored over the brain";
  EXPECT_GT(std::count(prep.sliceLabels.begin(), prep.sliceLabels.end(), 1), 0);
  EXPECT_GT(std::count(prep.sliceLabels.begin(), prep.sliceLabels.end(), 0), 0);
  // The FLAIR channel it is: the same as a scan of FLAIR alone.
  const nlohmann::json j = mr.toJson();
  EXPECT_EQ(j["modality"], "MR");
  EXPECT_EQ(j["contrasts"], nlohmann::json::array({"FLAIR"}));
  EXPECT_DOUBLE_EQ(j["mri"]["z_clip"].get<double>(), 3.0);
  EXPECT_EQ(Pipeline::fromJson(j, inputOf("fanogan")).toJson(), j);
  const Volume back = mr.toScan(prep, [&] {
    Volume ones(PixelType::Float32, prep.valid.size(), 1);
    std::fill_n(ones.data<float>(), ones.voxelsPerChannel(), 1.f);
    return ones;
  }());
  EXPECT_EQ(back.size(), p.image.size());
  // Without a named contrast a four-contrast scan is refused with the choice to make.
  try {
    Pipeline::forInput(inputOf("fanogan"), {{"modality", "MR"}}).checkScan(p.image, "brats_001");
    FAIL() << "four contrasts taken by a one-channel model";
  } catch (const Error& e) {
    EXPECT_NE(e.reason().find("contrast"), std::string::npos) << e.message();
  }
}

TEST(Pipeline, ForDataTakesTheModalityAndContrastTheDataSay) {
  const DataSet mri = openDataSet(mriData(), "train", 0);
  std::string note;
  const Pipeline a = Pipeline::forData(inputOf("anogan"), nlohmann::json::object(), mri.cases.front(), &note);
  EXPECT_EQ(a.modality(), Modality::Mri);
  EXPECT_EQ(a.contrasts(), std::vector<std::string>{"FLAIR"});
  EXPECT_FALSE(note.empty());
  const DataSet cxr = openDataSet(cxrData(), "train", 0);
  EXPECT_EQ(Pipeline::forData(inputOf("anogan"), nlohmann::json::object(), cxr.cases.front()).modality(), Modality::Radiograph);
  // What the options name wins over the data.
  EXPECT_EQ(Pipeline::forData(inputOf("anogan"), {{"modality", "OCT"}}, cxr.cases.front()).modality(), Modality::Oct);
  // ADM keeps its four contrasts.
  EXPECT_EQ(Pipeline::forData(inputOf("adm"), nlohmann::json::object(), mri.cases.front()).contrasts().size(), 4u);
}

namespace {

// A few steps of `kind` on `data` (its own validation and test splits), then the card's
// pipeline on one of the test scans through the viewer's and the CLI's analyseScan.
void trainAndInfer(const std::string& kind, const std::string& data, const nlohmann::json& preprocessing,
                   const std::string& modality) {
  TempDir d;
  TrainingSpec s;
  s.model = kind;
  s.config = "tiny";
  s.healthy = s.validation = s.test = data;
  if (kind == "a2bgan") s.mixed = data;
  s.out = d.file("m");
  s.defaultIterations = 2;
  s.validateEvery = 0;
  s.validationImages = 8;
  s.evaluationImages = 24;
  s.preprocessing = preprocessing;
  TrainingControl control;
  const TrainingOutcome out = Trainer(s, {}).run(control);
  ASSERT_TRUE(out.finished);
  const models::ModelCard card = models::readModelCard(d.file("m"));
  ASSERT_EQ(card.preprocessing.value("modality", ""), modality) << card.preprocessing.dump();
  EXPECT_TRUE(card.preprocessing.contains("steps"));
  EXPECT_TRUE(card.metrics["test"].contains("image_auc"));
  if (modality == "MR") EXPECT_EQ(card.preprocessing["contrasts"].size(), 1u);

  const models::LoadedModel loaded = models::loadModel(d.file("m"), "cpu");
  const Pipeline pipeline = Pipeline::fromJson(card.preprocessing, loaded.model->input());
  EXPECT_EQ(pipeline.toJson(), card.preprocessing) << "inference does not rebuild the training pipeline";
  const DataSet test = openDataSet(data, "test");
  ASSERT_FALSE(test.cases.empty());
  const Volume scan = pipeline.readScan(test.cases.front());
  EXPECT_EQ(inference::compatibility(card, scan), "");
  const inference::ScanAnalysis a = inference::analyseScan(loaded, scan);
  ASSERT_FALSE(a.mapNames.empty());
  EXPECT_EQ(a.maps.at(a.mapNames.front()).size(), scan.size());
  EXPECT_TRUE(std::any_of(a.sliceScores.begin(), a.sliceScores.end(), [](double v) { return std::isfinite(v); }));
}

const nlohmann::json kSmallMri = {{"mri", {{"size", 64}}}};
const nlohmann::json kSmallCxr = {{"radiograph", {{"size", 64}}}};

}  // namespace

// MRI: the modality and the contrast (FLAIR) from the data, or named.
TEST(GanModalities, AnoGanOnMriSlices) { trainAndInfer("anogan", mriData(), {{"mri", {{"size", 64}}}, {"modality", "MR"}, {"contrasts", nlohmann::json::array({"T2"})}}, "MR"); }
TEST(GanModalities, FAnoGanOnMriSlices) { trainAndInfer("fanogan", mriData(), kSmallMri, "MR"); }
TEST(GanModalities, SparseGanOnMriSlices) { trainAndInfer("sparsegan", mriData(), nlohmann::json::object(), "MR"); }
TEST(GanModalities, A2BGanOnMriSlices) { trainAndInfer("a2bgan", mriData(), nlohmann::json::object(), "MR"); }
// Radiographs: DICOM CR says so (or --modality CR).
TEST(GanModalities, AnoGanOnRadiographs) { trainAndInfer("anogan", cxrData(), kSmallCxr, "CR"); }
TEST(GanModalities, FAnoGanOnRadiographs) { trainAndInfer("fanogan", cxrData(), {{"radiograph", {{"size", 64}}}, {"modality", "CR"}}, "CR"); }
TEST(GanModalities, SparseGanOnRadiographs) { trainAndInfer("sparsegan", cxrData(), nlohmann::json::object(), "CR"); }
TEST(GanModalities, A2BGanOnRadiographs) { trainAndInfer("a2bgan", cxrData(), nlohmann::json::object(), "CR"); }
