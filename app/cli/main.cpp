// anomalylens-cli: the command line. Parsing and printing only; the work is core's.

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>

#include <unistd.h>

#include "errors/Error.h"
#include "io/DicomSeriesReader.h"
#include "io/VolumeInfo.h"
#include "io/VolumeWriter.h"
#include "io/mri/MriContrasts.h"
#include "io/oct/ImageStackReader.h"
#include "models/AnomalyModel.h"
#include "models/ModelFile.h"
#include "io/VolumeReader.h"
#include "phantom/PhantomStudy.h"
#include "runtime/Logging.h"
#include "runtime/TorchRuntime.h"
#include "runtime/Version.h"
#include "PacsCommands.h"
#include "ReportCommands.h"
#include "TrainCommands.h"

namespace {

std::string versionText() {
  return std::string(al::kProductName) + ' ' + al::kVersion + '\n' + al::torchRuntime().summary();
}

void printVolume(const al::Volume& volume, const nlohmann::json& d, const std::string& indent) {
  std::cout << indent << "format:      " << d["format"].get<std::string>() << '\n'
            << indent << "size:        " << volume.size().x << " x " << volume.size().y << " x " << volume.size().z;
  if (volume.channels() > 1) std::cout << " x " << volume.channels() << " channels";
  std::cout << '\n' << std::setprecision(6)
            << indent << "spacing:     " << volume.spacing()[0] << " x " << volume.spacing()[1] << " x " << volume.spacing()[2] << " mm\n"
            << indent << "pixel type:  " << al::pixelTypeName(volume.pixelType()) << '\n'
            << indent << "value range: " << d["value_range"][0].get<double>() << " .. " << d["value_range"][1].get<double>() << '\n';
  if (d.contains("transfer_syntax")) std::cout << indent << "transfer syntax: " << d["transfer_syntax"].get<std::string>() << '\n';
  if (d.contains("warnings")) {
    for (const auto& w : d["warnings"]) std::cout << indent << "warning: " << w.get<std::string>() << '\n';
  }
  for (const auto& [key, value] : d["metadata"].items()) std::cout << indent << key << ": " << value.get<std::string>() << '\n';
}

int runInfoVolume(const std::string& path, bool json);

// A folder: every DICOM series in it, each read and described, and the files that failed.
int runInfoFolder(const std::string& path, bool json) {
  std::error_code ec;
  const bool folder = std::filesystem::is_directory(path, ec);
  const al::DicomFolderIndex index = folder ? al::indexDicomFolder(path) : al::indexDicomDir(path);
  if (folder && index.series.empty() && index.errors.empty() && !al::imageStackFiles(path).empty()) {
    return runInfoVolume(path, json);  // a folder of B-scan images
  }
  nlohmann::json out = {{"path", path}, {"series", nlohmann::json::array()}, {"errors", nlohmann::json::array()}};
  int readable = 0;
  if (!json) std::cout << path << ": " << index.series.size() << " series\n";
  for (const auto& series : index.series) {
    nlohmann::json entry;
    const al::DicomSeriesPlan plan = al::planDicomSeries(series);
    if (!json) std::cout << "  series " << series.seriesNumber << " \"" << series.seriesDescription << "\" (" << series.files.size() << " files)\n";
    for (const auto& note : plan.notes) {
      if (!json) std::cout << "    note: " << note << '\n';
    }
    nlohmann::json stacks = nlohmann::json::array();
    for (const auto& stack : plan.stacks) {
      nlohmann::json d;
      try {
        const al::Volume volume = al::readDicomStack(stack);
        d = al::describeVolume(volume);
        ++readable;
        if (!json) {
          if (plan.stacks.size() > 1) std::cout << "    " << stack.label << '\n';
          printVolume(volume, d, plan.stacks.size() > 1 ? "      " : "    ");
        }
      } catch (const al::Error& e) {
        d = {{"metadata", {{"series_instance_uid", series.seriesInstanceUid}, {"series_description", series.seriesDescription}}},
             {"error", e.message()}};
        if (!json) std::cout << "    " << (plan.stacks.size() > 1 ? stack.label + ": " : std::string()) << "error: " << e.message() << '\n';
      }
      d["label"] = stack.label;
      d["files"] = stack.files.size();
      stacks.push_back(d);
    }
    if (stacks.size() == 1) {
      entry = stacks.front();  // one consistent stack: the series is that volume
    } else {
      entry = {{"metadata", {{"series_instance_uid", series.seriesInstanceUid}, {"series_description", series.seriesDescription}}},
               {"stacks", stacks}};
    }
    if (!plan.notes.empty()) entry["notes"] = plan.notes;
    entry["files"] = series.files.size();
    out["series"].push_back(entry);
  }
  for (const auto& [file, reason] : index.errors) {
    out["errors"].push_back({{"file", file}, {"reason", reason}});
    if (!json) std::cout << "  unreadable: " << file << ": " << reason << '\n';
  }
  if (json) std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  if (readable == 0) {
    std::cerr << "error: " << path << ": no readable DICOM image series\n";
    return 1;
  }
  return 0;
}

int runInfo(const std::string& path, bool json) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec) || (std::filesystem::is_regular_file(path, ec) && al::isDicomDir(path))) {
    return runInfoFolder(path, json);
  }
  return runInfoVolume(path, json);
}

int runInfoVolume(const std::string& path, bool json) {
  const al::Volume volume = al::readVolume(path);
  const nlohmann::json d = al::describeVolume(volume);
  if (json) {
    std::cout << d.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    return 0;
  }
  std::cout << path << '\n';
  printVolume(volume, d, "  ");
  return 0;
}

// A study's MRI contrasts (DICOM folder or BraTS-style NIfTI folder) on one grid.
int runContrasts(const std::string& path, const std::vector<std::string>& assignments, const std::string& referenceName,
                 const std::string& out) {
  std::vector<al::RegistrationReport> reports;
  al::Volume stacked;
  const al::DicomFolderIndex index = al::indexDicomFolder(path);
  if (index.series.empty()) {
    stacked = al::loadContrastSet(path, &reports);
  } else {
    std::map<std::string, al::MriContrast> overrides;
    for (const auto& a : assignments) {  // SERIES_UID=CONTRAST
      const auto eq = a.find('=');
      const al::MriContrast c = eq == std::string::npos ? al::MriContrast::Unknown : al::parseMriContrast(a.substr(eq + 1));
      if (c == al::MriContrast::Unknown) throw al::Error("--assign " + a, "expected SERIES_UID=T1|T1c|T2|FLAIR|PD|DWI");
      overrides[a.substr(0, eq)] = c;
    }
    const auto choices = al::groupMriContrasts(index.series, overrides);
    if (choices.empty()) throw al::Error(path, "no MR series whose contrast could be told");
    std::vector<al::Volume> volumes;
    std::vector<std::string> names;
    int reference = 0;
    for (const auto& c : choices) {
      std::cout << al::mriContrastName(c.contrast) << ": series " << c.series->seriesNumber << " \"" << c.series->seriesDescription
                << "\" (" << c.reason << "; " << c.series->seriesInstanceUid << ")\n";
      if (names.empty() || al::mriContrastName(c.contrast) == referenceName) reference = static_cast<int>(volumes.size());
      volumes.push_back(al::readDicomSeries(*c.series));
      names.emplace_back(al::mriContrastName(c.contrast));
    }
    if (!referenceName.empty() && names[static_cast<std::size_t>(reference)] != referenceName) {
      throw al::Error("--reference " + referenceName, "no such contrast in this study");
    }
    stacked = al::coregisterContrasts(volumes, names, reference, &reports);
  }
  for (const auto& r : reports) {
    std::cout << "  " << r.contrast << ": "
              << (r.registered ? "registered (" + std::to_string(r.translationMm) + " mm, " + std::to_string(r.rotationDegrees) + " degrees)"
                               : std::string("on the reference grid"))
              << '\n';
  }
  if (!out.empty()) {
    al::writeVolume(stacked, out);
    std::cout << "wrote " << out << " (" << stacked.channels() << " contrasts)\n";
  }
  return 0;
}

int runPhantom(al::PhantomRequest request) {
  const bool terminal = ::isatty(STDERR_FILENO) != 0;
  request.progress = [terminal](int done, int total) {
    if (terminal) {
      std::cerr << "\rphantom: " << done << " / " << total << " cases" << (done == total ? "\n" : "") << std::flush;
    } else if (done == total || done % 10 == 0) {
      std::cerr << "phantom: " << done << " / " << total << " cases\n";
    }
    return true;
  };
  const auto cases = al::writePhantomStudies(request);
  for (const auto& c : cases) std::cout << (std::filesystem::path(request.outDir) / c.image).string() << '\n';
  return 0;
}

// The five methods: what each learns from, its score and maps, its paper and sizes.
int runModelsMethods(bool json) {
  nlohmann::json out = nlohmann::json::array();
  for (al::models::ModelKind kind : al::models::allModelKinds()) {
    const auto info = al::models::methodInfo(kind);
    nlohmann::json presets = nlohmann::json::object();
    for (const char* preset : {"paper", "lite"}) {
      auto model = al::models::createModel(kind, preset);
      const auto in = model->input();
      presets[preset] = {{"parameters", model->parameterCount()},
                         {"input", std::to_string(in.width) + "x" + std::to_string(in.height) + "x" + std::to_string(in.channels)}};
    }
    out.push_back({{"kind", al::models::toString(kind)}, {"name", info.name}, {"paper", info.paper},
                   {"learns_from", info.learnsFrom}, {"score", info.score}, {"maps", info.maps},
                   {"needs", info.needs}, {"protocol", info.protocol}, {"published", info.published},
                   {"presets", presets}});
  }
  if (json) {
    std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    return 0;
  }
  for (const auto& m : out) {
    std::cout << m["kind"].get<std::string>() << "  " << m["name"].get<std::string>() << "\n"
              << "  paper:       " << m["paper"].get<std::string>() << "\n"
              << "  learns from: " << m["learns_from"].get<std::string>() << "\n"
              << "  score:       " << m["score"].get<std::string>() << "\n"
              << "  maps:        " << m["maps"].get<std::string>() << "\n";
    if (!m["needs"].get<std::string>().empty()) std::cout << "  needs:       " << m["needs"].get<std::string>() << "\n";
    for (const auto& [preset, p] : m["presets"].items())
      std::cout << "  " << std::left << std::setw(12) << (preset + ":") << p["parameters"].get<long>() << " parameters, input "
                << p["input"].get<std::string>() << "\n";
    std::cout << "  published:   " << m["published"].get<std::string>() << "\n\n";
  }
  return 0;
}

int runModelsInfo(const std::string& path, bool json) {
  const al::models::ModelCard card = al::models::readModelCard(path);
  if (json) {
    std::cout << al::models::toJson(card).dump(2) << '\n';
    return 0;
  }
  std::cout << card.name << ": " << al::models::displayName(card.kind) << " (" << card.configName << ")\n";
  if (!card.description.empty()) std::cout << "  " << card.description << '\n';
  if (!card.notes.empty()) std::cout << "  notes: " << card.notes << '\n';
  std::cout << "  input:      " << card.input.value("width", 0) << "x" << card.input.value("height", 0) << "x"
            << card.input.value("channels", 0) << ", " << card.input.value("mode", std::string()) << '\n'
            << "  parameters: " << card.parameterCount << '\n'
            << "  threshold:  " << (card.threshold ? std::to_string(*card.threshold) + " (" + card.thresholdMethod + ")" : "none") << '\n'
            << "  created:    " << card.created << " with LibTorch " << card.libtorchVersion << '\n'
            << "  weights:    " << card.weightsFile << " (SHA-256 " << card.weightsSha256 << ")\n";
  if (!card.metrics.empty()) std::cout << "  metrics:    " << card.metrics.dump() << '\n';
  return 0;
}

int runModelsVerify(const std::string& path) {
  al::models::verifyModel(path);
  std::cout << al::models::modelCardPath(path) << ": OK (card, weights hash, tensor names and shapes)\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"AnomalyLens command line: inspect scans, make phantoms, run models"};
  app.set_version_flag("--version", [] { return versionText(); });  // CLI11 prints it and exits
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "Log debug messages");
  app.require_subcommand(0, 1);

  auto* info = app.add_subcommand("info", "Describe a scan (size, spacing, pixel type, value range, metadata), or every DICOM series in a folder or DICOMDIR");
  std::string infoPath;
  bool infoJson = false;
  info->add_option("path", infoPath, "A scan file (DICOM, NIfTI, MetaImage, NRRD) or a folder of DICOM files")->required();
  info->add_flag("--json", infoJson, "Print JSON");

  auto* phantom = app.add_subcommand("phantom", "Write synthetic studies with known lesions, and a manifest");
  phantom->require_subcommand(1);
  al::PhantomRequest request;
  std::string format = "nifti";
  auto* oct = phantom->add_subcommand("oct", "Retinal OCT volumes (B-scans with retinal layers and lesions)");
  auto* mri = phantom->add_subcommand("mri", "Multi-contrast brain MRI (T1, T1c, T2, FLAIR) with lesions");
  for (auto* kind : {oct, mri}) {
    kind->add_option("--out", request.outDir, "Output folder")->required();
    kind->add_option("--healthy", request.healthy, "Cases without lesions")->check(CLI::NonNegativeNumber);
    kind->add_option("--anomalous", request.anomalous, "Cases with lesions")->check(CLI::NonNegativeNumber);
    kind->add_option("--seed", request.seed, "Random seed (the same seed gives the same studies)");
    kind->add_option("--format", format, "dicom, nifti, mha or png")->check(CLI::IsMember({"dicom", "nifti", "mha", "png"}));
  }
  oct->add_option("--bscans", request.bscans, "B-scans per volume")->check(CLI::Range(1, 512));

  auto* contrasts = app.add_subcommand("contrasts", "Group a study's MRI series into contrasts and put them on one grid");
  std::string contrastsPath, reference, contrastsOut;
  std::vector<std::string> assignments;
  contrasts->add_option("path", contrastsPath, "A DICOM study folder, or a folder of *_t1/_t1ce/_t2/_flair (BraTS 2023: *-t1n/-t1c/-t2w/-t2f) NIfTI files")->required();
  contrasts->add_option("--assign", assignments, "Override a series' contrast: SERIES_UID=T1|T1c|T2|FLAIR|PD|DWI");
  contrasts->add_option("--reference", reference, "Contrast whose grid the others are resampled onto (default T1)");
  contrasts->add_option("--out", contrastsOut, "Write the stacked contrasts as one 4D file (.nii.gz, .mha)");

  auto* models = app.add_subcommand("models", "The five anomaly-detection methods and model files");
  models->require_subcommand(1);
  auto* methods = models->add_subcommand("methods", "What each method learns from, its score, maps, paper and sizes");
  bool modelsJson = false;
  methods->add_flag("--json", modelsJson, "Print JSON");
  auto* modelInfo = models->add_subcommand("info", "Show a model's card");
  std::string modelPath;
  modelInfo->add_option("model", modelPath, "The model (NAME, NAME.json or NAME.safetensors)")->required();
  modelInfo->add_flag("--json", modelsJson, "Print JSON");
  auto* verify = models->add_subcommand("verify", "Check a model file: card, weights hash, tensor names and shapes");
  verify->add_option("model", modelPath, "The model (NAME, NAME.json or NAME.safetensors)")->required();

  al::cli::TrainCommands trainCommands;
  trainCommands.add(app, *models);
  al::cli::PacsCommands pacsCommands;
  pacsCommands.add(app);
  al::cli::ReportCommands reportCommands;
  reportCommands.add(app);

  CLI11_PARSE(app, argc, argv);
  al::initLogging({"anomalylens-cli", verbose, false});
  try {
    if (*info) return runInfo(infoPath, infoJson);
    if (*methods) return runModelsMethods(modelsJson);
    if (*modelInfo) return runModelsInfo(modelPath, modelsJson);
    if (*verify) return runModelsVerify(modelPath);
    if (const int rc = trainCommands.run(); rc >= 0) return rc;
    if (const int rc = pacsCommands.run(); rc >= 0) return rc;
    if (const int rc = reportCommands.run(argc, argv); rc >= 0) return rc;
    if (*contrasts) return runContrasts(contrastsPath, assignments, reference.empty() ? "T1" : reference, contrastsOut);
    if (*oct || *mri) {
      request.kind = *oct ? al::PhantomKind::Oct : al::PhantomKind::Mri;
      request.format = al::parsePhantomFormat(format);
      return runPhantom(request);
    }
    std::cout << app.help();
    return 0;
  } catch (const al::Error& e) {
    std::cerr << "error: " << e.message() << '\n';
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << '\n';
    return 1;
  }
}
