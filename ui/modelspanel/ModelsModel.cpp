#include "modelspanel/ModelsModel.h"

#include <QMetaObject>
#include <QPointer>
#include <QtConcurrent/QtConcurrentRun>
#include <chrono>
#include <cmath>
#include <utility>

#include "errors/Error.h"
#include "io/VolumeReader.h"
#include "models/ModelFile.h"
#include "runtime/TorchRuntime.h"
#include "training/Pipeline.h"

namespace al::ui {

struct ModelsModel::Loaded {
  std::mutex mutex;
  std::map<std::string, std::shared_ptr<models::LoadedModel>> byCard;
};

ModelsModel::ModelsModel(QObject* parent) : QObject(parent), loaded_(std::make_shared<Loaded>()) {
  connect(&watcher_, &QFutureWatcher<ModelRunOutcome>::finished, this, &ModelsModel::onFinished);
}

ModelsModel::~ModelsModel() {
  if (cancel_) *cancel_ = true;
  watcher_.waitForFinished();
}

void ModelsModel::reload(const std::vector<std::string>& dirs, const std::vector<std::string>& userDirs) {
  std::vector<std::string> problems;
  entries_ = inference::listModels(dirs, &problems, userDirs);
  // A card may have been replaced by a new training: forget its results and loaded weights.
  cache_.clear();
  {
    std::lock_guard<std::mutex> lock(loaded_->mutex);
    loaded_->byCard.clear();
  }
  problems_.clear();
  for (const auto& p : problems) problems_ << QString::fromStdString(p);
  emit modelsChanged();
}

int ModelsModel::indexOf(const QString& nameOrPath) const {
  for (int i = 0; i < count(); ++i) {
    const auto& e = entries_[static_cast<std::size_t>(i)];
    if (QString::fromStdString(e.card.name) == nameOrPath || QString::fromStdString(e.cardPath) == nameOrPath) return i;
  }
  return -1;
}

int ModelsModel::addCard(const QString& cardPath, QString* error) {
  try {
    inference::CatalogEntry entry = inference::catalogEntry(models::modelCardPath(cardPath.toStdString()), false);
    for (int i = 0; i < count(); ++i)
      if (entries_[static_cast<std::size_t>(i)].cardPath == entry.cardPath) return i;
    entries_.push_back(std::move(entry));
    emit modelsChanged();
    return count() - 1;
  } catch (const Error& e) {
    if (error) *error = QString::fromStdString(e.what());
    return -1;
  }
}

QString ModelsModel::summary(int index) const {
  if (index < 0 || index >= count()) return {};
  const auto& e = entries_[static_cast<std::size_t>(index)];
  QString s = QStringLiteral("%1 (%2, %3)").arg(QString::fromStdString(models::displayName(e.card.kind)),
                                                QString::fromStdString(e.card.configName), QString::fromStdString(e.modality));
  if (e.testAuc) s += tr(", test AUC %1").arg(*e.testAuc, 0, 'f', 2);
  return s;
}

QString ModelsModel::details(int index) const {
  if (index < 0 || index >= count()) return {};
  const auto& e = entries_[static_cast<std::size_t>(index)];
  const auto& c = e.card;
  QString s = QStringLiteral("<b>%1</b> %2<br>").arg(QString::fromStdString(c.name).toHtmlEscaped(),
                                                       e.bundled ? tr("(bundled)") : tr("(yours)"));
  s += QString::fromStdString(c.description).toHtmlEscaped() + QStringLiteral("<br>");
  s += tr("Method: %1, %2 configuration, %3 parameters<br>")
           .arg(QString::fromStdString(models::displayName(c.kind)), QString::fromStdString(c.configName))
           .arg(c.parameterCount);
  const auto& td = c.trainingData;
  if (td.is_object()) {
    QStringList parts;
    for (const char* k : {"healthy", "validation", "test"})
      if (td.contains(k) && td[k].is_object() && td[k].contains("source"))
        parts << QStringLiteral("%1: %2").arg(QLatin1String(k), QString::fromStdString(td[k]["source"].dump()).toHtmlEscaped());
    if (!parts.isEmpty()) s += tr("Trained on ") + parts.join(QStringLiteral("; ")) + QStringLiteral("<br>");
  }
  if (e.validationAuc) s += tr("Validation AUC %1. ").arg(*e.validationAuc, 0, 'f', 3);
  if (e.testAuc) s += tr("Test AUC %1. ").arg(*e.testAuc, 0, 'f', 3);
  if (e.testPixelAuc) s += tr("Pixel AUC %1. ").arg(*e.testPixelAuc, 0, 'f', 3);
  if (c.threshold)
    s += tr("Threshold %1 (%2).").arg(*c.threshold, 0, 'g', 4).arg(QString::fromStdString(c.thresholdMethod).toHtmlEscaped());
  if (!c.notes.empty()) s += QStringLiteral("<br><i>%1</i>").arg(QString::fromStdString(c.notes).toHtmlEscaped());
  return s;
}

void ModelsModel::setScan(std::shared_ptr<const Volume> scan, const QString& key, const QString& lesionMask,
                          const QString& brainMask) {
  // A run for the scan being left goes on only to fill the cache if nobody waits: stop it.
  if (isRunning() && key != runningKey_) cancel();
  scan_ = std::move(scan);
  scanKey_ = key;
  lesionMask_ = lesionMask;
  brainMask_ = brainMask;
  emit modelsChanged();
}

void ModelsModel::clearScan() { setScan(nullptr, {}, {}); }

QString ModelsModel::compatibility(int index) const {
  if (index < 0 || index >= count()) return tr("no such model");
  if (!scan_) return tr("open a scan first");
  return QString::fromStdString(inference::compatibility(entries_[static_cast<std::size_t>(index)].card, *scan_));
}

int ModelsModel::suggested() const {
  int best = -1;
  double bestAuc = -1;
  for (int i = 0; i < count(); ++i) {
    if (!compatibility(i).isEmpty()) continue;
    const auto& e = entries_[static_cast<std::size_t>(i)];
    const double auc = e.testAuc.value_or(e.validationAuc.value_or(0.0));
    if (auc > bestAuc) {
      bestAuc = auc;
      best = i;
    }
  }
  return best;
}

std::shared_ptr<const inference::ScanAnalysis> ModelsModel::cached(int index) const {
  if (index < 0 || index >= count() || !scan_) return nullptr;
  auto it = cache_.find({scanKey_, QString::fromStdString(entries_[static_cast<std::size_t>(index)].cardPath)});
  if (it == cache_.end()) return nullptr;
  it->second.used = ++tick_;
  return it->second.analysis;
}

void ModelsModel::remember(const QString& scanKey, const QString& cardPath, std::shared_ptr<const inference::ScanAnalysis> a) {
  std::size_t bytes = 0;
  for (const auto& [name, map] : a->maps) bytes += static_cast<std::size_t>(map.voxelsPerChannel()) * map.channels() * pixelTypeSize(map.pixelType());
  cache_[{scanKey, cardPath}] = {std::move(a), bytes, ++tick_};
  std::size_t total = 0;
  for (const auto& [k, e] : cache_) total += e.bytes;
  while (total > kCacheBytes && cache_.size() > 1) {
    auto oldest = std::min_element(cache_.begin(), cache_.end(), [](const auto& x, const auto& y) { return x.second.used < y.second.used; });
    total -= oldest->second.bytes;
    cache_.erase(oldest);
  }
}

bool ModelsModel::run(int index) {
  if (isRunning()) {
    // A run that is already stopping (cancelled, or for a scan no longer open) is waited for.
    if ((cancel_ && *cancel_) || runningKey_ != scanKey_) {
      if (!compatibility(index).isEmpty()) {
        emit failed(tr("%1 cannot run on this scan: %2").arg(QString::fromStdString(entries_[static_cast<std::size_t>(index)].card.name),
                                                            compatibility(index)));
        return false;
      }
      cancel();
      queued_ = index;
      return true;
    }
    emit failed(tr("A model is still running; cancel it first."));
    return false;
  }
  if (const QString why = compatibility(index); !why.isEmpty()) {
    emit failed(index >= 0 && index < count()
                    ? tr("%1 cannot run on this scan: %2").arg(QString::fromStdString(entries_[static_cast<std::size_t>(index)].card.name), why)
                    : why);
    return false;
  }
  if (auto hit = cached(index)) {
    emit finished(index, hit);
    return true;
  }
  running_ = index;
  runningKey_ = scanKey_;
  cancel_ = std::make_shared<std::atomic<bool>>(false);
  clock_.start();
  const std::string cardPath = entries_[static_cast<std::size_t>(index)].cardPath;
  const std::string mask = lesionMask_.toStdString();
  const std::string brainMask = brainMask_.toStdString();
  auto scan = scan_;
  auto cancel = cancel_;
  auto loaded = loaded_;
  const QString key = scanKey_;
  QPointer<ModelsModel> self(this);
  emit runStarted(index);
  emit progressChanged(0.0, tr("loading the model"), QString());
  watcher_.setFuture(QtConcurrent::run([=]() -> ModelRunOutcome {
    ModelRunOutcome out;
    out.scanKey = key;
    out.cardPath = QString::fromStdString(cardPath);
    auto lastReport = std::chrono::steady_clock::now() - std::chrono::seconds(1);
    auto report = [&](double f, const std::string& stage) {
      // A few updates a second: more would only cost the GUI thread time.
      const auto now = std::chrono::steady_clock::now();
      if (now - lastReport > std::chrono::milliseconds(100) || f >= 1.0) {
        lastReport = now;
        const QString s = QString::fromStdString(stage);
        QMetaObject::invokeMethod(self, [self, f, s] {
          if (self) self->onProgress(f, s);
        }, Qt::QueuedConnection);
      }
      return !*cancel;
    };
    try {
      std::shared_ptr<models::LoadedModel> model;
      {
        std::lock_guard<std::mutex> lock(loaded->mutex);
        auto it = loaded->byCard.find(cardPath);
        if (it != loaded->byCard.end()) model = it->second;
      }
      if (!model) {
        model = std::make_shared<models::LoadedModel>(models::loadModel(cardPath, "auto"));
        std::lock_guard<std::mutex> lock(loaded->mutex);
        loaded->byCard[cardPath] = model;
      }
      if (*cancel) {
        out.cancelled = true;
        return out;
      }
      std::optional<Volume> lesions, brain;
      std::vector<std::string> notes;
      if (!mask.empty()) {
        try {
          lesions = training::readCaseLabels(mask, scan->size(), "the lesion mask");
        } catch (const Error& e) {
          notes.push_back("slice labels not used: " + e.message());
        }
      }
      if (!brainMask.empty() && !model->card.input.value("channel_names", nlohmann::json::array()).empty()) {
        try {
          brain = training::readCaseLabels(brainMask, scan->size(), "the brain mask");
        } catch (const Error& e) {
          notes.push_back("brain mask estimated instead: " + e.message());
        }
      }
      inference::ScanAnalysisOptions opt;
      opt.lesionMask = lesions ? &*lesions : nullptr;
      opt.brainMask = brain ? &*brain : nullptr;
      opt.progress = report;
      auto result = std::make_shared<inference::ScanAnalysis>(inference::analyseScan(*model, *scan, opt));
      result->warnings.insert(result->warnings.end(), notes.begin(), notes.end());
      out.analysis = std::move(result);
    } catch (const models::Cancelled&) {
      out.cancelled = true;
    } catch (const Error& e) {
      out.error = QString::fromStdString(e.message());
    } catch (const std::exception& e) {
      out.error = QStringLiteral("%1: %2").arg(QString::fromStdString(cardPath), QString::fromStdString(e.what()));
    }
    return out;
  }));
  return true;
}

void ModelsModel::cancel() {
  if (cancel_) *cancel_ = true;
}

void ModelsModel::onProgress(double fraction, const QString& stage) {
  if (!isRunning()) return;
  const double elapsed = clock_.elapsed() / 1000.0;
  QString eta;
  // The first percent includes loading the model: an estimate from it would be noise.
  if (fraction > 0.1 && fraction < 1.0) eta = formatEta(elapsed * (1.0 - fraction) / fraction);
  emit progressChanged(fraction, stage, eta);
}

void ModelsModel::onFinished() {
  const ModelRunOutcome out = watcher_.result();
  const int index = running_;
  running_ = -1;
  runningKey_.clear();
  if (out.analysis) remember(out.scanKey, out.cardPath, out.analysis);
  const int queued = std::exchange(queued_, -1);
  if (out.scanKey != scanKey_) {
    // Only a result for the scan still open is shown; others wait in the cache.
    emit superseded();
  } else if (out.cancelled) {
    if (queued < 0) emit cancelled();
  } else if (!out.analysis) {
    emit failed(out.error);
  } else {
    emit finished(index, out.analysis);
  }
  if (queued >= 0) run(queued);
}

QString ModelsModel::deviceDescription() {
  const auto& t = torchRuntime();
  return t.cudaAvailable ? QStringLiteral("CUDA") : QStringLiteral("CPU");
}

QString ModelsModel::formatEta(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return {};
  const int s = static_cast<int>(std::lround(seconds));
  if (s < 60) return tr("%1 s left").arg(s);
  return tr("%1 min %2 s left").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
}

}  // namespace al::ui
