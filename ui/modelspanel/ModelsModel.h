#pragma once
// The models panel's presenter: the bundled and the user's models from their cards, which of
// them can take the open scan, and running one on it in a worker thread with progress, ETA and
// cancel. Results are kept per scan and model, so going back to a series shows its maps again
// without a second run. Models load (and their weights are verified) once, in the worker, on
// the GPU when there is one.

#include <QElapsedTimer>
#include <QFutureWatcher>
#include <QObject>
#include <QString>
#include <QStringList>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "image/Volume.h"
#include "inference/ModelCatalog.h"
#include "inference/ScanAnalysis.h"

namespace al::ui {

struct ModelRunOutcome {
  std::shared_ptr<const inference::ScanAnalysis> analysis;
  QString error;  // the user message when the run failed
  bool cancelled = false;
  QString scanKey;
  QString cardPath;
};

class ModelsModel : public QObject {
  Q_OBJECT
 public:
  explicit ModelsModel(QObject* parent = nullptr);
  ~ModelsModel() override;  // cancels a run and waits for it

  // Lists the cards in these folders (default: the bundled models, then the user's).
  void reload(const std::vector<std::string>& dirs = inference::bundledModelDirs(),
              const std::vector<std::string>& userDirs = {inference::userModelDir()});
  const std::vector<inference::CatalogEntry>& entries() const { return entries_; }
  int count() const { return static_cast<int>(entries_.size()); }
  int indexOf(const QString& nameOrPath) const;  // by card name or path; -1 when absent
  // A card from anywhere (a model trained elsewhere, `--model PATH`) joins the list for this
  // session, as the user's; its index (the existing one when it is listed already). -1 with
  // `error` set (the file and the reason) when it is not a readable model card.
  int addCard(const QString& cardPath, QString* error);
  QStringList problems() const { return problems_; }
  // One line for the list and a longer text for the tooltip / details box.
  QString summary(int index) const;
  QString details(int index) const;

  // The open scan: `key` names it for the cache (its path and series); `lesionMask` labels its
  // slices for the ROC panel and `brainMask` is ADM's valid region, when a manifest gives them.
  void setScan(std::shared_ptr<const Volume> scan, const QString& key, const QString& lesionMask = {},
               const QString& brainMask = {});
  void clearScan();
  bool hasScan() const { return scan_ != nullptr; }
  QString scanKey() const { return scanKey_; }
  QString compatibility(int index) const;  // "" when the model can take the open scan
  // The default model for the open scan: the compatible one with the best test AUC.
  int suggested() const;

  bool isRunning() const { return watcher_.isRunning(); }
  int runningIndex() const { return running_; }
  // Starts a run on the open scan; a cached result is delivered at once (finished). While a run
  // for another scan (or a cancelled one) is still winding down, the new run waits for it.
  // Returns false and emits failed() with the reason when it cannot start.
  bool run(int index);
  void cancel();
  std::shared_ptr<const inference::ScanAnalysis> cached(int index) const;

  // "CPU" or "CUDA (device name)": where runs go.
  static QString deviceDescription();
  static QString formatEta(double seconds);

 signals:
  void modelsChanged();
  void runStarted(int index);
  void progressChanged(double fraction, const QString& stage, const QString& eta);
  void finished(int index, std::shared_ptr<const al::inference::ScanAnalysis> analysis);
  void failed(const QString& message);
  void cancelled();   // the user cancelled a run on the open scan
  void superseded();  // a run ended unseen because another scan was opened (its result is cached)

 private:
  void onFinished();
  void onProgress(double fraction, const QString& stage);

  std::vector<inference::CatalogEntry> entries_;
  QStringList problems_;
  std::shared_ptr<const Volume> scan_;
  QString scanKey_;
  QString lesionMask_;
  QString brainMask_;
  int running_ = -1;
  QFutureWatcher<ModelRunOutcome> watcher_;
  std::shared_ptr<std::atomic<bool>> cancel_;
  QElapsedTimer clock_;
  // Results by (scan, card), least recently used first out past kCacheBytes (maps are
  // full-resolution floats: a large CT with two maps is about 1 GB).
  struct CacheEntry {
    std::shared_ptr<const inference::ScanAnalysis> analysis;
    std::size_t bytes = 0;
    std::uint64_t used = 0;
  };
  static constexpr std::size_t kCacheBytes = std::size_t{1} << 31;
  void remember(const QString& scanKey, const QString& cardPath, std::shared_ptr<const inference::ScanAnalysis> a);
  mutable std::map<std::pair<QString, QString>, CacheEntry> cache_;
  mutable std::uint64_t tick_ = 0;
  QString runningKey_;
  int queued_ = -1;
  struct Loaded;
  std::shared_ptr<Loaded> loaded_;  // models loaded in workers, by card path
};

}  // namespace al::ui

Q_DECLARE_METATYPE(std::shared_ptr<const al::inference::ScanAnalysis>)
