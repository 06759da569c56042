#include "mainwindow/SessionRecovery.h"

#include <QTimer>
#include <QtConcurrent>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "errors/Error.h"
#include "session/Recovery.h"

namespace al::ui {

namespace {

int autosaveMs() {
  if (const char* v = std::getenv("ANOMALYLENS_AUTOSAVE_SECONDS")) {
    char* end = nullptr;
    const double s = std::strtod(v, &end);
    if (end != v && s >= 0.1 && s <= 86400) return static_cast<int>(s * 1000);
  }
  return 60 * 1000;
}

}  // namespace

SessionRecovery::SessionRecovery(Provider current, QObject* parent) : QObject(parent), current_(std::move(current)) {
  timer_ = new QTimer(this);
  timer_->setInterval(autosaveMs());
  connect(timer_, &QTimer::timeout, this, &SessionRecovery::saveNow);
  timer_->start();
  connect(&writer_, &QFutureWatcher<QString>::finished, this, [this] {
    const QString error = writer_.result();
    if (error.isEmpty()) {
      spdlog::debug("recovery: the reading is saved to {}", path().toStdString());
      emit saved(path());
    } else {
      spdlog::warn("recovery: {}", error.toStdString());
      emit failed(error);
    }
  });
}

SessionRecovery::~SessionRecovery() {
  timer_->stop();
  writer_.waitForFinished();
  std::error_code ec;
  std::filesystem::remove(recoveryFileFor(), ec);
}

QString SessionRecovery::path() const { return QString::fromStdString(recoveryFileFor()); }

int SessionRecovery::intervalMs() const { return timer_->interval(); }

void SessionRecovery::saveNow() {
  if (writer_.isRunning()) return;
  const std::optional<Session> s = current_ ? current_() : std::nullopt;
  const std::string file = recoveryFileFor();
  if (!s || !worthRecovering(*s)) {
    if (!lastWritten_.empty()) {
      std::error_code ec;
      std::filesystem::remove(file, ec);
      lastWritten_.clear();
    }
    return;
  }
  std::string json = toJson(*s).dump();
  if (json == lastWritten_) return;
  lastWritten_ = std::move(json);
  writer_.setFuture(QtConcurrent::run([session = *s, file]() -> QString {
    try {
      std::filesystem::create_directories(std::filesystem::path(file).parent_path());
      saveSession(session, file);
      return {};
    } catch (const Error& e) {
      return QString::fromStdString(e.message());
    } catch (const std::exception& e) {
      return QString::fromStdString(file + ": " + e.what());
    }
  }));
}

bool SessionRecovery::adopt(const QString& orphanPath) {
  writer_.waitForFinished();
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(recoveryFileFor()).parent_path(), ec);
  std::filesystem::rename(orphanPath.toStdString(), recoveryFileFor(), ec);
  if (ec) {
    spdlog::warn("recovery: cannot take over {}: {}", orphanPath.toStdString(), ec.message());
    return false;
  }
  lastWritten_.clear();  // the next autosave writes the session as restored
  return true;
}

}  // namespace al::ui
