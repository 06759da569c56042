#pragma once
// Autosaves the reading session to this process's recovery file (core/session/Recovery.h)
// every interval while it holds the reader's work, in a worker thread; removes the file when the
// viewer closes normally. ANOMALYLENS_AUTOSAVE_SECONDS sets the interval (default 60).

#include <QFutureWatcher>
#include <QObject>
#include <QString>
#include <functional>
#include <optional>
#include <string>

#include "session/Session.h"

class QTimer;

namespace al::ui {

class SessionRecovery : public QObject {
  Q_OBJECT
 public:
  // `current`: the session now, or nothing when no scan is open.
  using Provider = std::function<std::optional<Session>()>;
  SessionRecovery(Provider current, QObject* parent = nullptr);
  ~SessionRecovery() override;  // a normal end: the recovery file goes

  QString path() const;
  int intervalMs() const;
  // Writes the session when it changed since the last write (in a worker; skipped while one
  // runs), or removes the file when the session holds nothing worth recovering.
  void saveNow();
  // Takes over an orphaned recovery file as this process's own (renamed: still protected until
  // the next autosave replaces it). False when it cannot be moved.
  bool adopt(const QString& orphanPath);

 signals:
  void saved(const QString& path);
  void failed(const QString& message);

 private:
  Provider current_;
  QTimer* timer_ = nullptr;
  std::string lastWritten_;  // the JSON last written (without its time stamp)
  QFutureWatcher<QString> writer_;
};

}  // namespace al::ui
