#include "pacs/PacsSend.h"

#include <QFileInfo>
#include <QObject>

#include <string>
#include <vector>

namespace al::ui {

QString PacsSendResult::summary() const {
  if (!error.isEmpty()) return QObject::tr("Not sent: %1").arg(error);
  QString s = cancelled ? QObject::tr("Sending to %1 cancelled: %2 of %3 object(s) stored").arg(node).arg(stored).arg(total)
                        : QObject::tr("Sent %1 of %2 DICOM object(s) to %3").arg(stored).arg(total).arg(node);
  if (!failures.isEmpty()) s += QObject::tr("; not stored: %1").arg(failures.join(QStringLiteral("; ")));
  return s;
}

PacsSendResult sendToPacs(const QStringList& files, const ConfiguredPacsNode& node, const std::atomic<bool>* cancel,
                          const std::function<void(int, int, const QString&)>& progress) {
  PacsSendResult r;
  r.node = pacsNodeLabel(node);
  std::vector<std::string> paths;
  for (const QString& f : files)
    if (f.endsWith(QStringLiteral(".dcm"), Qt::CaseInsensitive)) paths.push_back(f.toStdString());
  r.total = static_cast<int>(paths.size());
  if (paths.empty()) return r;
  const QString what = QObject::tr("Sending to %1").arg(node.name);
  if (progress) progress(0, r.total, what);
  try {
    const pacs::StoreResult stored = pacs::store(node.node, paths, [&](int done, int total, const std::string&) {
      if (progress) progress(done, total > 0 ? total : r.total, what);
      return !(cancel && cancel->load());
    });
    r.stored = stored.stored;
    r.cancelled = stored.cancelled;
    for (const auto& [file, reason] : stored.failed)
      r.failures << QStringLiteral("%1: %2").arg(QFileInfo(QString::fromStdString(file)).fileName(), QString::fromStdString(reason));
  } catch (const std::exception& e) {
    r.error = QStringLiteral("%1: %2").arg(node.name, QString::fromUtf8(e.what()));  // the client's message names AET@HOST:PORT
  }
  return r;
}

}  // namespace al::ui
