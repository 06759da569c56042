#include "studybrowser/RecentStudies.h"

#include <QFileInfo>
#include <QSettings>

namespace al::ui {

namespace {
const QString kKey = QStringLiteral("recent/studies");
}

RecentStudies::RecentStudies(const QString& settingsFile) {
  QString file = settingsFile;
  if (file.isEmpty()) file = qEnvironmentVariable("ANOMALYLENS_SETTINGS");
  settings_ = file.isEmpty() ? std::make_unique<QSettings>(QStringLiteral("AnomalyLens"), QStringLiteral("AnomalyLens"))
                             : std::make_unique<QSettings>(file, QSettings::IniFormat);
}

RecentStudies::~RecentStudies() = default;

void RecentStudies::add(const QString& path) {
  if (path.isEmpty()) return;
  const QString absolute = QFileInfo(path).absoluteFilePath();
  QStringList all = settings_->value(kKey).toStringList();
  all.removeAll(absolute);
  all.prepend(absolute);
  while (all.size() > kMax) all.removeLast();
  settings_->setValue(kKey, all);
  settings_->sync();
}

QStringList RecentStudies::list() const {
  QStringList out;
  for (const QString& p : settings_->value(kKey).toStringList())
    if (QFileInfo::exists(p)) out << p;
  return out;
}

void RecentStudies::clear() {
  settings_->remove(kKey);
  settings_->sync();
}

}  // namespace al::ui
