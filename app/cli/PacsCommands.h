#pragma once
// The command line's PACS commands: pacs echo | find | get | store against one DICOM node
// (AET@HOST:PORT). Options in, core/pacs calls, listings and progress out.

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace al::cli {

// Registers `pacs` and its subcommands on `app`; run() runs whichever was chosen, or returns -1
// when none of them was.
struct PacsCommands {
  void add(CLI::App& app);
  int run();  // -1: not one of these

 private:
  CLI::App* pacs_ = nullptr;
  CLI::App* echo_ = nullptr;
  CLI::App* find_ = nullptr;
  CLI::App* get_ = nullptr;
  CLI::App* store_ = nullptr;

  std::string node_, callingAe_ = "ANOMALYLENS";
  int timeout_ = 30;
  // find
  std::string patientId_, patientName_, modality_, date_, accession_;
  bool json_ = false;
  // find --study (lists its series), get
  std::string study_, series_, out_;
  // store
  std::vector<std::string> paths_;
};

}  // namespace al::cli
