#pragma once
// File > Export report...: the user picks the key images (the top-scoring and the flagged ones
// are proposed), writes a comment, chooses PDF and/or DICOM, de-identification and the folder;
// the export runs in a worker with progress and cancel and lists what it wrote. Optionally the
// DICOM objects then go to a configured PACS node (C-STORE) in the same worker.

#include <QDateTime>
#include <QDialog>
#include <QFutureWatcher>
#include <QStringList>

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "inference/ScanAnalysis.h"
#include "models/ModelFile.h"
#include "pacs/PacsSend.h"
#include "session/Session.h"

class QCheckBox;
class QComboBox;
class QDialogButtonBox;
class QLabel;
class QLineEdit;
class QListWidget;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;

namespace al::ui {

// Everything an export needs, copied or shared so the worker never touches the viewer's state.
struct ReportInputs {
  std::shared_ptr<const Volume> scan;
  std::shared_ptr<const inference::ScanAnalysis> analysis;  // may be null: a report without a model
  std::shared_ptr<const models::ModelCard> card;
  std::vector<Annotation> annotations;
  std::map<int, int> sliceLabels;
  QString scanLabel;
};

struct ReportExportOptions {
  bool pdf = true, dicom = true;
  bool anonymise = false, keepDates = false, keepUids = false;
  QString folder;
  QString comment;
  std::vector<int> keySlices;
};

struct ReportExportResult {
  QStringList files;
  QString error;
  bool cancelled = false;
  std::optional<PacsSendResult> sent;  // when the dialog sent the DICOM objects to a PACS
};

// The export itself (no widgets): what the dialog's worker runs and tests call directly. Writes
// report.pdf, the DICOM objects and report.json into options.folder. `cancel` is checked between
// objects; a cancelled export removes what it wrote. `progress` gets (done, total, what).
ReportExportResult exportReport(const ReportInputs& inputs, const ReportExportOptions& options, const std::atomic<bool>* cancel = nullptr,
                                const std::function<void(int, int, const QString&)>& progress = {});

class ExportReportDialog : public QDialog {
  Q_OBJECT
 public:
  ExportReportDialog(ReportInputs inputs, QWidget* parent = nullptr);
  ~ExportReportDialog() override;  // cancels a running export and waits for it

  ReportExportOptions options() const;
  void setFolder(const QString& folder);
  void setComment(const QString& comment);
  // The key images offered (slice, checked), for tests.
  std::vector<std::pair<int, bool>> keyImageChoices() const;
  void setKeyImageChecked(int slice, bool checked);
  // "Send to PACS": the configured node's name, "" for don't send.
  QString sendToNode() const;
  void setSendToNode(const QString& name);
  QStringList writtenFiles() const { return written_; }
  bool isRunning() const;

 public slots:
  void startExport();
  void cancelExport();

 signals:
  void exportFinished(const QStringList& files);
  void exportFailed(const QString& message);
  // After a successful export with a node chosen: how many objects were stored, or what failed.
  void sentToPacs(const QString& summary, bool ok);

 protected:
  void reject() override;

 private:
  void finished();
  void updateProgress(int done, int total, const QString& what);
  QString defaultFolder(bool deidentified) const;

  ReportInputs inputs_;
  QDateTime opened_ = QDateTime::currentDateTime();
  QListWidget* images_;
  QPlainTextEdit* comment_;
  QCheckBox* pdf_;
  QCheckBox* dicom_;
  QCheckBox* anonymise_;
  QCheckBox* keepDates_;
  QCheckBox* keepUids_;
  QLineEdit* folder_;
  QComboBox* sendTo_;
  QList<ConfiguredPacsNode> pacsNodes_;
  QProgressBar* progress_;
  QLabel* status_;
  QPushButton* exportButton_;
  QPushButton* cancelButton_;
  QDialogButtonBox* buttons_;
  QFutureWatcher<ReportExportResult> watcher_;
  std::shared_ptr<std::atomic<bool>> cancel_;
  QStringList written_;
};

}  // namespace al::ui
