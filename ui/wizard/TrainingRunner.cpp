#include "wizard/TrainingRunner.h"

#include <QFile>
#include <QMetaObject>
#include <QtConcurrent/QtConcurrentRun>
#include <algorithm>
#include <chrono>
#include <mutex>

#include "errors/Error.h"
#include "modelspanel/ModelsModel.h"
#include "render/Raster.h"

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

QImage greyPlane(const Volume& v, std::int64_t z, float lo, float hi) {
  const Size3 s = v.size();
  QImage img(static_cast<int>(s.x), static_cast<int>(s.y), QImage::Format_RGB32);
  for (int y = 0; y < s.y; ++y) {
    auto* line = reinterpret_cast<QRgb*>(img.scanLine(y));
    for (int x = 0; x < s.x; ++x) {
      const int g = std::clamp(static_cast<int>(255.0 * (v.value(x, y, z) - lo) / (hi - lo)), 0, 255);
      line[x] = qRgb(g, g, g);
    }
  }
  return img;
}

// A map in inferno from 0 to its own 99th percentile: samples show where the model looks, not
// the calibrated scale (there is none before training ends).
QImage mapPlane(const Volume& v, std::int64_t z) {
  const Size3 s = v.size();
  std::vector<float> vals;
  for (int y = 0; y < s.y; ++y)
    for (int x = 0; x < s.x; ++x) vals.push_back(static_cast<float>(v.value(x, y, z)));
  std::vector<float> sorted = vals;
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(sorted.size() * 99 / 100), sorted.end());
  const float hi = std::max(1e-12f, sorted[sorted.size() * 99 / 100]);
  QImage img(static_cast<int>(s.x), static_cast<int>(s.y), QImage::Format_RGB32);
  for (int y = 0; y < s.y; ++y) {
    auto* line = reinterpret_cast<QRgb*>(img.scanLine(y));
    for (int x = 0; x < s.x; ++x) {
      const auto c = render::colormap(render::Colormap::Inferno, std::clamp(vals[static_cast<std::size_t>(y * s.x + x)] / hi, 0.f, 1.f));
      line[x] = qRgb(c[0], c[1], c[2]);
    }
  }
  return img;
}

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
  for (std::int64_t z = 0; z < images.size().z; ++z) {
    out.inputs << greyPlane(images, z, lo, hi);
    if (a.reconstruction) out.reconstructions << greyPlane(*a.reconstruction, z, lo, hi);
    if (map) out.maps << mapPlane(*map, z);
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
  // Wakes the GUI thread at most every `interval` ms; the last update comes with onFinished.
  auto poke = [this, shared, interval](bool now) {
    const auto t = std::chrono::steady_clock::now();
    if (shared->flushQueued) return;
    if (!now && t - shared->lastFlush < std::chrono::milliseconds(interval)) return;
    shared->flushQueued = true;
    shared->lastFlush = t;
    QMetaObject::invokeMethod(this, &TrainingRunner::flush, Qt::QueuedConnection);
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
  if (!r.error.isEmpty()) emit failed(r.error);
  else if (r.cancelledEarly) emit stopped(QString());
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
