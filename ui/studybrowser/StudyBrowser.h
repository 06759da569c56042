#pragma once
// The study browser panel: indexes a folder or DICOMDIR in a worker thread (headers only),
// shows the Patient > Study > Series tree, and asks for a series to be opened on double-click
// or Enter.

#include <QFutureWatcher>
#include <QWidget>

#include "io/DicomSeriesReader.h"

class QLabel;
class QTreeView;

namespace al::ui {

class StudyBrowserModel;

class StudyBrowser : public QWidget {
  Q_OBJECT
 public:
  explicit StudyBrowser(QWidget* parent = nullptr);
  ~StudyBrowser() override;
  StudyBrowserModel* model() const { return model_; }
  QTreeView* view() const { return view_; }
  bool isIndexing() const { return watcher_.isRunning(); }
  bool isMakingThumbnails() const { return thumbnails_.isRunning(); }
  // The series selected in the tree (Ctrl/Shift-click selects several), e.g. as training data.
  std::vector<DicomSeriesEntry> selectedSeries() const;

 public slots:
  // A folder (scanned recursively) or a DICOMDIR file.
  void indexPath(const QString& path);

 signals:
  void indexed(int seriesCount, int unreadableFiles);
  void thumbnailsDone();
  void indexFailed(const QString& message);
  void seriesActivated(const al::DicomSeriesEntry& series);

 private:
  struct Result {
    DicomFolderIndex index;
    QString error;
    QString path;
  };
  void onIndexed();
  void activate(const QModelIndex& index);

  StudyBrowserModel* model_;
  QTreeView* view_;
  QLabel* status_;
  QFutureWatcher<Result> watcher_;
  struct Thumbnail {
    int series = 0;
    QImage image;
  };
  QFutureWatcher<Thumbnail> thumbnails_;  // one result per series, as each is made
};

}  // namespace al::ui
