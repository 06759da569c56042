#include "io/mri/MriContrasts.h"

#include <itkCenteredTransformInitializer.h>
#include <itkImageRegistrationMethodv4.h>
#include <itkLinearInterpolateImageFunction.h>
#include <itkMattesMutualInformationImageToImageMetricv4.h>
#include <itkRegistrationParameterScalesFromPhysicalShift.h>
#include <itkRegularStepGradientDescentOptimizerv4.h>
#include <itkResampleImageFilter.h>
#include <itkVersorRigid3DTransform.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>

#include "errors/Error.h"
#include "image/ItkBridge.h"
#include "io/VolumeReader.h"

namespace al {

const char* mriContrastName(MriContrast c) {
  switch (c) {
    case MriContrast::T1: return "T1";
    case MriContrast::T1c: return "T1c";
    case MriContrast::T2: return "T2";
    case MriContrast::Flair: return "FLAIR";
    case MriContrast::PD: return "PD";
    case MriContrast::DWI: return "DWI";
    case MriContrast::Unknown: break;
  }
  return "unknown";
}

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Whole-word-ish search: `word` not preceded or followed by a letter or digit.
bool hasWord(const std::string& text, const std::string& word) {
  for (std::size_t p = text.find(word); p != std::string::npos; p = text.find(word, p + 1)) {
    const bool before = p == 0 || !std::isalnum(static_cast<unsigned char>(text[p - 1]));
    const std::size_t e = p + word.size();
    const bool after = e >= text.size() || !std::isalnum(static_cast<unsigned char>(text[e])) ||
                       (word.size() <= 3 && (text[e] == 'w' || text[e] == 'c'));  // t1w, t2w, t1c
    if (before && after) return true;
  }
  return false;
}

}  // namespace

MriContrast parseMriContrast(const std::string& name) {
  const std::string n = lower(name);
  if (n == "t1" || n == "t1n" || n == "t1w") return MriContrast::T1;
  if (n == "t1c" || n == "t1ce" || n == "t1gd" || n == "t1+c") return MriContrast::T1c;
  if (n == "t2" || n == "t2w") return MriContrast::T2;
  if (n == "flair" || n == "t2f") return MriContrast::Flair;
  if (n == "pd") return MriContrast::PD;
  if (n == "dwi" || n == "adc") return MriContrast::DWI;
  return MriContrast::Unknown;
}

ContrastGuess classifyMriSeries(const DicomFileHeader& h) {
  const std::string text = lower(h.seriesDescription + " " + h.protocolName);
  const bool agent = !h.contrastAgent.empty() || hasWord(text, "gd") || hasWord(text, "post") || hasWord(text, "ce") ||
                     text.find("+c") != std::string::npos || text.find("contrast") != std::string::npos;
  auto guess = [](MriContrast c, std::string why) { return ContrastGuess{c, std::move(why)}; };
  // 1. What the series is called.
  if (text.find("flair") != std::string::npos) return guess(MriContrast::Flair, "description says FLAIR");
  if (text.find("dwi") != std::string::npos || text.find("diffusion") != std::string::npos || hasWord(text, "adc") ||
      text.find("trace") != std::string::npos) {
    return guess(MriContrast::DWI, "description says diffusion");
  }
  if (hasWord(text, "t1") || text.find("mprage") != std::string::npos || text.find("spgr") != std::string::npos) {
    return agent ? guess(MriContrast::T1c, "T1 with a contrast agent (" + (h.contrastAgent.empty() ? std::string("description") : "ContrastBolusAgent " + h.contrastAgent) + ")")
                 : guess(MriContrast::T1, "description says T1");
  }
  if (hasWord(text, "t2")) return guess(MriContrast::T2, "description says T2");
  if (hasWord(text, "pd") || text.find("proton") != std::string::npos) return guess(MriContrast::PD, "description says PD");
  // 2. The physics of the acquisition.
  const double te = h.echoTime, tr = h.repetitionTime, ti = h.inversionTime;
  char why[128];
  std::snprintf(why, sizeof(why), "TE %.0f ms, TR %.0f ms, TI %.0f ms", te, tr, ti);
  if (h.diffusionBValue > 0) return guess(MriContrast::DWI, "diffusion b-value " + std::to_string(static_cast<int>(h.diffusionBValue)));
  if (ti > 1500 && te > 70) return guess(MriContrast::Flair, std::string(why) + ": long inversion, long echo");
  if (te >= 70 && tr >= 1500) return guess(MriContrast::T2, std::string(why) + ": long echo, long repetition");
  if (te > 0 && te <= 30 && tr > 0 && tr <= 900) {
    return agent ? guess(MriContrast::T1c, std::string(why) + " with a contrast agent") : guess(MriContrast::T1, std::string(why) + ": short echo, short repetition");
  }
  if (te > 0 && te <= 30 && tr >= 1500) return guess(MriContrast::PD, std::string(why) + ": short echo, long repetition");
  return guess(MriContrast::Unknown, "neither description nor TE/TR/TI tell");
}

std::vector<ContrastChoice> groupMriContrasts(const std::vector<DicomSeriesEntry>& series,
                                              const std::map<std::string, MriContrast>& overrides) {
  std::map<MriContrast, ContrastChoice> best;
  for (const auto& s : series) {
    if (s.files.empty() || (!s.modality.empty() && s.modality != "MR")) continue;
    ContrastGuess g;
    if (auto it = overrides.find(s.seriesInstanceUid); it != overrides.end()) {
      g = {it->second, "set by the user"};
    } else {
      g = classifyMriSeries(s.files.front());
    }
    if (g.contrast == MriContrast::Unknown) continue;
    auto it = best.find(g.contrast);
    if (it == best.end() || s.files.size() > it->second.series->files.size()) best[g.contrast] = {g.contrast, &s, g.reason};
  }
  std::vector<ContrastChoice> out;
  for (auto& [c, choice] : best) out.push_back(choice);  // map order: T1, T1c, T2, FLAIR, PD, DWI
  return out;
}

namespace {

using Image = ItkImage3<float>;

bool sameGrid(const Volume& a, const Volume& b) {
  if (!(a.size() == b.size())) return false;
  for (int i = 0; i < 3; ++i) {
    if (std::abs(a.spacing()[i] - b.spacing()[i]) > 1e-4 || std::abs(a.origin()[i] - b.origin()[i]) > 1e-3) return false;
  }
  for (int i = 0; i < 9; ++i) {
    if (std::abs(a.direction()[i] - b.direction()[i]) > 1e-5) return false;
  }
  return true;
}

// Rigid registration of `moving` to `fixed` (Mattes MI, versor rigid, three resolutions), then
// resampling of `moving` onto the fixed grid.
Image::Pointer registerRigid(const Image* fixed, const Image* moving, RegistrationReport& report) {
  using Transform = itk::VersorRigid3DTransform<double>;
  using Optimizer = itk::RegularStepGradientDescentOptimizerv4<double>;
  using Metric = itk::MattesMutualInformationImageToImageMetricv4<Image, Image>;
  using Registration = itk::ImageRegistrationMethodv4<Image, Image, Transform>;
  auto transform = Transform::New();
  auto initializer = itk::CenteredTransformInitializer<Transform, Image, Image>::New();
  initializer->SetTransform(transform);
  initializer->SetFixedImage(fixed);
  initializer->SetMovingImage(moving);
  initializer->GeometryOn();
  initializer->InitializeTransform();

  auto metric = Metric::New();
  metric->SetNumberOfHistogramBins(32);
  auto optimizer = Optimizer::New();
  optimizer->SetLearningRate(2.0);
  optimizer->SetMinimumStepLength(1e-3);
  optimizer->SetRelaxationFactor(0.6);
  optimizer->SetNumberOfIterations(150);
  auto scales = itk::RegistrationParameterScalesFromPhysicalShift<Metric>::New();
  scales->SetMetric(metric);
  optimizer->SetScalesEstimator(scales);
  optimizer->SetDoEstimateLearningRateOnce(true);

  auto registration = Registration::New();
  registration->SetFixedImage(fixed);
  registration->SetMovingImage(moving);
  registration->SetMetric(metric);
  registration->SetOptimizer(optimizer);
  registration->SetInitialTransform(transform);
  registration->InPlaceOn();
  registration->SetMetricSamplingStrategy(Registration::MetricSamplingStrategyEnum::RANDOM);
  registration->SetMetricSamplingPercentage(0.2);
  registration->MetricSamplingReinitializeSeed(20261127);  // the same result on every run
  Registration::ShrinkFactorsArrayType shrink(3);
  shrink[0] = 4;
  shrink[1] = 2;
  shrink[2] = 1;
  Registration::SmoothingSigmasArrayType sigmas(3);
  sigmas[0] = 2;
  sigmas[1] = 1;
  sigmas[2] = 0;
  registration->SetNumberOfLevels(3);
  registration->SetShrinkFactorsPerLevel(shrink);
  registration->SetSmoothingSigmasPerLevel(sigmas);
  try {
    registration->Update();
  } catch (const itk::ExceptionObject& e) {
    throw Error("registration", std::string("rigid registration failed: ") + e.GetDescription());
  }
  const auto t = transform->GetTranslation();
  report.translationMm = std::sqrt(t[0] * t[0] + t[1] * t[1] + t[2] * t[2]);
  report.rotationDegrees = transform->GetVersor().GetAngle() * 180.0 / 3.14159265358979323846;
  report.finalMetric = optimizer->GetValue();

  auto resample = itk::ResampleImageFilter<Image, Image>::New();
  resample->SetInput(moving);
  resample->SetTransform(transform);
  resample->SetInterpolator(itk::LinearInterpolateImageFunction<Image, double>::New());
  resample->UseReferenceImageOn();
  resample->SetReferenceImage(fixed);
  resample->SetDefaultPixelValue(0);
  resample->Update();
  return resample->GetOutput();
}

}  // namespace

Volume coregisterContrasts(const std::vector<Volume>& volumes, const std::vector<std::string>& names, int reference,
                           std::vector<RegistrationReport>* reports) {
  if (volumes.empty() || names.size() != volumes.size() || reference < 0 || reference >= static_cast<int>(volumes.size())) {
    throw Error("contrasts", "nothing to stack, or no such reference contrast");
  }
  const Volume& ref = volumes[static_cast<std::size_t>(reference)];
  Volume out(PixelType::Float32, ref.size(), static_cast<int>(volumes.size()));
  out.setSpacing(ref.spacing());
  out.setOrigin(ref.origin());
  out.setDirection(ref.direction());
  out.setChannelNames(names);
  out.metadata() = ref.metadata();
  const auto fixed = toItk<float>(ref, 0);
  const std::int64_t n = ref.voxelsPerChannel();
  for (std::size_t i = 0; i < volumes.size(); ++i) {
    RegistrationReport report;
    report.contrast = names[i];
    const Volume& v = volumes[i];
    float* dst = out.data<float>() + static_cast<std::int64_t>(i) * n;
    if (sameGrid(v, ref)) {
      visitVoxels(v, [&](const auto* p, std::int64_t) {
        for (std::int64_t k = 0; k < n; ++k) dst[k] = static_cast<float>(p[k]);
      });
    } else {
      report.registered = true;
      const auto result = registerRigid(fixed.GetPointer(), toItk<float>(v, 0).GetPointer(), report);
      std::copy(result->GetBufferPointer(), result->GetBufferPointer() + n, dst);
      out.metadata().warnings.push_back(names[i] + " co-registered to " + names[static_cast<std::size_t>(reference)] + " (rigid, mutual information)");
    }
    if (reports) reports->push_back(report);
  }
  return out;
}

Volume loadContrastSet(const std::string& folder, std::vector<RegistrationReport>* reports) {
  namespace fs = std::filesystem;
  std::map<MriContrast, std::string> found;
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = lower(it->path().filename().string());
    for (const char* ext : {".nii.gz", ".nii", ".mha"}) {
      const std::string e = ext;
      if (name.size() > e.size() && name.compare(name.size() - e.size(), e.size(), e) == 0) {
        name.resize(name.size() - e.size());
        // BraTS up to 2021 writes CASE_t1ce, BraTS 2023 on CASE-t1c.
        const auto separator = name.find_last_of("_-");
        if (separator == std::string::npos) break;
        const MriContrast c = parseMriContrast(name.substr(separator + 1));
        if (c != MriContrast::Unknown && c != MriContrast::DWI) found[c] = it->path().string();
        break;
      }
    }
  }
  if (found.empty()) throw FileError(folder, "holds no contrast files named *_t1, *_t1ce, *_t2, *_flair or (BraTS 2023) *-t1n, *-t1c, *-t2w, *-t2f (.nii, .nii.gz, .mha)");
  std::vector<Volume> volumes;
  std::vector<std::string> names;
  int reference = 0;
  for (const auto& [c, path] : found) {
    if (c == MriContrast::T1) reference = static_cast<int>(volumes.size());
    Volume v = readVolume(path);
    if (v.channels() != 1) throw FileError(path, "a contrast file must hold one 3D volume");
    volumes.push_back(std::move(v));
    names.emplace_back(mriContrastName(c));
  }
  Volume out = coregisterContrasts(volumes, names, reference, reports);
  out.metadata().sourcePath = folder;
  out.metadata().modality = "MR";
  return out;
}

}  // namespace al
