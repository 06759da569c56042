#include <gtest/gtest.h>

#include <itkResampleImageFilter.h>
#include <itkVersorRigid3DTransform.h>

#include <cstring>

#include "TestPaths.h"
#include "errors/Error.h"
#include "image/ItkBridge.h"
#include "io/DicomSeriesReader.h"
#include "io/mri/MriContrasts.h"
#include "phantom/MriPhantom.h"
#include "phantom/PhantomStudy.h"

using namespace al;

namespace {

std::vector<DicomSeriesEntry> phantomDicomStudy(const TempDir& dir) {
  PhantomRequest r;
  r.kind = PhantomKind::Mri;
  r.healthy = 1;
  r.anomalous = 0;
  r.format = PhantomFormat::Dicom;
  r.outDir = dir.path();
  const auto cases = writePhantomStudies(r);
  return indexDicomFolder(dir.file(cases[0].image)).series;
}

std::string contrastOf(const std::vector<ContrastChoice>& choices, MriContrast c) {
  for (const auto& ch : choices) {
    if (ch.contrast == c) return ch.series->seriesDescription;
  }
  return "(none)";
}

}  // namespace

TEST(MriContrasts, SeriesAreToldApartByDescriptionAndByPhysics) {
  TempDir dir;
  auto series = phantomDicomStudy(dir);
  ASSERT_EQ(series.size(), 4u);
  auto choices = groupMriContrasts(series);
  ASSERT_EQ(choices.size(), 4u);
  EXPECT_EQ(contrastOf(choices, MriContrast::T1), "T1 SE");
  EXPECT_EQ(contrastOf(choices, MriContrast::T1c), "T1 SE post-contrast");
  EXPECT_EQ(contrastOf(choices, MriContrast::T2), "T2 TSE");
  EXPECT_EQ(contrastOf(choices, MriContrast::Flair), "T2 FLAIR");
  // Without names, TE/TR/TI and the contrast agent still tell them apart.
  for (auto& s : series) {
    for (auto& f : s.files) f.seriesDescription = f.protocolName = "";
  }
  choices = groupMriContrasts(series);
  ASSERT_EQ(choices.size(), 4u);
  for (const auto& c : choices) {
    EXPECT_NE(c.reason.find("TE"), std::string::npos) << c.reason;
    EXPECT_EQ(c.series->files.front().contrastAgent.empty(), c.contrast != MriContrast::T1c);
  }
  // The user's word wins.
  const std::string t2 = choices[2].series->seriesInstanceUid;
  choices = groupMriContrasts(series, {{t2, MriContrast::PD}});
  bool pd = false;
  for (const auto& c : choices) pd = pd || (c.contrast == MriContrast::PD && c.reason == "set by the user");
  EXPECT_TRUE(pd);
}

TEST(MriContrasts, BratsNamedNiftiSetStacksOnOneGrid) {
  TempDir dir;
  PhantomRequest r;
  r.kind = PhantomKind::Mri;
  r.healthy = 0;
  r.anomalous = 1;
  r.outDir = dir.path();
  const auto cases = writePhantomStudies(r);  // mri_0000/mri_0000_t1.nii.gz, _t1ce, _t2, _flair
  std::vector<RegistrationReport> reports;
  const Volume v = loadContrastSet(dir.file(cases[0].image), &reports);
  ASSERT_EQ(v.channels(), 4);
  EXPECT_EQ(v.channelNames(), (std::vector<std::string>{"T1", "T1c", "T2", "FLAIR"}));
  for (const auto& rep : reports) EXPECT_FALSE(rep.registered) << rep.contrast;  // already co-registered
  MriPhantomOptions o;
  o.seed = r.seed * 1000003ull;
  o.lesions = MriLesionOptions::randomMix(o.seed);
  const MriPhantom p = makeMriPhantom(o);
  EXPECT_EQ(v.value(40, 50, 30, 3), p.image.value(40, 50, 30, 3));  // FLAIR
  EXPECT_THROW(loadContrastSet(dir.path()), FileError);              // no contrast files there
}

TEST(MriContrasts, AMovedContrastIsRegisteredBack) {
  MriPhantomOptions o;
  o.sizeX = o.sizeY = 64;
  o.sizeZ = 48;
  o.spacing = 3.0;
  o.noise = 0.01;
  const MriPhantom p = makeMriPhantom(o);
  Volume t1(PixelType::Float32, p.image.size()), t2(PixelType::Float32, p.image.size());
  for (std::int64_t i = 0; i < t1.voxelsPerChannel(); ++i) {
    t1.data<float>()[i] = p.image.data<std::int16_t>()[i];
    t2.data<float>()[i] = p.image.data<std::int16_t>()[2 * t1.voxelsPerChannel() + i];
  }
  for (Volume* v : {&t1, &t2}) {
    v->setSpacing(p.image.spacing());
    v->setOrigin(p.image.origin());
  }
  // Move T2: rotate 5 degrees about the head's vertical axis, shift (6, -4, 3) mm, on a grid
  // whose origin is also shifted, as another acquisition would be.
  using Transform = itk::VersorRigid3DTransform<double>;
  auto truth = Transform::New();
  Transform::AxisType axis;
  axis[0] = 0;
  axis[1] = 0;
  axis[2] = 1;
  truth->SetRotation(axis, 5.0 * 3.14159265358979 / 180);
  Transform::OutputVectorType shift;
  shift[0] = 6;
  shift[1] = -4;
  shift[2] = 3;
  truth->SetTranslation(shift);
  auto resample = itk::ResampleImageFilter<ItkImage3<float>, ItkImage3<float>>::New();
  const auto original = toItk<float>(t2);
  resample->SetInput(original);
  resample->SetTransform(truth);
  resample->SetReferenceImage(original);
  resample->UseReferenceImageOn();
  resample->Update();
  Volume moved = fromItk<float>(resample->GetOutput());
  moved.setOrigin({t2.origin()[0] + 1.5, t2.origin()[1], t2.origin()[2]});

  std::vector<RegistrationReport> reports;
  const Volume stacked = coregisterContrasts({t1, moved}, {"T1", "T2"}, 0, &reports);
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_FALSE(reports[0].registered);
  ASSERT_TRUE(reports[1].registered);
  // Inside the brain, the registered T2 is far closer to the true T2 than the moved one was.
  double before = 0, after = 0, n = 0;
  for (std::int64_t i = 0; i < t2.voxelsPerChannel(); ++i) {
    if (!p.brainMask.data<std::uint8_t>()[i]) continue;
    const double truthValue = t2.data<float>()[i];
    before += std::abs(moved.data<float>()[i] - truthValue);
    after += std::abs(stacked.data<float>()[t2.voxelsPerChannel() + i] - truthValue);
    n += 1;
  }
  EXPECT_LT(after, 0.4 * before) << "mean error before " << before / n << ", after " << after / n;
  EXPECT_NEAR(reports[1].rotationDegrees, 5.0, 1.5);
  EXPECT_FALSE(stacked.metadata().warnings.empty());
}
