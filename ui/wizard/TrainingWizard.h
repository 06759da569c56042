#pragma once
// The training wizard's window: six pages over TrainingWizardModel (the logic) and
// TrainingRunner (the engine in a worker). Non-modal, so the viewer stays usable during hours
// of training. Closing it while training runs asks, then stops the run with a checkpoint that
// the viewer offers to resume at its next start.

#include <QString>
#include <QWizard>
#include <functional>
#include <vector>

#include "io/DicomSeriesReader.h"

namespace al::training {
struct CheckpointSummary;
}

namespace al::ui {

class TrainingWizardModel;
class TrainingRunner;

class TrainingWizard : public QWizard {
  Q_OBJECT
 public:
  enum PageId { MethodPageId, DataPageId, PreviewPageId, SettingsPageId, RunPageId, FinishPageId };

  explicit TrainingWizard(QWidget* parent = nullptr);
  ~TrainingWizard() override;

  TrainingWizardModel* model() const { return model_; }
  TrainingRunner* runner() const { return runner_; }
  // Opens on the Run page, continuing an interrupted run from its checkpoint.
  void resumeRun(const training::CheckpointSummary& run);
  // Where "Add the open scan" on the Data page takes its path from (the viewer's open scan).
  void setOpenScanProvider(std::function<QString()> provider) { openScan_ = std::move(provider); }
  QString openScan() const { return openScan_ ? openScan_() : QString(); }
  // The series selected in the viewer's study browser.
  void setSeriesProvider(std::function<std::vector<DicomSeriesEntry>()> provider) { series_ = std::move(provider); }
  std::vector<DicomSeriesEntry> selectedSeries() const { return series_ ? series_() : std::vector<DicomSeriesEntry>(); }
  // Asked before closing while training runs (the run stops with a checkpoint) or with a
  // trained model not yet saved (it is discarded); the default asks with a message box. Tests
  // replace it.
  void setConfirm(std::function<bool(const QString& question)> confirm) { confirm_ = std::move(confirm); }
  // Closing was confirmed and waits for the run to stop at its checkpoint.
  bool isStopping() const { return closeWhenStopped_; }

 public slots:
  void reject() override;

 signals:
  void modelSaved(const QString& cardPath);

 private:
  bool confirm(const QString& title, const QString& question);

  TrainingWizardModel* model_;
  TrainingRunner* runner_;
  std::function<QString()> openScan_;
  std::function<std::vector<DicomSeriesEntry>()> series_;
  std::function<bool(const QString&)> confirm_;
  bool closeWhenStopped_ = false;
};

}  // namespace al::ui
