#include "report/ExportReportDialog.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDateTime>
#include <QDesktopServices>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QPointer>
#include <QProgressBar>
#include <QRegularExpression>
#include <QPushButton>
#include <QUrl>
#include <QVBoxLayout>
#include <QtConcurrent>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>

#include "errors/Error.h"
#include "io/AtomicFile.h"
#include "report/DicomExport.h"
#include "report/ReportPdf.h"
#include "runtime/Logging.h"

namespace al::ui {

namespace fs = std::filesystem;

ReportExportResult exportReport(const ReportInputs& in, const ReportExportOptions& o, const std::atomic<bool>* cancel,
                                const std::function<void(int, int, const QString&)>& progress) {
  ReportExportResult result;
  const auto cancelled = [&] { return cancel && cancel->load(); };
  // All or nothing: what a failed or cancelled export wrote is removed.
  const auto undo = [&] {
    for (const auto& f : result.files) QFile::remove(f);
    result.files.clear();
    result.cancelled = true;
  };
  try {
    if (!in.scan) throw Error("report", "no scan is open");
    if (o.folder.isEmpty()) throw Error("report", "no folder chosen");
    if (!o.pdf && !o.dicom) throw Error("report", "choose the PDF, the DICOM objects or both");
    report::ReportRequest request;
    request.scan = in.scan.get();
    if (in.analysis && in.card) request.runs = {{in.card.get(), in.analysis.get()}};
    request.annotations = in.annotations;
    request.sliceLabels = in.sliceLabels;
    request.keySlices = o.keySlices;
    request.comment = o.comment.toStdString();
    request.scanLabel = in.scanLabel.toStdString();
    const report::Anonymiser anonymiser({o.anonymise, o.keepDates, o.keepUids});
    const report::Report r = report::buildReport(request, anonymiser);
    const fs::path folder = o.folder.toStdString();
    std::error_code ec;
    fs::create_directories(folder, ec);
    if (ec) throw FileError(folder.string(), "cannot create the folder: " + ec.message());

    const int total = (o.pdf ? 1 : 0) + (o.dicom ? 3 + static_cast<int>(r.keyImages.size()) : 0) + 1;
    int done = 0;
    const auto step = [&](const QString& what) {
      if (progress) progress(done, total, what);
    };
    nlohmann::json j = report::toJson(r);
    if (o.pdf) {
      step(QObject::tr("Writing the PDF"));
      const QString pdf = QString::fromStdString((folder / "report.pdf").string());
      writeReportPdf(r, *in.scan, pdf);
      result.files << pdf;
      j["pdf"] = "report.pdf";
      ++done;
    }
    if (cancelled()) {
      undo();
      return result;
    }
    if (o.dicom) {
      step(QObject::tr("Writing the DICOM objects"));
      const Volume& scan = *in.scan;
      report::DicomExportOptions dicomOptions;
      dicomOptions.cancelled = cancelled;
      const auto objects = report::writeDicomExport(r, scan, anonymiser, folder.string(), dicomOptions, [&](const report::Report& rep, const report::KeyImage& k) {
        if (progress) progress(done, total, QObject::tr("Key image %1").arg(k.slice + 1));
        ++done;
        return toRgbImage(renderKeyImage(rep, scan, k));
      });
      nlohmann::json files = nlohmann::json::array();
      for (const auto& obj : objects) {
        result.files << QString::fromStdString(obj.path);
        files.push_back({{"kind", obj.kind}, {"file", fs::path(obj.path).filename().string()}, {"sop_instance_uid", obj.sopInstanceUid},
                         {"series_instance_uid", obj.seriesInstanceUid}, {"study_instance_uid", obj.studyInstanceUid}});
      }
      j["dicom"] = files;
      done = total - 1;
    }
    if (cancelled()) {
      undo();
      return result;
    }
    const std::string json = (folder / "report.json").string();
    writeFileAtomically(json, j.dump(2) + "\n");
    result.files << QString::fromStdString(json);
    if (progress) progress(total, total, QObject::tr("Done"));
  } catch (const report::ExportCancelled&) {
    undo();
  } catch (const Error& e) {
    undo();
    result.cancelled = false;
    result.error = QString::fromStdString(e.message());
  } catch (const std::exception& e) {
    undo();
    result.cancelled = false;
    result.error = QString::fromUtf8(e.what());
  }
  return result;
}

ExportReportDialog::ExportReportDialog(ReportInputs inputs, QWidget* parent) : QDialog(parent), inputs_(std::move(inputs)) {
  setWindowTitle(tr("Export report"));
  setObjectName(QStringLiteral("exportReportDialog"));
  auto* layout = new QVBoxLayout(this);

  auto* imagesBox = new QGroupBox(tr("Key images (the proposed ones are ticked: the top-scoring and those you flagged or annotated)"));
  auto* imagesLayout = new QVBoxLayout(imagesBox);
  images_ = new QListWidget;
  images_->setObjectName(QStringLiteral("keyImages"));
  imagesLayout->addWidget(images_);
  layout->addWidget(imagesBox, 2);
  const Volume* scan = inputs_.scan.get();
  const auto proposed = report::proposeKeyImages(inputs_.analysis.get(), inputs_.annotations);
  const int slices = scan ? static_cast<int>(scan->size().z) : 0;
  for (int z = 0; z < slices; ++z) {
    double score = std::nan("");
    if (inputs_.analysis && z < static_cast<int>(inputs_.analysis->sliceScores.size())) score = inputs_.analysis->sliceScores[static_cast<std::size_t>(z)];
    bool isProposed = false, flagged = false, annotated = false, top = false;
    for (const auto& k : proposed) {
      if (k.slice != z) continue;
      isProposed = true;
      flagged = k.flagged;
      annotated = k.annotated;
      top = k.topScoring;
    }
    QStringList why;
    if (top) why << tr("top-scoring");
    if (flagged) why << tr("flagged");
    if (annotated) why << tr("annotated");
    QString text = tr("Image %1").arg(z + 1);
    if (std::isfinite(score)) text += tr("   score %1").arg(score, 0, 'g', 4);
    if (!why.isEmpty()) text += "   (" + why.join(", ") + ")";
    auto* item = new QListWidgetItem(text, images_);
    item->setData(Qt::UserRole, z);
    item->setFlags(item->flags() | Qt::ItemIsUserCheckable);
    item->setCheckState(isProposed ? Qt::Checked : Qt::Unchecked);
  }

  auto* commentBox = new QGroupBox(tr("Comment (printed in the report and stored in the SR as written: free text is not de-identified)"));
  auto* commentLayout = new QVBoxLayout(commentBox);
  comment_ = new QPlainTextEdit;
  comment_->setObjectName(QStringLiteral("comment"));
  comment_->setPlaceholderText(tr("What you saw, what should be checked..."));
  commentLayout->addWidget(comment_);
  layout->addWidget(commentBox, 1);

  auto* form = new QFormLayout;
  pdf_ = new QCheckBox(tr("PDF report (report.pdf)"));
  pdf_->setChecked(true);
  dicom_ = new QCheckBox(tr("DICOM: Parametric Map, Segmentation, SR and key images (new series of the study)"));
  dicom_->setChecked(true);
  auto* outputs = new QVBoxLayout;
  outputs->addWidget(pdf_);
  outputs->addWidget(dicom_);
  form->addRow(tr("Write"), outputs);
  anonymise_ = new QCheckBox(tr("De-identify (DICOM PS3.15 Basic Profile; the PDF follows)"));
  anonymise_->setObjectName(QStringLiteral("anonymise"));
  keepDates_ = new QCheckBox(tr("keep dates"));
  keepUids_ = new QCheckBox(tr("keep UIDs"));
  keepDates_->setEnabled(false);
  keepUids_->setEnabled(false);
  connect(anonymise_, &QCheckBox::toggled, keepDates_, &QWidget::setEnabled);
  // The default folder is named after the scan, whose file name often names the patient: a
  // de-identified report gets a neutral one.
  connect(anonymise_, &QCheckBox::toggled, this, [this](bool on) {
    if (folder_->text() == defaultFolder(!on)) folder_->setText(defaultFolder(on));
  });
  connect(anonymise_, &QCheckBox::toggled, keepUids_, &QWidget::setEnabled);
  auto* anon = new QHBoxLayout;
  anon->addWidget(anonymise_);
  anon->addWidget(keepDates_);
  anon->addWidget(keepUids_);
  anon->addStretch();
  form->addRow(tr("Privacy"), anon);
  folder_ = new QLineEdit(defaultFolder(false));
  folder_->setObjectName(QStringLiteral("folder"));
  auto* browse = new QPushButton(tr("Browse..."));
  connect(browse, &QPushButton::clicked, this, [this] {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Export the report into"), folder_->text());
    if (!dir.isEmpty()) folder_->setText(dir);
  });
  auto* folderRow = new QHBoxLayout;
  folderRow->addWidget(folder_, 1);
  folderRow->addWidget(browse);
  form->addRow(tr("Folder"), folderRow);
  sendTo_ = new QComboBox;
  sendTo_->setObjectName(QStringLiteral("sendToPacs"));
  sendTo_->addItem(tr("Don't send"), QString());
  pacsNodes_ = loadPacsNodes();
  for (const auto& n : pacsNodes_) sendTo_->addItem(pacsNodeLabel(n), n.name);
  sendTo_->setToolTip(tr("After the export, the DICOM objects are sent (C-STORE) to this node; configure nodes in the PACS panel"));
  connect(dicom_, &QCheckBox::toggled, sendTo_, &QWidget::setEnabled);
  form->addRow(tr("Send to PACS"), sendTo_);
  layout->addLayout(form);

  progress_ = new QProgressBar;
  progress_->setVisible(false);
  status_ = new QLabel;
  status_->setWordWrap(true);
  status_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  layout->addWidget(progress_);
  layout->addWidget(status_);
  if (!inputs_.analysis)
    status_->setText(tr("No model has run on this scan: the report will hold the scan, your annotations and your comment only."));

  buttons_ = new QDialogButtonBox;
  exportButton_ = buttons_->addButton(tr("Export"), QDialogButtonBox::AcceptRole);
  exportButton_->setObjectName(QStringLiteral("exportButton"));
  cancelButton_ = buttons_->addButton(tr("Close"), QDialogButtonBox::RejectRole);
  connect(exportButton_, &QPushButton::clicked, this, &ExportReportDialog::startExport);
  connect(cancelButton_, &QPushButton::clicked, this, &ExportReportDialog::reject);
  layout->addWidget(buttons_);
  connect(&watcher_, &QFutureWatcher<ReportExportResult>::finished, this, &ExportReportDialog::finished);
  resize(640, 680);
}

ExportReportDialog::~ExportReportDialog() {
  if (cancel_) cancel_->store(true);
  watcher_.waitForFinished();
}

QString ExportReportDialog::defaultFolder(bool deidentified) const {
  QString name = deidentified || inputs_.scanLabel.isEmpty() ? QStringLiteral("report") : QFileInfo(inputs_.scanLabel).completeBaseName();
  name.replace(QRegularExpression(QStringLiteral("[^A-Za-z0-9_.-]+")), QStringLiteral("_"));
  const QString base = QString::fromStdString(userDataDir()) + QStringLiteral("/reports");
  return base + "/" + name + "-" + opened_.toString(QStringLiteral("yyyyMMdd-HHmmss"));
}

ReportExportOptions ExportReportDialog::options() const {
  ReportExportOptions o;
  o.pdf = pdf_->isChecked();
  o.dicom = dicom_->isChecked();
  o.anonymise = anonymise_->isChecked();
  o.keepDates = o.anonymise && keepDates_->isChecked();
  o.keepUids = o.anonymise && keepUids_->isChecked();
  o.folder = folder_->text().trimmed();
  o.comment = comment_->toPlainText();
  for (int i = 0; i < images_->count(); ++i)
    if (images_->item(i)->checkState() == Qt::Checked) o.keySlices.push_back(images_->item(i)->data(Qt::UserRole).toInt());
  return o;
}

void ExportReportDialog::setFolder(const QString& folder) { folder_->setText(folder); }
void ExportReportDialog::setComment(const QString& comment) { comment_->setPlainText(comment); }

std::vector<std::pair<int, bool>> ExportReportDialog::keyImageChoices() const {
  std::vector<std::pair<int, bool>> out;
  for (int i = 0; i < images_->count(); ++i)
    out.emplace_back(images_->item(i)->data(Qt::UserRole).toInt(), images_->item(i)->checkState() == Qt::Checked);
  return out;
}

void ExportReportDialog::setKeyImageChecked(int slice, bool checked) {
  for (int i = 0; i < images_->count(); ++i)
    if (images_->item(i)->data(Qt::UserRole).toInt() == slice) images_->item(i)->setCheckState(checked ? Qt::Checked : Qt::Unchecked);
}

QString ExportReportDialog::sendToNode() const { return sendTo_->isEnabled() ? sendTo_->currentData().toString() : QString(); }

void ExportReportDialog::setSendToNode(const QString& name) {
  const int index = sendTo_->findData(name);
  sendTo_->setCurrentIndex(index >= 0 ? index : 0);
}

bool ExportReportDialog::isRunning() const { return watcher_.isRunning(); }

void ExportReportDialog::startExport() {
  if (watcher_.isRunning()) return;
  ReportExportOptions o = options();
  if (o.folder.isEmpty()) {
    status_->setText(tr("Choose a folder to export into."));
    return;
  }
  cancel_ = std::make_shared<std::atomic<bool>>(false);
  progress_->setVisible(true);
  progress_->setRange(0, 0);
  status_->setText(tr("Exporting..."));
  exportButton_->setEnabled(false);
  cancelButton_->setText(tr("Cancel"));
  written_.clear();
  QPointer<ExportReportDialog> self(this);
  const ReportInputs in = inputs_;
  const auto cancel = cancel_;
  std::optional<ConfiguredPacsNode> node;
  for (const auto& n : pacsNodes_)
    if (n.name == sendToNode()) node = n;
  watcher_.setFuture(QtConcurrent::run([in, o, cancel, self, node]() {
    const auto progress = [self](int done, int total, const QString& what) {
      QMetaObject::invokeMethod(qApp, [self, done, total, what] {
        ExportReportDialog* dialog = self.data();
        if (dialog == nullptr) return;
        dialog->updateProgress(done, total, what);
      }, Qt::QueuedConnection);
    };
    ReportExportResult r = exportReport(in, o, cancel.get(), progress);
    // What was written stays written: a send that fails or is cancelled is reported on its own.
    if (node && o.dicom && r.error.isEmpty() && !r.cancelled) r.sent = sendToPacs(r.files, *node, cancel.get(), progress);
    return r;
  }));
}

void ExportReportDialog::updateProgress(int done, int total, const QString& what) {
  progress_->setRange(0, total);
  progress_->setValue(done);
  status_->setText(what);
}

void ExportReportDialog::cancelExport() {
  if (cancel_) cancel_->store(true);
}

void ExportReportDialog::reject() {
  if (watcher_.isRunning()) {
    cancelExport();
    status_->setText(tr("Cancelling..."));
    return;
  }
  QDialog::reject();
}

void ExportReportDialog::finished() {
  const ReportExportResult r = watcher_.result();
  progress_->setVisible(false);
  exportButton_->setEnabled(true);
  cancelButton_->setText(tr("Close"));
  if (r.cancelled) {
    status_->setText(tr("Cancelled: nothing was kept."));
    emit exportFailed(tr("cancelled"));
    return;
  }
  if (!r.error.isEmpty()) {
    status_->setText(tr("The report could not be exported: %1").arg(r.error));
    emit exportFailed(r.error);
    return;
  }
  written_ = r.files;
  QStringList names;
  for (const auto& f : r.files) names << QFileInfo(f).fileName();
  QString text = tr("Wrote %n file(s) into %1: %2", nullptr, static_cast<int>(r.files.size())).arg(folder_->text(), names.join(", "));
  if (r.sent) text += QStringLiteral("\n") + r.sent->summary();
  status_->setText(text);
  if (r.sent) emit sentToPacs(r.sent->summary(), r.sent->ok());
  emit exportFinished(r.files);
}

}  // namespace al::ui
