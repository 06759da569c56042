// anomalylens-cli: the command line. Parsing and printing only; the work is core's.

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>

#include "errors/Error.h"
#include "io/AtomicFile.h"
#include "io/VolumeInfo.h"
#include "io/VolumeReader.h"
#include "io/VolumeWriter.h"
#include "phantom/OctPhantom.h"
#include "runtime/Logging.h"
#include "runtime/TorchRuntime.h"
#include "runtime/Version.h"

namespace {

std::string versionText() {
  return std::string(al::kProductName) + ' ' + al::kVersion + '\n' + al::torchRuntime().summary();
}

int runInfo(const std::string& path, bool json) {
  const al::Volume volume = al::readVolume(path);
  const nlohmann::json d = al::describeVolume(volume);
  if (json) {
    std::cout << d.dump(2) << '\n';
    return 0;
  }
  std::cout << path << '\n'
            << "  format:      " << d["format"].get<std::string>() << '\n'
            << "  size:        " << volume.size().x << " x " << volume.size().y << " x " << volume.size().z;
  if (volume.channels() > 1) std::cout << " x " << volume.channels() << " channels";
  std::cout << '\n' << std::setprecision(6)
            << "  spacing:     " << volume.spacing()[0] << " x " << volume.spacing()[1] << " x " << volume.spacing()[2] << " mm\n"
            << "  pixel type:  " << al::pixelTypeName(volume.pixelType()) << '\n'
            << "  value range: " << d["value_range"][0].get<double>() << " .. " << d["value_range"][1].get<double>() << '\n';
  if (d.contains("transfer_syntax")) std::cout << "  transfer syntax: " << d["transfer_syntax"].get<std::string>() << '\n';
  for (const auto& [key, value] : d["metadata"].items()) std::cout << "  " << key << ": " << value.get<std::string>() << '\n';
  return 0;
}

int runOctPhantom(const std::string& outDir, std::uint32_t seed, int healthy, int anomalous, int bscans) {
  namespace fs = std::filesystem;
  fs::create_directories(outDir);
  std::string manifest = "file,label,mask\n";
  int index = 0;
  for (int i = 0; i < healthy + anomalous; ++i, ++index) {
    al::OctPhantomOptions o;
    o.seed = seed + static_cast<std::uint32_t>(index);
    o.bscans = bscans;
    const bool abnormal = i >= healthy;
    o.drusen = abnormal ? 3 : 0;
    o.cysts = abnormal ? 2 : 0;
    const auto phantom = al::makeOctPhantom(o);
    char stem[32];
    std::snprintf(stem, sizeof(stem), "oct_%04d", index);
    al::writeVolume(phantom.image, (fs::path(outDir) / (std::string(stem) + ".nii.gz")).string());
    al::writeVolume(phantom.mask, (fs::path(outDir) / (std::string(stem) + "_mask.nii.gz")).string());
    manifest += std::string(stem) + ".nii.gz," + (abnormal ? "1" : "0") + "," + stem + "_mask.nii.gz\n";
    std::cout << (fs::path(outDir) / (std::string(stem) + ".nii.gz")).string() << '\n';
  }
  al::writeFileAtomically((fs::path(outDir) / "manifest.csv").string(), manifest);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"AnomalyLens command line: inspect scans, make phantoms, run models"};
  app.set_version_flag("--version", [] { return versionText(); });  // CLI11 prints it and exits
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "Log debug messages");
  app.require_subcommand(0, 1);

  auto* info = app.add_subcommand("info", "Describe a scan: size, spacing, pixel type, value range, metadata");
  std::string infoPath;
  bool infoJson = false;
  info->add_option("path", infoPath, "A scan file (DICOM, NIfTI, MetaImage, NRRD)")->required();
  info->add_flag("--json", infoJson, "Print JSON");

  auto* phantom = app.add_subcommand("phantom", "Write synthetic scans with known lesions");
  auto* oct = phantom->add_subcommand("oct", "Retinal OCT volumes (NIfTI), with lesion masks and a manifest");
  phantom->require_subcommand(1);
  std::string outDir;
  std::uint32_t seed = 1;
  int healthy = 0, anomalous = 1, bscans = 49;
  oct->add_option("--out", outDir, "Output folder")->required();
  oct->add_option("--seed", seed, "Random seed (the same seed gives the same volumes)");
  oct->add_option("--healthy", healthy, "Volumes without lesions")->check(CLI::NonNegativeNumber);
  oct->add_option("--anomalous", anomalous, "Volumes with lesions")->check(CLI::NonNegativeNumber);
  oct->add_option("--bscans", bscans, "B-scans per volume")->check(CLI::Range(1, 512));

  CLI11_PARSE(app, argc, argv);
  al::initLogging({"anomalylens-cli", verbose, false});
  try {
    if (*info) return runInfo(infoPath, infoJson);
    if (*oct) return runOctPhantom(outDir, seed, healthy, anomalous, bscans);
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
