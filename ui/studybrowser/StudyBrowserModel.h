#pragma once
// The study browser's presenter: a DICOM index as a Patient > Study > Series tree with the
// fields a clinician looks for. A QStandardItemModel, so a QTreeView shows it and tests read it
// without a display.

#include <QImage>
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
  // The series' thumbnail beside its name (the middle image, as the study browser made it).
  void setThumbnail(int series, const QImage& thumbnail);
  QImage thumbnail(int series) const;

 private:
  DicomFolderIndex index_;
  QString source_;
};

// A series thumbnail: the middle slice of `v` (the middle frame of a multi-frame image) through
// its robust value range, fitted into size x size.
QImage makeThumbnail(const Volume& v, int size = 48);

// "20261127" -> "2026-11-27"; anything else unchanged.
QString formatDicomDate(const std::string& da);

}  // namespace al::ui
