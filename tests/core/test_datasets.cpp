// Image-labelled data sets: the class-folder layout of OCT2017 (ROOT/{train,val,test}/{NORMAL,
// CNV, DME, DRUSEN}/*.jpeg) written from the OCT phantom as PNG and JPEG, single B-scan files,
// per-image labels in a manifest, BraTS 2023 names, and the per-class AUC of the metrics.

#include <gtest/gtest.h>

#include <itkImageIOBase.h>
#include <itkImageIOFactory.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "TestPaths.h"
#include "errors/Error.h"
#include "io/ItkFactories.h"
#include "io/PngStackWriter.h"
#include "io/VolumeReader.h"
#include "io/VolumeWriter.h"
#include "io/mri/MriContrasts.h"
#include "models/AnomalyModel.h"
#include "phantom/OctPhantom.h"
#include "training/DataCheck.h"
#include "training/DataSet.h"
#include "training/Evaluation.h"
#include "training/Pipeline.h"

using namespace al;
using namespace al::training;
namespace fs = std::filesystem;

namespace {

// One 8-bit B-scan of `v` as an image file; ITK picks PNG, JPEG or TIFF from the extension.
void writeBscan(const Volume& v, std::int64_t z, const std::string& path) {
  registerItkImageIOFactories();
  const Size3 s = v.size();
  std::vector<unsigned char> px(static_cast<std::size_t>(s.x * s.y));
  for (std::int64_t y = 0; y < s.y; ++y)
    for (std::int64_t x = 0; x < s.x; ++x) px[static_cast<std::size_t>(y * s.x + x)] = static_cast<unsigned char>(v.value(x, y, z));
  itk::ImageIOBase::Pointer io = itk::ImageIOFactory::CreateImageIO(path.c_str(), itk::ImageIOFactory::IOFileModeEnum::WriteMode);
  ASSERT_TRUE(io) << path;
  io->SetNumberOfDimensions(2);
  io->SetDimensions(0, static_cast<itk::SizeValueType>(s.x));
  io->SetDimensions(1, static_cast<itk::SizeValueType>(s.y));
  io->SetPixelType(itk::IOPixelEnum::SCALAR);
  io->SetComponentType(itk::IOComponentEnum::UCHAR);
  io->SetNumberOfComponents(1);
  io->SetFileName(path);
  itk::ImageIORegion region(2);
  region.SetSize(0, static_cast<itk::SizeValueType>(s.x));
  region.SetSize(1, static_cast<itk::SizeValueType>(s.y));
  io->SetIORegion(region);
  io->WriteImageInformation();
  io->Write(px.data());
}

OctPhantom smallPhantom(std::uint64_t seed, bool lesions) {
  OctPhantomOptions o;
  o.width = 256;
  o.depth = 248;
  o.depthMm = 0.96;
  o.bscans = 3;
  o.seed = seed;
  if (lesions) o.lesions.subretinalFluid = 1;
  return makeOctPhantom(o);
}

// ROOT/{train,test}/{NORMAL,CNV,DME}: NORMAL as PNG, the abnormal classes as JPEG, as OCT2017
// ships them (train: 3 NORMAL, 2 CNV, 1 DME; test: 2 NORMAL, 2 CNV, 2 DME).
std::string writeOct2017Layout(const std::string& root) {
  const std::map<std::string, std::map<std::string, int>> counts = {
      {"train", {{"NORMAL", 3}, {"CNV", 2}, {"DME", 1}}}, {"test", {{"NORMAL", 2}, {"CNV", 2}, {"DME", 2}}}};
  std::uint64_t seed = 1;
  for (const auto& [split, classes] : counts)
    for (const auto& [cls, n] : classes) {
      const fs::path folder = fs::path(root) / split / cls;
      fs::create_directories(folder);
      const OctPhantom ph = smallPhantom(seed++, cls != "NORMAL");
      for (int i = 0; i < n; ++i) {
        const std::string ext = cls == "NORMAL" ? ".png" : ".jpeg";
        writeBscan(ph.image, i % ph.image.size().z, (folder / (cls + "-" + std::to_string(100 + seed) + "-" + std::to_string(i) + ext)).string());
      }
    }
  return root;
}

std::map<std::string, int> classCounts(const DataSet& ds) {
  std::map<std::string, int> out;
  for (const auto& c : ds.cases) ++out[c.className];
  return out;
}

Pipeline octPipeline() {
  models::InputSpec in;
  in.modality = "OCT";
  return Pipeline::forInput(in);
}

}  // namespace

TEST(ImageFile, OneBScanFileOpensAsAOneImageVolume) {
  TempDir d;
  const OctPhantom ph = smallPhantom(3, false);
  for (const char* ext : {".png", ".jpeg", ".tif"}) {
    const std::string file = d.file(std::string("bscan") + ext);
    writeBscan(ph.image, 1, file);
    const Volume v = readVolume(file);
    EXPECT_EQ(v.size().x, 256) << ext;
    EXPECT_EQ(v.size().y, 248) << ext;
    EXPECT_EQ(v.size().z, 1) << ext;
    EXPECT_EQ(v.channels(), 1) << ext;
    EXPECT_EQ(v.metadata().sourcePath, file);
    if (std::string(ext) != ".jpeg") {
      EXPECT_EQ(v.value(100, 120, 0), ph.image.value(100, 120, 1)) << "lossless " << ext << " keeps the pixels";
    } else {
      EXPECT_NEAR(v.value(100, 120, 0), ph.image.value(100, 120, 1), 40.0);
    }
  }
  // The content decides: a JPEG or TIFF exported under another image name opens as what it is.
  for (const auto& [ext, as] : {std::pair<const char*, const char*>{".jpeg", ".png"}, {".tif", ".jpg"}}) {
    const std::string real = d.file(std::string("bscan") + ext), misnamed = d.file(std::string("misnamed-") + ext + as);
    fs::copy_file(real, misnamed);
    const Volume a = readVolume(real), b = readVolume(misnamed);
    ASSERT_EQ(b.size(), a.size()) << misnamed;
    for (std::int64_t i = 0; i < a.voxelsPerChannel(); i += 101) ASSERT_EQ(b.value(i % 256, i / 256, 0), a.value(i % 256, i / 256, 0)) << misnamed;
  }
  // Text named .jpeg is refused, naming the file.
  std::ofstream(d.file("text.jpeg")) << "not an image";
  try {
    readVolume(d.file("text.jpeg"));
    FAIL() << "no error";
  } catch (const FileError& e) {
    EXPECT_EQ(e.path(), d.file("text.jpeg"));
  }
}

TEST(ClassFolders, Oct2017LayoutGivesSplitsLabelsAndClasses) {
  TempDir d;
  const std::string root = writeOct2017Layout(d.file("OCT2017"));
  const DataSet all = openDataSet(root);
  EXPECT_EQ(all.cases.size(), 12u);
  for (const auto& c : all.cases) {
    EXPECT_EQ(c.label, c.className == "NORMAL" ? 0 : 1) << c.id;
    EXPECT_TRUE(c.split == "train" || c.split == "test") << c.split;
    EXPECT_TRUE(fs::path(c.image).is_absolute());
    EXPECT_EQ(fs::path(c.image).parent_path().filename().string(), c.className);
    EXPECT_EQ(fs::path(c.image).parent_path().parent_path().filename().string(), c.split);
  }
  const DataSet train = openDataSet(root, "train");
  EXPECT_EQ(classCounts(train), (std::map<std::string, int>{{"CNV", 2}, {"DME", 1}, {"NORMAL", 3}}));
  const DataSet test = openDataSet(root, "test", -1);
  EXPECT_EQ(classCounts(test), (std::map<std::string, int>{{"CNV", 2}, {"DME", 2}, {"NORMAL", 2}}));
  EXPECT_EQ(test.count(0), 2);
  EXPECT_EQ(test.count(1), 4);
  EXPECT_THROW(openDataSet(root, "val"), FileError) << "OCT2017 has no val split";

  // One split folder, one class folder, one image: each opens with its classes and labels.
  const DataSet testFolder = openDataSet(root + "/test", "val");  // a folder named by the user is taken whole
  EXPECT_EQ(testFolder.cases.size(), 6u);
  EXPECT_EQ(testFolder.cases[0].split, "test");
  const DataSet normal = openDataSet(root + "/train/NORMAL", "train", 0);
  ASSERT_EQ(normal.cases.size(), 3u) << "a class folder is one case per image, not one B-scan stack";
  for (const auto& c : normal.cases) EXPECT_EQ(c.label, 0);
  const DataSet cnv = openDataSet(root + "/train/CNV");
  ASSERT_EQ(cnv.cases.size(), 2u);
  EXPECT_EQ(cnv.cases[0].label, 1);
  EXPECT_EQ(cnv.cases[0].className, "CNV");
  const DataSet one = openDataSet(cnv.cases[0].image);
  ASSERT_EQ(one.cases.size(), 1u);
  EXPECT_EQ(one.cases[0].className, "CNV");
  EXPECT_EQ(one.cases[0].label, 1);
  EXPECT_EQ(one.cases[0].split, "train");

  // Healthy training data from the root: the healthy class only.
  DataSet healthy = openDataSet(root, "train", 0);
  const auto removed = keepHealthyImages(healthy);
  EXPECT_EQ(healthy.cases.size(), 3u);
  EXPECT_EQ(removed, (std::vector<std::pair<std::string, int>>{{"CNV", 2}, {"DME", 1}}));

  // Another healthy class name.
  fs::rename(root + "/train/NORMAL", root + "/train/NO");
  fs::rename(root + "/test/NORMAL", root + "/test/NO");
  const DataSet octdl = openDataSet(root, "test", -1, "NO");
  EXPECT_EQ(octdl.count(0), 2);
  EXPECT_EQ(octdl.count(1), 4);
}

TEST(ClassFolders, EmptyClassFolderAndUnreadableImageAreNamed) {
  TempDir d;
  const std::string root = writeOct2017Layout(d.file("OCT2017"));
  fs::create_directories(root + "/test/DRUSEN");
  try {
    openDataSet(root);
    FAIL() << "no error";
  } catch (const FileError& e) {
    EXPECT_NE(e.path().find("DRUSEN"), std::string::npos) << e.what();
    EXPECT_NE(e.reason().find("no PNG, JPEG"), std::string::npos) << e.what();
  }
  fs::remove(root + "/test/DRUSEN");
  const std::string bad = root + "/test/CNV/CNV-999-1.jpeg";
  std::ofstream(bad) << "truncated";
  const DataSet test = openDataSet(root, "test");
  const auto it = std::find_if(test.cases.begin(), test.cases.end(), [&](const DataCase& c) { return c.image == fs::path(bad).lexically_normal().string(); });
  ASSERT_NE(it, test.cases.end());
  try {
    (void)octPipeline().prepare(*it);
    FAIL() << "no error";
  } catch (const FileError& e) {
    EXPECT_EQ(e.path(), fs::path(bad).lexically_normal().string()) << e.what();
  }
  // The wizard's data check names it too.
  const DataReport r = checkTrainingData(root, DataRole::Test, octPipeline());
  ASSERT_FALSE(r.problems.empty());
  EXPECT_NE(r.problems[0].find("CNV-999-1.jpeg"), std::string::npos) << r.problems[0];
}

TEST(ClassFolders, ASingleLabelledImageIsAnImageWithThatLabel) {
  TempDir d;
  const std::string root = writeOct2017Layout(d.file("OCT2017"));
  const Pipeline p = octPipeline();
  const DataSet test = openDataSet(root, "test");
  int abnormal = 0, healthy = 0;
  for (const auto& c : test.cases) {
    const Prepared prep = p.prepare(c);
    ASSERT_EQ(prep.sliceLabels.size(), 1u) << c.image;
    EXPECT_EQ(prep.sliceLabels[0], c.label) << "an abnormal image without a mask is scored, not dropped";
    EXPECT_EQ(prep.className, c.className);
    abnormal += prep.sliceLabels[0] == 1;
    healthy += prep.sliceLabels[0] == 0;
  }
  EXPECT_EQ(abnormal, 4);
  EXPECT_EQ(healthy, 2);
  // Validation data from a class-folder set: healthy and abnormal images, nothing refused.
  const DataReport r = checkTrainingData(root + "/test", DataRole::Validation, p);
  EXPECT_TRUE(r.usable()) << (r.problems.empty() ? "" : r.problems[0]);
  EXPECT_EQ(r.abnormalCases, 4);
  // Healthy training data from the root: the abnormal classes are left out, with a note.
  const DataReport h = checkTrainingData(root, DataRole::Healthy, p, {1, 2, {}});
  EXPECT_TRUE(h.usable()) << (h.problems.empty() ? "" : h.problems[0]);
  EXPECT_EQ(h.cases, 3);
  EXPECT_EQ(h.abnormalCases, 0);
}

TEST(Manifest, CarriesPerImageLabelsAndClasses) {
  TempDir d;
  OctPhantomOptions o;
  o.width = 256;
  o.depth = 248;
  o.depthMm = 0.96;
  o.bscans = 3;
  o.seed = 4;
  const OctPhantom ph = makeOctPhantom(o);
  writePngStack(ph.image, d.file("stack"));
  writeBscan(ph.image, 0, d.file("single.png"));
  std::ofstream(d.file("manifest.json")) << R"({"cases": [
      {"id": "vol", "image": "stack", "labels": [0, 1, null], "split": "test"},
      {"id": "img", "image": "single.png", "class": "DRUSEN", "split": "test"},
      {"id": "wrong", "image": "stack", "labels": [0, 1]}]})";
  const DataSet ds = openDataSet(d.path());
  ASSERT_EQ(ds.cases.size(), 3u);
  EXPECT_EQ(ds.cases[0].imageLabels, (std::vector<int>{0, 1, -1}));
  EXPECT_EQ(ds.cases[0].label, 1) << "a case with an abnormal image is abnormal";
  EXPECT_EQ(ds.cases[1].className, "DRUSEN");
  EXPECT_EQ(ds.cases[1].label, 1) << "a class other than the healthy one is abnormal";
  const Pipeline p = octPipeline();
  EXPECT_EQ(p.prepare(ds.cases[0]).sliceLabels, (std::vector<int>{0, 1, -1}));
  EXPECT_EQ(p.prepare(ds.cases[1]).sliceLabels, (std::vector<int>{1}));
  try {
    (void)p.prepare(ds.cases[2]);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("2 image labels"), std::string::npos) << e.what();
  }
  // A CSV manifest's class column; the written manifest reads back the same.
  std::ofstream(d.file("m.csv")) << "file,class,split\nsingle.png,NORMAL,train\nsingle.png,CNV,test\n";
  const DataSet csv = openDataSet(d.file("m.csv"));
  EXPECT_EQ(csv.cases[0].label, 0);
  EXPECT_EQ(csv.cases[1].label, 1);
  EXPECT_EQ(csv.cases[1].className, "CNV");
  writeManifest(d.file("back.json"), ds);
  const DataSet back = openDataSet(d.file("back.json"));
  EXPECT_EQ(back.cases[0].imageLabels, ds.cases[0].imageLabels);
  EXPECT_EQ(back.cases[1].className, "DRUSEN");
  // Bad labels are refused with the case named.
  std::ofstream(d.file("bad.json")) << R"({"cases": [{"id": "b", "image": "stack", "labels": [0, 2, 0]}]})";
  try {
    openDataSet(d.file("bad.json"));
    FAIL() << "no error";
  } catch (const FileError& e) {
    EXPECT_NE(e.reason().find("case b"), std::string::npos) << e.what();
  }
}

TEST(Brats2023, NamesOpenAsOneFourContrastCaseWithItsMask) {
  TempDir d;
  const std::string c = d.file("BraTS-GLI-00001-000");
  fs::create_directories(c);
  Volume v(PixelType::Float32, {12, 10, 6});
  for (std::int64_t i = 0; i < 12 * 10 * 6; ++i) v.data<float>()[i] = static_cast<float>(i % 17);
  for (const char* contrast : {"t1n", "t1c", "t2w", "t2f"})
    writeVolume(v, c + "/BraTS-GLI-00001-000-" + contrast + ".nii.gz");
  Volume seg(PixelType::UInt8, {12, 10, 6});
  seg.data<std::uint8_t>()[100] = 2;
  writeVolume(seg, c + "/BraTS-GLI-00001-000-seg.nii.gz");

  const DataSet one = openDataSet(c);
  ASSERT_EQ(one.cases.size(), 1u);
  EXPECT_EQ(one.cases[0].id, "BraTS-GLI-00001-000");
  EXPECT_EQ(one.cases[0].mask, fs::path(c + "/BraTS-GLI-00001-000-seg.nii.gz").lexically_normal().string());
  // A folder of such case folders: each a case with its label map.
  const DataSet root = openDataSet(d.path());
  ASSERT_EQ(root.cases.size(), 1u);
  EXPECT_FALSE(root.cases[0].mask.empty());

  const Volume set = loadContrastSet(c);
  EXPECT_EQ(set.channels(), 4);
  EXPECT_EQ(set.channelNames(), (std::vector<std::string>{"T1", "T1c", "T2", "FLAIR"}));
  EXPECT_EQ(set.metadata().modality, "MR");
}

TEST(Metrics, PerClassAucAgainstTheHealthyImages) {
  Scored s;
  auto add = [&](double score, int label, const std::string& cls) {
    ImageScore i;
    i.caseId = cls + std::to_string(s.images.size());
    i.score = score;
    i.label = label;
    i.className = cls;
    s.images.push_back(i);
  };
  for (double v : {0.1, 0.2, 0.3, 0.4}) add(v, 0, "NORMAL");
  for (double v : {0.5, 0.6}) add(v, 1, "CNV");         // above every healthy image: AUC 1
  for (double v : {0.15, 0.35}) add(v, 1, "DRUSEN");    // 1/4 and 3/4 of them below: AUC 0.5
  const nlohmann::json j = metricsJson(s, 0.45, std::nullopt, false);
  ASSERT_TRUE(j.contains("per_class")) << j.dump();
  EXPECT_DOUBLE_EQ(j["per_class"]["CNV"]["image_auc"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(j["per_class"]["DRUSEN"]["image_auc"].get<double>(), 0.5);
  EXPECT_EQ(j["per_class"]["CNV"]["images"], 2);
  EXPECT_EQ(j["per_class"]["CNV"]["healthy_images"], 4);
  EXPECT_EQ(j["healthy_class"], "NORMAL");
  EXPECT_DOUBLE_EQ(j["image_auc"].get<double>(), 0.75);
  EXPECT_FALSE(j["per_class"].contains("NORMAL"));
}
