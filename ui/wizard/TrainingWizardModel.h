#pragma once
// The training wizard's presenter: every page's state and validation, without widgets, so tests
// drive it with no display. It builds a TrainingSpec, the same specification the command line
// takes (`anomalylens-cli train --spec`), and hands it to the unchanged training engine through
// TrainingRunner. Reading the data and preparing the preview run in workers (QtConcurrent, as
// every long job in ui/ does); results come back as signals on the GUI thread.
//
// Pages: Method (kind, configuration) -> Data (healthy, mixed for A2B-GAN, validation; each a
// list of folders, files or manifests, checked case by case) -> Preview (the engine's own
// pipeline on a few healthy cases) -> Settings (iterations per stage, hyper-parameters with
// where they come from, checkpoints, device, seed, name) -> Run -> Finish (validation ROC,
// threshold by healthy percentile or Youden, Save into the user's models).

#include <QFutureWatcher>
#include <QImage>
#include <QList>
#include <QObject>
#include <QString>
#include <QStringList>
#include <atomic>
#include <map>
#include <utility>
#include <memory>
#include <optional>

#include "io/DicomSeriesReader.h"
#include "models/AnomalyModel.h"
#include "training/DataCheck.h"
#include "training/Trainer.h"

namespace al::ui {

class RocModel;

struct WizardThumbnail {
  QString id;
  QImage image;
};

struct PreviewItem {
  QString id;
  QImage original;  // the scan's image as read
  QImage prepared;  // what the model sees, the valid region outlined, a patch or the input size drawn
  QString caption;
};

struct StageSetting {
  QString name;
  QString description;
  long paperIterations = 0;
  long iterations = 0;
  bool fitPass = false;  // a pass over the data: its length is the data's, not a setting
};

struct HyperParameter {
  QString key;
  QString value;  // JSON text
  QString tooltip;  // the paper's value and the lite one, and where they come from
};

class TrainingWizardModel : public QObject {
  Q_OBJECT
 public:
  using Role = training::DataRole;

  explicit TrainingWizardModel(QObject* parent = nullptr);
  ~TrainingWizardModel() override;  // waits for its workers

  // ---- Method
  static QStringList methodKeys();                  // "anogan", "fanogan", ...
  static QString methodTitle(const QString& key);   // "f-AnoGAN"
  static QString methodHtml(const QString& key);    // learns from, score, maps, needs, paper
  static QStringList configs();                     // "paper", "lite", "tiny"
  static QString configText(const QString& config);
  QString method() const { return method_; }
  QString config() const { return config_; }
  void setMethod(const QString& key);  // throws al::Error on an unknown kind
  void setConfig(const QString& config);
  bool needsMixedSet() const;
  bool takesMri() const;
  const models::InputSpec& input() const { return input_; }

  // ---- Data
  QStringList sources(Role role) const;
  void setSources(Role role, const QStringList& paths);
  void addSource(Role role, const QString& path);
  void removeSource(Role role, int index);
  // Series picked in the study browser. Their folder may hold other series, so each is linked
  // into a folder of its own under the training folder: one case per series (OCT), or one case
  // per study whose series are its contrasts, named from the series descriptions (MRI). Returns
  // "" or why nothing was added.
  QString addSeries(Role role, const std::vector<DicomSeriesEntry>& series);
  // Reads every case of every role the method needs, in a worker; dataChecked() when done.
  // Changing sources or the method while it runs starts it again when it ends.
  void checkData();
  bool isCheckingData() const { return dataWatcher_.isRunning(); }
  bool isDataChecked() const;  // reports exist for the current sources and method
  std::optional<training::DataReport> report(Role role) const;
  QList<WizardThumbnail> thumbnails(Role role) const;
  QString reportText(Role role) const;  // counts and notes
  QString dataProblem() const;          // why the Data page cannot go on; "" when it can

  // ---- Preview
  void preparePreview();  // in a worker: previewReady() when done
  bool isPreparingPreview() const { return previewWatcher_.isRunning(); }
  const QList<PreviewItem>& preview() const { return preview_; }
  QString previewError() const { return previewError_; }
  QString pipelineText() const;  // the engine's steps for this input

  // ---- Settings
  QList<StageSetting> stages() const;
  void setIterations(const QString& stage, long iterations);
  QList<HyperParameter> hyperParameters() const;
  QString setHyperParameter(const QString& key, const QString& jsonValue);  // "" or why not
  void setCheckpointEvery(long n) { spec_.checkpointEvery = n; }
  void setValidateEvery(long n) { spec_.validateEvery = n; }
  void setValidationImages(int n) { spec_.validationImages = n; }
  void setSeed(std::uint64_t seed) { spec_.seed = seed; }
  void setDevice(const QString& device) { spec_.device = device.toStdString(); }
  void setName(const QString& name) { spec_.name = name.trimmed().toStdString(); }
  void setDescription(const QString& d) { spec_.description = d.trimmed().toStdString(); }
  static QStringList devices();    // "auto", "cpu", and "cuda" when usable
  static QString deviceText();     // what was found, and why there is no GPU
  QString settingsProblem() const;  // a missing or taken name, ...

  // ---- The specification and the run's folder
  training::TrainingSpec spec() const;
  // A run's folder under inference::trainingWorkDir(): the data manifests (when a role has
  // several sources), spec.json, the model being trained and its checkpoint, losses.csv.
  // Throws al::Error when it cannot be written.
  QString prepareRun();
  // Continue an interrupted run: its specification, as its checkpoint summary holds it.
  void setResumed(const training::CheckpointSummary& run);
  bool resumed() const { return resumed_; }
  QString runDir() const { return runDir_; }
  QString specPath() const;
  QString lossLogPath() const;
  // The command that reproduces the run from the terminal.
  QString commandLine() const;

  // ---- Finish
  void setOutcome(const training::TrainingOutcome& outcome);
  const training::TrainingOutcome& outcome() const { return outcome_; }
  RocModel* roc() const { return roc_; }
  bool hasAbnormalValidation() const;
  QString thresholdMethod() const { return QString::fromStdString(thresholdMethod_); }
  // "healthy-percentile", "youden" or "manual" (the threshold as it stands, until dragged); a
  // drag on the ROC panel's histogram makes it "manual".
  void setThresholdMethod(const QString& method);
  double healthyPercentile() const { return healthyPercentile_; }
  void setHealthyPercentile(double percentile);
  // Class-folder data (ROOT/{train,val,test}/CLASS/...): the class that is healthy (default
  // NORMAL, case-insensitive); the others are abnormal, kept out of training and labelled 1 in
  // validation. Blank restores the default; changing it checks the data again.
  QString healthyClass() const { return QString::fromStdString(spec_.healthyClass); }
  void setHealthyClass(const QString& name);
  double threshold() const;
  QString finishText() const;  // validation AUC, sensitivity/specificity at the threshold
  // Writes the model and its card into the user's models (NAME from setName) with the chosen
  // threshold; returns the card path. Throws al::Error (a taken name, a write). The run's folder
  // keeps the specification and manifests that the card's specification names.
  QString save();
  // The same in a worker (a paper-size model takes seconds to load and write): saved() or
  // saveFailed() when done.
  void saveInBackground();
  bool isSaving() const { return saveWatcher_.isRunning(); }
  QString name() const { return QString::fromStdString(spec_.name); }
  bool hasUnsavedModel() const;  // trained, not saved: closing would lose it
  // Removes the run: its folder when the wizard made it, else (a run the command line left) its
  // checkpoint only.
  void discardRun();

 signals:
  void methodChanged();
  void sourcesChanged();
  void dataChecked();
  void previewReady();
  void thresholdChanged(double threshold);
  void saved(const QString& cardPath);
  void saveFailed(const QString& message);

 private:
  struct DataResult;
  struct PreviewResult;
  struct SaveJob;
  SaveJob saveJob() const;
  static QString runSave(const SaveJob& job);
  void savedModel();
  void onSaved();
  QString previewKey() const;
  void onDataChecked();
  void onPreviewReady();
  std::vector<Role> rolesNeeded() const;
  training::Pipeline pipeline() const;
  // pipeline() lists the healthy data to see their modality: kept until the data, the method's
  // input or the preprocessing options change.
  mutable std::string pipelineKey_;
  mutable std::optional<training::Pipeline> pipelineCache_;
  QString dataKey() const;
  void recomputeThreshold();

  QString method_ = QStringLiteral("fanogan");
  QString config_ = QStringLiteral("lite");
  models::InputSpec input_;
  std::vector<models::TrainingStage> stages_;
  nlohmann::json configValues_;
  std::map<Role, QStringList> sources_;
  std::map<Role, training::DataReport> reports_;
  QString reportsKey_;  // the sources and method the reports were made for
  bool recheck_ = false;
  QFutureWatcher<std::shared_ptr<DataResult>> dataWatcher_;
  QFutureWatcher<std::shared_ptr<PreviewResult>> previewWatcher_;
  QFutureWatcher<std::pair<QString, QString>> saveWatcher_;  // card path, error
  bool repreview_ = false;
  std::shared_ptr<std::atomic<bool>> cancel_ = std::make_shared<std::atomic<bool>>(false);  // the wizard closes
  QList<PreviewItem> preview_;
  QString previewError_;
  training::TrainingSpec spec_;
  bool resumed_ = false;
  QString runDir_;
  training::TrainingOutcome outcome_;
  RocModel* roc_;
  std::string thresholdMethod_ = "healthy-percentile";  // or "youden", "manual" (dragged)
  double manualThreshold_ = 0;
  bool saved_ = false;
  double healthyPercentile_ = 99.0;
};

}  // namespace al::ui
