#include "wizard/TrainingRunner.h"

#include <QFile>
#include <QMetaObject>
#include <QTimer>
#include <QtConcurrent/QtConcurrentRun>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <mutex>

#include "errors/Error.h"
#include "modelspanel/ModelsModel.h"
#include "wizard/PlaneImage.h"

namespace al::ui {

// What the worker hands over between flushes.
struct TrainingRunner::Shared {
  std::mutex mutex;
  training::TrainingProgress progress;
  bool progressNew = false;
  QList<LossPoint> losses;
  QList<training::ValidationPoint> validations;
  std::optional<SampleImages> samples;
  QStringList log;
  bool flushQueued = false;
  std::chrono::steady_clock::time_point lastFlush{};
};

namespace {

constexpr double kSampleSeconds = 5.0;

SampleImages sampleImages(const Volume& images, const models::Analysis& a) {
  SampleImages out;
  // The GANs work in [-1, 1]; ADM's z-scores are shown over +-3.
  float lo = -1.f, hi = 1.f;
  const float* p = images.data<float>();
  const auto n = images.voxelsPerChannel();
  if (std::any_of(p, p + n, [](float v) { return v < -1.5f || v > 1.5f; })) lo = -3.f, hi = 3.f;
  const Volume* map = nullptr;
  for (const char* name : {"aam", "residual", "difference", "energy"})
    if (auto it = a.maps.find(name); it != a.maps.end()) {
      map = &it->second;
      out.mapName = QString::fromLatin1(name);
      break;
    }
  if (!map && !a.maps.empty()) {
    map = &a.maps.begin()->second;
    out.mapName = QString::fromStdString(a.maps.begin()->first);
  }
  const int w = static_cast<int>(images.size().x), h = static_cast<int>(images.size().y);
  for (std::int64_t z = 0; z < images.size().z; ++z) {
    out.inputs << greyImage(planeOf(images, z), w, h, lo, hi);
    if (a.reconstruction) out.reconstructions << greyImage(planeOf(*a.reconstruction, z), w, h, lo, hi);
    // From 0 to the image's own 99th percentile: samples show where the model looks; there is
    // no calibrated scale before training ends.
    if (map) {
      const auto m = planeOf(*map, z);
      out.maps << infernoImage(m, w, h, percentileWindow(m, 0, 99).second);
    }
  }
  return out;
}

}  // namespace

TrainingRunner::TrainingRunner(QObject* parent) : QObject(parent) {
  qRegisterMetaType<al::training::ValidationPoint>();
  connect(&watcher_, &QFutureWatcher<Result>::finished, this, &TrainingRunner::onFinished);
}

TrainingRunner::~TrainingRunner() {
  if (control_) control_->cancel();
  watcher_.waitForFinished();
}

bool TrainingRunner::isPaused() const { return control_ && control_->paused(); }

void TrainingRunner::pause() {
  if (control_ && isRunning()) control_->pause();
}

void TrainingRunner::resume() {
  if (control_) control_->resume();
}

void TrainingRunner::cancel() {
  if (control_) control_->cancel();
}

void TrainingRunner::start(const training::TrainingSpec& spec, bool resume, const QString& lossLog) {
  if (isRunning()) return;
  running_ = true;
  checkpoint_ = training::checkpointPathFor(spec.out);
  shared_ = std::make_shared<Shared>();
  control_ = std::make_shared<training::TrainingControl>();
  progress_ = {};
  losses_.clear();
  validations_.clear();
  samples_ = {};
  log_.clear();
  outcome_ = {};
  lossLog_ = lossLog;
  if (resume) readLossLog();  // a resumed run's plot starts with what came before
  auto shared = shared_;
  auto control = control_;
  const int interval = intervalMs;
  // Wakes the GUI thread at most every `interval` ms: at once when the last flush is older,
  // else with a timer for the rest of the interval, so that the last update before a pause or
  // a long validation is shown too.
  auto poke = [this, shared, interval](bool now) {
    if (shared->flushQueued) return;
    shared->flushQueued = true;
    const auto since = std::chrono::steady_clock::now() - shared->lastFlush;
    const int wait = now ? 0 : std::max(0, interval - static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(since).count()));
    QMetaObject::invokeMethod(
        this, [this, wait] { QTimer::singleShot(wait, this, &TrainingRunner::flush); }, Qt::QueuedConnection);
  };
  training::TrainingCallbacks cb;
  cb.log = [shared, poke](const std::string& line) {
    std::lock_guard<std::mutex> lock(shared->mutex);
    shared->log << QString::fromStdString(line);
    poke(false);
  };
  cb.progress = [shared, poke](const training::TrainingProgress& p) {
    std::lock_guard<std::mutex> lock(shared->mutex);
    if (p.phase == "training" && !p.losses.empty() &&
        (shared->losses.isEmpty() || shared->losses.back().done != p.done))
      shared->losses.push_back({p.done, QString::fromStdString(p.stage), p.losses});
    shared->progress = p;
    shared->progressNew = true;
    poke(false);
  };
  cb.validated = [shared, poke](const training::ValidationPoint& v) {
    std::lock_guard<std::mutex> lock(shared->mutex);
    shared->validations << v;
    poke(true);
  };
  // Samples every few seconds, but never more than a tenth of the time: a paper-size patch model
  // takes seconds to analyse four B-scans.
  struct SampleClock {
    std::chrono::steady_clock::time_point last = std::chrono::steady_clock::now(), asked;
    bool requested = false;
    double cost = 0;  // seconds the last requested samples took
  };
  auto sampleClock = std::make_shared<SampleClock>();
  cb.wantSamples = [sampleClock] {
    const auto now = std::chrono::steady_clock::now();
    if (std::chrono::duration<double>(now - sampleClock->last).count() < std::max(kSampleSeconds, 10.0 * sampleClock->cost))
      return false;
    sampleClock->asked = now;
    sampleClock->requested = true;
    return true;
  };
  cb.samples = [shared, poke, sampleClock](const Volume& images, const models::Analysis& analysis) {
    const auto now = std::chrono::steady_clock::now();
    if (sampleClock->requested) sampleClock->cost = std::chrono::duration<double>(now - sampleClock->asked).count();
    sampleClock->requested = false;
    sampleClock->last = now;
    SampleImages s = sampleImages(images, analysis);  // converted here, off the GUI thread
    std::lock_guard<std::mutex> lock(shared->mutex);
    shared->samples = std::move(s);
    poke(true);
  };
  watcher_.setFuture(QtConcurrent::run([spec, resume, cb, control]() -> Result {
    Result r;
    try {
      r.outcome = training::Trainer(spec, cb).run(*control, resume);
    } catch (const models::Cancelled&) {
      r.cancelledEarly = true;
    } catch (const std::exception& e) {
      r.error = QString::fromUtf8(e.what());
    }
    return r;
  }));
}

void TrainingRunner::readLossLog() {
  QFile f(lossLog_);
  if (lossLog_.isEmpty() || !f.open(QIODevice::ReadOnly | QIODevice::Text)) return;
  const QStringList header = QString::fromUtf8(f.readLine()).trimmed().split(QLatin1Char(','));
  long done = 0;
  while (!f.atEnd()) {
    const QStringList cells = QString::fromUtf8(f.readLine()).trimmed().split(QLatin1Char(','));
    if (cells.size() != header.size() || header.size() < 3) return;  // not ours: leave the plot empty
    LossPoint p;
    p.done = ++done;
    p.stage = cells[0];
    for (int i = 2; i < cells.size(); ++i) {
      bool ok = false;
      const double v = cells[i].toDouble(&ok);
      if (ok) p.losses[header[i].toStdString()] = v;
    }
    losses_ << p;
  }
}

void TrainingRunner::flush() {
  if (!shared_) return;
  QList<LossPoint> losses;
  QList<training::ValidationPoint> validations;
  std::optional<SampleImages> samples;
  QStringList log;
  bool progressNew = false;
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->flushQueued = false;
    shared_->lastFlush = std::chrono::steady_clock::now();
    losses.swap(shared_->losses);
    validations.swap(shared_->validations);
    samples.swap(shared_->samples);
    log.swap(shared_->log);
    progressNew = shared_->progressNew;
    shared_->progressNew = false;
    if (progressNew) progress_ = shared_->progress;
  }
  for (const auto& line : log) {
    log_ << line;
    emit logged(line);
  }
  if (!losses.isEmpty()) {
    const int first = static_cast<int>(losses_.size());
    losses_ << losses;
    emit lossesAdded(first);
  }
  for (const auto& v : validations) {
    validations_ << v;
    emit validated(v);
  }
  if (samples) {
    samples_ = std::move(*samples);
    emit samplesReady();
  }
  if (progressNew) emit progressed();
}

void TrainingRunner::onFinished() {
  flush();
  const Result r = watcher_.result();
  outcome_ = r.outcome;
  if (!lossLog_.isEmpty() && !r.outcome.history.empty()) {
    try {
      training::writeLossHistory(lossLog_.toStdString(), r.outcome.history);
    } catch (const std::exception& e) {
      log_ << QString::fromUtf8(e.what());
    }
  }
  running_ = false;
  std::error_code ec;
  if (!r.error.isEmpty()) emit failed(r.error);
  // Cancelled while reading the data (nothing to keep), or while scoring for the threshold
  // after training (its checkpoint is there).
  else if (r.cancelledEarly) emit stopped(std::filesystem::exists(checkpoint_, ec) ? QString::fromStdString(checkpoint_) : QString());
  else if (!r.outcome.finished) emit stopped(QString::fromStdString(r.outcome.checkpoint));
  else emit finished();
}

QString TrainingRunner::describe(const training::TrainingProgress& p) {
  if (p.phase != "training" || p.total <= 0) {
    static const std::map<std::string, const char*> names = {
        {"loading", "Reading and preparing the data"}, {"validating", "Validating"},
        {"calibrating", "Scoring the validation set for the threshold"}, {"testing", "Testing"},
        {"saving", "Saving"}};
    auto it = names.find(p.phase);
    return it != names.end() ? tr(it->second) + QStringLiteral("...") : QString::fromStdString(p.phase);
  }
  QString s = tr("Stage %1 (%2 of %3): iteration %4 of %5; %6% of all")
                  .arg(QString::fromStdString(p.stage))
                  .arg(p.stageIndex + 1)
                  .arg(p.stageCount)
                  .arg(p.iteration)
                  .arg(p.stageIterations)
                  .arg(100.0 * static_cast<double>(p.done) / static_cast<double>(p.total), 0, 'f', 0);
  if (p.etaSeconds > 0) s += tr("; ETA %1").arg(ModelsModel::formatEta(p.etaSeconds));
  return s;
}

}  // namespace al::ui
