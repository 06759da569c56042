#pragma once
// anomalylens-cli report: a model run on a scan, exported as an annotated PDF, DICOM objects
// (Parametric Map, Segmentation, Comprehensive SR, Secondary Capture) and report.json.

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace al::cli {

struct ReportCommands {
  void add(CLI::App& app);
  int run(int argc, char** argv);  // -1: not this subcommand

 private:
  CLI::App* report_ = nullptr;
  std::string model_, input_, out_, session_, comment_, mask_, device_ = "auto";
  std::vector<int> keyImages_;
  bool pdf_ = false, dicom_ = false, anonymise_ = false, keepDates_ = false, keepUids_ = false;
};

}  // namespace al::cli
