#pragma once
// The study browser's presenter: a DICOM index as a Patient > Study > Series tree with the
// fields a clinician looks for. A QStandardItemModel, so a QTreeView shows it and tests read it
// without a display.

#include <QStandardItemModel>

#include "io/DicomSeriesReader.h"

namespace al::ui {

class StudyBrowserModel : public QStandardItemModel {
  Q_OBJECT
 public:
  enum Level { PatientLevel = 1, StudyLevel, SeriesLevel };
  static constexpr int kLevelRole = Qt::UserRole + 1;
  static constexpr int kSeriesRole = Qt::UserRole + 2;  // index into index().series

  explicit StudyBrowserModel(QObject* parent = nullptr);

  void setIndex(DicomFolderIndex index, const QString& source);
  const DicomFolderIndex& index() const { return index_; }
  const QString& source() const { return source_; }
  // The series behind a row of the Series level, or nullptr.
  const DicomSeriesEntry* seriesAt(const QModelIndex& row) const;
  int seriesCount() const { return static_cast<int>(index_.series.size()); }

 private:
  DicomFolderIndex index_;
  QString source_;
};

// "20261127" -> "2026-11-27"; anything else unchanged.
QString formatDicomDate(const std::string& da);

}  // namespace al::ui
