#pragma once
// Runs the training engine (training::Trainer, unchanged) in a worker thread for the wizard and
// turns its callbacks into signals on the GUI thread. The engine reports after every iteration;
// a tiny model does hundreds a second, so updates are gathered and delivered at most every
// `intervalMs` (every loss is kept, none dropped). Pause, resume and cancel go through the
// engine's thread-safe TrainingControl; cancel writes a checkpoint before the run ends.

#include <QElapsedTimer>
#include <QFutureWatcher>
#include <QImage>
#include <QList>
#include <QObject>
#include <QString>
#include <QStringList>
#include <map>
#include <memory>
#include <string>

#include "training/Trainer.h"

namespace al::ui {

struct LossPoint {
  long done = 0;  // iterations over all stages
  QString stage;
  std::map<std::string, double> losses;
};

struct SampleImages {
  QList<QImage> inputs, reconstructions, maps;
  QString mapName;
};

class TrainingRunner : public QObject {
  Q_OBJECT
 public:
  explicit TrainingRunner(QObject* parent = nullptr);
  ~TrainingRunner() override;  // cancels (writing a checkpoint) and waits

  // `lossLog`: where the losses go as CSV when the run ends or stops ("" for none).
  void start(const training::TrainingSpec& spec, bool resume, const QString& lossLog = {});
  void pause();
  void resume();
  void cancel();
  // From start() until the last signal of the run (the worker ends a moment before).
  bool isRunning() const { return running_; }
  bool isPaused() const;
  // Blocks until the worker ends (the window closing after cancel()).
  void waitForFinished() { watcher_.waitForFinished(); }

  const training::TrainingProgress& progress() const { return progress_; }
  const QList<LossPoint>& losses() const { return losses_; }
  const QList<training::ValidationPoint>& validations() const { return validations_; }
  const SampleImages& samples() const { return samples_; }
  const QStringList& log() const { return log_; }
  const training::TrainingOutcome& outcome() const { return outcome_; }
  // "wgan 120/1000, 12% of all, ETA 3 min" for the progress line.
  static QString describe(const training::TrainingProgress& p);

  int intervalMs = 100;

 signals:
  void progressed();          // progress() changed; losses from `firstNew` on are new
  void lossesAdded(int firstNew);
  void validated(const al::training::ValidationPoint& point);
  void samplesReady();
  void logged(const QString& line);
  void finished();                          // the model is written: outcome()
  void stopped(const QString& checkpoint);  // cancelled; "" when stopped before training began
  void failed(const QString& message);

 private:
  struct Shared;
  struct Result {
    training::TrainingOutcome outcome;
    QString error;
    bool cancelledEarly = false;
  };
  void flush();
  void readLossLog();
  void onFinished();

  std::shared_ptr<Shared> shared_;
  std::shared_ptr<training::TrainingControl> control_;
  QFutureWatcher<Result> watcher_;
  training::TrainingProgress progress_;
  QList<LossPoint> losses_;
  QList<training::ValidationPoint> validations_;
  SampleImages samples_;
  QStringList log_;
  training::TrainingOutcome outcome_;
  QString lossLog_;
  std::string checkpoint_;
  bool running_ = false;
};

}  // namespace al::ui

Q_DECLARE_METATYPE(al::training::ValidationPoint)
