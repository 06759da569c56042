#include "PacsCommands.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <iostream>

#include <unistd.h>

#include "errors/Error.h"
#include "pacs/PacsClient.h"

namespace al::cli {
namespace {

volatile std::sig_atomic_t interrupted = 0;
extern "C" void onPacsInterrupt(int) {
  interrupted = 1;
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process at once
}

// Ctrl-C during a transfer cancels it (C-CANCEL for a retrieve) instead of killing the process
// mid-file; the handler is put back when the transfer ends.
class InterruptCancels {
 public:
  InterruptCancels() : previous_(std::signal(SIGINT, onPacsInterrupt)) { interrupted = 0; }
  ~InterruptCancels() { std::signal(SIGINT, previous_); }
  InterruptCancels(const InterruptCancels&) = delete;
  InterruptCancels& operator=(const InterruptCancels&) = delete;

 private:
  void (*previous_)(int);
};

// "N / M files" on stderr: redrawn on a terminal (a few times a second), a line every 10% in a log.
pacs::Progress progressPrinter(const std::string& verb) {
  const bool terminal = ::isatty(STDERR_FILENO) != 0;
  auto last = std::chrono::steady_clock::time_point();
  int lastTenth = -1;
  return [=](int done, int total, const std::string&) mutable {
    if (interrupted) return false;
    const std::string of = total >= 0 ? std::to_string(total) : std::string("?");
    if (terminal) {
      const auto now = std::chrono::steady_clock::now();
      if (done != total && now - last < std::chrono::milliseconds(200)) return true;
      last = now;
      std::cerr << '\r' << verb << ": " << done << " / " << of << " files" << (done == total ? "\n" : "") << std::flush;
    } else if (total > 0) {
      const int tenth = done * 10 / total;
      if (tenth != lastTenth) std::cerr << verb << ": " << done << " / " << of << " files\n";
      lastTenth = tenth;
    }
    return true;
  };
}

// --date FROM-TO, FROM-, -TO or one day.
void parseDateRange(const std::string& text, pacs::QueryKeys& keys) {
  const auto dash = text.find('-');
  if (dash == std::string::npos) {
    keys.studyDateFrom = keys.studyDateTo = text;
  } else {
    keys.studyDateFrom = text.substr(0, dash);
    keys.studyDateTo = text.substr(dash + 1);
  }
  const auto isDate = [](const std::string& d) {
    return d.empty() || (d.size() == 8 && d.find_first_not_of("0123456789") == std::string::npos);
  };
  if ((keys.studyDateFrom.empty() && keys.studyDateTo.empty()) || !isDate(keys.studyDateFrom) || !isDate(keys.studyDateTo)) {
    throw Error("--date " + text, "expected YYYYMMDD, or a range YYYYMMDD-YYYYMMDD");
  }
}

std::string count(int n, const char* what) { return n < 0 ? std::string("? ") + what : std::to_string(n) + " " + what; }

}  // namespace

void PacsCommands::add(CLI::App& app) {
  pacs_ = app.add_subcommand("pacs", "Talk to a PACS: echo, find studies and series, get (C-GET) and store (C-STORE)");
  pacs_->require_subcommand(1);
  echo_ = pacs_->add_subcommand("echo", "Check that a DICOM node answers (C-ECHO)");
  find_ = pacs_->add_subcommand("find", "List the studies that match (C-FIND), or the series of one study (--study)");
  get_ = pacs_->add_subcommand("get", "Retrieve a study or one series (C-GET) into OUT/<study>/<series>/<instance>.dcm");
  store_ = pacs_->add_subcommand("store", "Send DICOM files and folders (C-STORE)");
  for (auto* sub : {echo_, find_, get_, store_}) {
    sub->add_option("--node", node_, "The PACS: AET@HOST:PORT")->required();
    sub->add_option("--aet", callingAe_, "Our (calling) AE title, as the PACS knows it (default ANOMALYLENS)");
    sub->add_option("--timeout", timeout_, "Seconds to wait for the connection and for each answer (default 30)")
        ->check(CLI::Range(1, 3600));
  }
  find_->add_option("--patient-id", patientId_, "Patient ID (wildcards * and ? allowed)");
  find_->add_option("--patient-name", patientName_, "Patient name, e.g. \"DOE^*\"");
  find_->add_option("--modality", modality_, "A modality in the study (MR, CT, OPT...), or of the series with --study");
  find_->add_option("--date", date_, "Study date: YYYYMMDD, or a range YYYYMMDD-YYYYMMDD (either end may be left out)");
  find_->add_option("--accession", accession_, "Accession number");
  find_->add_option("--study", study_, "List this study's series instead of studies");
  find_->add_flag("--json", json_, "Print JSON");
  get_->add_option("--study", study_, "Study Instance UID")->required();
  get_->add_option("--series", series_, "Series Instance UID (default: the whole study)");
  get_->add_option("--out", out_, "Output folder")->required();
  store_->add_option("paths", paths_, "DICOM files and folders (searched recursively)")->required();
}

int PacsCommands::run() {
  if (!pacs_ || !*pacs_) return -1;
  pacs::PacsNode node = pacs::parseNode(node_);
  node.callingAeTitle = callingAe_;
  node.timeoutSeconds = timeout_;
  const std::string name = pacs::toString(node);

  if (*echo_) {
    const auto start = std::chrono::steady_clock::now();
    pacs::echo(node);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
    std::cout << name << ": C-ECHO answered in " << ms << " ms\n";
    return 0;
  }

  if (*find_ && !study_.empty()) {
    const auto series = pacs::findSeries(node, study_, modality_);
    if (json_) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& s : series) {
        out.push_back({{"study_instance_uid", s.studyInstanceUid}, {"series_instance_uid", s.seriesInstanceUid},
                       {"modality", s.modality}, {"series_number", s.seriesNumber},
                       {"series_description", s.seriesDescription}, {"number_of_instances", s.numberOfInstances}});
      }
      std::cout << out.dump(2) << '\n';
      return 0;
    }
    std::cout << "study " << study_ << ": " << series.size() << " series\n";
    for (const auto& s : series) {
      std::cout << "  " << s.seriesNumber << "  " << s.modality << "  \"" << s.seriesDescription << "\"  "
                << count(s.numberOfInstances, "instances") << "  " << s.seriesInstanceUid << '\n';
    }
    return 0;
  }

  if (*find_) {
    pacs::QueryKeys keys;
    keys.patientId = patientId_;
    keys.patientName = patientName_;
    keys.modality = modality_;
    keys.accessionNumber = accession_;
    if (!date_.empty()) parseDateRange(date_, keys);
    const auto studies = pacs::findStudies(node, keys);
    if (json_) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& s : studies) {
        out.push_back({{"patient_name", s.patientName}, {"patient_id", s.patientId}, {"patient_birth_date", s.patientBirthDate},
                       {"study_instance_uid", s.studyInstanceUid}, {"study_date", s.studyDate}, {"study_time", s.studyTime},
                       {"study_description", s.studyDescription}, {"accession_number", s.accessionNumber},
                       {"modalities_in_study", s.modalitiesInStudy}, {"number_of_series", s.numberOfSeries},
                       {"number_of_instances", s.numberOfInstances}});
      }
      std::cout << out.dump(2) << '\n';
      return 0;
    }
    std::cout << studies.size() << " studies on " << name << '\n';
    for (const auto& s : studies) {
      std::cout << "  " << (s.studyDate.empty() ? std::string("--------") : s.studyDate) << "  " << s.patientId << "  "
                << s.patientName << "  " << s.modalitiesInStudy << "  " << count(s.numberOfSeries, "series") << ", "
                << count(s.numberOfInstances, "instances") << "  \"" << s.studyDescription << "\"  " << s.studyInstanceUid << '\n';
    }
    return 0;
  }

  if (*get_) {
    const InterruptCancels interrupts;
    const auto r = pacs::retrieve(node, study_, series_, out_, progressPrinter("get"));
    const std::string where = (std::filesystem::path(out_) / study_).string();
    std::cout << "retrieved " << r.files.size() << " files into " << where;
    if (r.warnings > 0) std::cout << " (" << r.warnings << " with warnings)";
    std::cout << '\n';
    if (r.cancelled) {
      std::cerr << "error: " << name << ": cancelled after " << r.files.size() << " files\n";
      return 130;
    }
    if (r.failed > 0) {
      std::cerr << "error: " << name << ": " << r.failed << " objects could not be retrieved\n";
      return 1;
    }
    if (r.files.empty()) {
      std::cerr << "error: " << name << ": nothing to retrieve for study " << study_ << (series_.empty() ? "" : " series " + series_) << '\n';
      return 1;
    }
    return 0;
  }

  if (*store_) {
    const InterruptCancels interrupts;
    const auto r = pacs::store(node, paths_, progressPrinter("store"));
    std::cout << "stored " << r.stored << " files on " << name << '\n';
    for (const auto& [file, reason] : r.failed) std::cerr << "error: " << file << ": " << reason << '\n';
    if (r.cancelled) {
      std::cerr << "error: " << name << ": cancelled after " << r.stored << " files\n";
      return 130;
    }
    if (!r.failed.empty()) return 1;
    if (r.stored == 0) {
      std::cerr << "error: no DICOM files in the paths given\n";
      return 1;
    }
    return 0;
  }
  return -1;
}

}  // namespace al::cli
