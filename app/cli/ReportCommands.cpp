#include "ReportCommands.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <QGuiApplication>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>

#include "errors/Error.h"
#include "inference/ModelCatalog.h"
#include "inference/ScanAnalysis.h"
#include "io/AtomicFile.h"
#include "models/AnomalyModel.h"
#include "models/ModelFile.h"
#include "report/DicomExport.h"
#include "report/ReportPdf.h"
#include "session/Session.h"
#include "training/DataSet.h"
#include "training/Pipeline.h"

namespace al::cli {

namespace fs = std::filesystem;

void ReportCommands::add(CLI::App& app) {
  report_ = app.add_subcommand("report", "Run a model on a scan and export the report: PDF, DICOM objects and report.json");
  report_->add_option("--model", model_, "The model: a bundled or saved model's name (a2bgan-oct-lite), or its card (NAME.json)")->required();
  report_->add_option("--input", input_, "The scan: a file, a DICOM series folder, or a manifest's first case")->required();
  report_->add_option("--out", out_, "Output folder (report.pdf, *.dcm, report.json)")->required();
  report_->add_flag("--pdf", pdf_, "Write report.pdf (default: PDF and DICOM)");
  report_->add_flag("--dicom", dicom_, "Write the DICOM objects: pmap.dcm, seg.dcm, sr.dcm, sc_NNN.dcm");
  report_->add_flag("--anonymise,--anonymize", anonymise_, "De-identify (DICOM PS3.15 Basic Profile); the PDF follows");
  report_->add_flag("--keep-dates", keepDates_, "With --anonymise: keep dates (Retain Longitudinal Full Dates option)");
  report_->add_flag("--keep-uids", keepUids_, "With --anonymise: keep UIDs (Retain UIDs option)");
  report_->add_option("--session", session_, "A saved reading session: its annotations, measurements and image marks");
  report_->add_option("--comment", comment_, "The reader's comment");
  report_->add_option("--key-images", keyImages_, "Key images (1-based image numbers); default: the 3 top-scoring and the flagged")
      ->delimiter(',');
  report_->add_option("--mask", mask_, "A lesion mask (labels the images: the report's ROC)");
  report_->add_option("--device", device_, "auto, cpu, cuda or cuda:N");
}

int ReportCommands::run(int argc, char** argv) {
  if (!report_ || !*report_) return -1;
  if (!pdf_ && !dicom_) pdf_ = dicom_ = true;
  if ((keepDates_ || keepUids_) && !anonymise_) throw Error("report", "--keep-dates and --keep-uids only go with --anonymise");

  // Text and pictures are drawn with QtGui; no window is shown, so no display is needed.
  std::unique_ptr<QGuiApplication> gui;
  if (!QGuiApplication::instance()) {
    if (!std::getenv("QT_QPA_PLATFORM")) ::setenv("QT_QPA_PLATFORM", "offscreen", 1);
    gui = std::make_unique<QGuiApplication>(argc, argv);
  }

  // A bundled or saved model by its name, as the viewer lists it, or a card's path.
  const std::string modelPath = inference::resolveModel(model_);
  auto loaded = models::loadModel(modelPath, device_);
  const training::Pipeline pipeline = training::Pipeline::fromJson(loaded.card.preprocessing, loaded.model->input());
  const training::DataSet ds = training::openDataSet(input_);
  training::DataCase c = ds.cases.front();
  if (ds.cases.size() > 1) std::cerr << "report: " << input_ << " holds " << ds.cases.size() << " scans; reporting on the first, " << c.id << '\n';
  if (!mask_.empty()) c.mask = fs::absolute(mask_).string();
  Volume scan = pipeline.readScan(c);
  if (scan.metadata().sourcePath.empty()) scan.metadata().sourcePath = c.image;
  std::optional<Volume> lesions;
  if (!c.mask.empty()) lesions = training::readCaseLabels(c.mask, scan.size(), "the lesion mask");
  inference::ScanAnalysisOptions opt;
  opt.lesionMask = lesions ? &*lesions : nullptr;
  opt.progress = [](double f, const std::string& stage) {
    std::cerr << "\rreport: " << stage << ' ' << static_cast<int>(f * 100) << "%   " << std::flush;
    return true;
  };
  const inference::ScanAnalysis analysis = inference::analyseScan(loaded, scan, opt);
  std::cerr << '\n';

  report::ReportRequest request;
  request.scan = &scan;
  request.runs = {{&loaded.card, &analysis}};
  request.comment = comment_;
  request.scanLabel = fs::path(c.image.empty() ? input_ : c.image).filename().string();
  if (!session_.empty()) {
    const Session s = loadSession(session_);
    request.annotations = s.annotations;
    request.sliceLabels = s.sliceLabels;
  }
  if (!keyImages_.empty()) {
    request.keySlices.emplace();
    for (int k : keyImages_) request.keySlices->push_back(k - 1);
  }
  const report::Anonymiser anonymiser({anonymise_, keepDates_, keepUids_});
  const report::Report r = report::buildReport(request, anonymiser);

  std::error_code ec;
  fs::create_directories(out_, ec);
  if (ec) throw FileError(out_, "cannot create the folder: " + ec.message());
  std::cout << r.summaries.front().modelName << ": " << r.summaries.front().reading << '\n';
  nlohmann::json j = report::toJson(r);
  if (pdf_) {
    const std::string pdf = (fs::path(out_) / "report.pdf").string();
    const int pages = ui::writeReportPdf(r, scan, QString::fromStdString(pdf));
    std::cout << pdf << " (" << pages << " pages)\n";
    j["pdf"] = "report.pdf";
  }
  if (dicom_) {
    const auto objects = report::writeDicomExport(r, scan, anonymiser, out_, {}, [&](const report::Report& rep, const report::KeyImage& k) {
      return ui::toRgbImage(ui::renderKeyImage(rep, scan, k));
    });
    nlohmann::json files = nlohmann::json::array();
    for (const auto& o : objects) {
      std::cout << o.path << " (" << o.kind << ")\n";
      files.push_back({{"kind", o.kind}, {"file", fs::path(o.path).filename().string()}, {"sop_class_uid", o.sopClassUid},
                       {"sop_instance_uid", o.sopInstanceUid}, {"series_instance_uid", o.seriesInstanceUid},
                       {"study_instance_uid", o.studyInstanceUid}});
    }
    j["dicom"] = files;
  }
  writeFileAtomically((fs::path(out_) / "report.json").string(), j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  return 0;
}

}  // namespace al::cli
