#pragma once
// The PACS panel's presenter, without widgets: the configured nodes and the one in use, the
// study query and its results as a Study > Series tree (a QStandardItemModel a QTreeView shows
// and tests read), the series of a study listed when it is expanded, and the retrieve of a study
// or a series into the viewer's PACS folder. Every DIMSE exchange runs in a worker (QtConcurrent
// + QFutureWatcher, as every long job in ui/ does); results, progress (a few updates a second)
// and errors (the node and the reason) come back as signals on the GUI thread, and the status
// line the panel shows is kept here.

#include <QFutureWatcher>
#include <QList>
#include <QObject>
#include <QPersistentModelIndex>
#include <QSet>
#include <QString>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "pacs/PacsClient.h"
#include "pacs/PacsNodes.h"

class QStandardItem;
class QStandardItemModel;

namespace al::ui {

class PacsQueryModel : public QObject {
  Q_OBJECT
 public:
  enum Column { PatientColumn, PatientIdColumn, DateColumn, DescriptionColumn, ModalitiesColumn, SeriesColumn, InstancesColumn, ColumnCount };
  enum Level { StudyLevel = 1, SeriesLevel, PlaceholderLevel };
  static constexpr int kLevelRole = Qt::UserRole + 1;
  static constexpr int kStudyUidRole = Qt::UserRole + 2;
  static constexpr int kSeriesUidRole = Qt::UserRole + 3;
  static constexpr int kSeriesListedRole = Qt::UserRole + 4;  // on a study row: its series are listed

  struct RetrieveOutcome {
    QString node;    // the node's label, for messages
    QString folder;  // what to open: the study's folder, or the series' one
    pacs::RetrieveResult result;
    QString error;   // "" unless nothing could be retrieved
  };

  // Loads the nodes from the settings (see loadPacsNodes).
  explicit PacsQueryModel(QObject* parent = nullptr);
  ~PacsQueryModel() override;  // cancels a retrieve and waits for it to stop

  QStandardItemModel* results() const { return results_; }

  // ---- Nodes
  const QList<ConfiguredPacsNode>& nodes() const { return nodes_; }
  // Replaces the list and saves it in the settings; keeps the current node when it is still there.
  void setNodes(const QList<ConfiguredPacsNode>& nodes);
  void reloadNodes();
  int currentNodeIndex() const { return current_; }
  void setCurrentNode(int index);
  std::optional<ConfiguredPacsNode> currentNode() const;

  // ---- Query: C-FIND of studies, then of a study's series
  void find(const pacs::QueryKeys& keys);  // a new query replaces the one running
  bool isFinding() const { return findsRunning_ > 0; }
  // Lists the series under a study row (once; again after a failure). No-op on other rows.
  void fetchSeries(const QModelIndex& studyRow);
  bool isFetchingSeries() const { return !seriesFetches_.isEmpty(); }

  // ---- Retrieve: C-GET of the study or series of `row` into retrieveDir()
  // False (saying why in the status) when no node is chosen, the row is not a study or series,
  // or a retrieve is running.
  bool retrieve(const QModelIndex& row);
  bool isRetrieving() const { return retrieveWatcher_.isRunning(); }
  // Stops the retrieve at the next object that arrives (a C-CANCEL goes to the PACS); the
  // outcome says cancelled and the files already written stay. Thread-safe.
  void cancelRetrieve();
  // $ANOMALYLENS_PACS_DIR, else <userDataDir()>/pacs.
  static QString retrieveDir();
  // Tests: called in the worker for each object retrieved, before the cancel flag is read.
  void setRetrieveProgressHook(std::function<void(int done, int total)> hook) { retrieveHook_ = std::move(hook); }

  // ---- The status line: what happened last, an error saying the node and the reason.
  QString status() const { return status_; }
  bool statusIsError() const { return statusIsError_; }

 signals:
  void nodesChanged();
  void busyChanged();
  void statusChanged(const QString& message, bool error);
  void findFinished(int studies);
  void seriesFetched(const QString& studyUid, int series);
  void retrieveProgress(int done, int total, const QString& what);
  // A retrieve ended with files: the folder to open (cancelled ones too, with what was kept).
  void retrieveFinished(const al::ui::PacsQueryModel::RetrieveOutcome& outcome);
  void failed(const QString& message);  // "NAME (AET@HOST:PORT): reason"

 private:
  void setStatus(const QString& message, bool error);
  void fail(const QString& message);
  void onRetrieveFinished();
  QStandardItem* studyItem(const QString& studyUid) const;

  QStandardItemModel* results_;
  QList<ConfiguredPacsNode> nodes_;
  int current_ = -1;
  int findGeneration_ = 0;
  int findsRunning_ = 0;
  QSet<QString> seriesFetches_;  // study UIDs being listed
  QFutureWatcher<RetrieveOutcome> retrieveWatcher_;
  std::shared_ptr<std::atomic<bool>> retrieveCancel_;
  std::function<void(int, int)> retrieveHook_;
  QString status_;
  bool statusIsError_ = false;
};

}  // namespace al::ui

Q_DECLARE_METATYPE(al::ui::PacsQueryModel::RetrieveOutcome)
