#pragma once
// The studies opened last (files, folders, DICOMDIRs, sessions), newest first, kept in the
// settings across runs. Paths that have gone are dropped when listed.

#include <QString>
#include <QStringList>
#include <memory>

class QSettings;

namespace al::ui {

class RecentStudies {
 public:
  // `settingsFile`: an INI file to keep them in (tests); empty: $ANOMALYLENS_SETTINGS, else the
  // user's AnomalyLens settings.
  explicit RecentStudies(const QString& settingsFile = {});
  ~RecentStudies();
  static constexpr int kMax = 10;

  void add(const QString& path);
  QStringList list() const;
  void clear();

 private:
  std::unique_ptr<QSettings> settings_;
};

}  // namespace al::ui
