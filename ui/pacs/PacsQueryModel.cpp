#include "pacs/PacsQueryModel.h"

#include <QApplication>
#include <QDir>
#include <QPointer>
#include <QStandardItemModel>
#include <QtConcurrent/QtConcurrentRun>

#include <chrono>
#include <filesystem>

#include "runtime/Logging.h"
#include "studybrowser/StudyBrowserModel.h"

namespace al::ui {

namespace {

// A worker's failure as the panel shows it: the node by name, then the client's message, which
// starts with AET@HOST:PORT (or the key, for a malformed date) and says why.
QString failure(const ConfiguredPacsNode& node, const std::exception& e) {
  return QStringLiteral("%1: %2").arg(node.name, QString::fromUtf8(e.what()));
}

QString count(int n) { return n < 0 ? QString() : QString::number(n); }

QList<QStandardItem*> row(const QStringList& texts) {
  QList<QStandardItem*> items;
  for (const QString& t : texts) {
    auto* item = new QStandardItem(t);
    item->setEditable(false);
    items << item;
  }
  return items;
}

QStandardItem* placeholder(const QString& text) {
  auto* item = new QStandardItem(text);
  item->setEditable(false);
  item->setSelectable(false);
  item->setData(PacsQueryModel::PlaceholderLevel, PacsQueryModel::kLevelRole);
  return item;
}

struct FindOutcome {
  std::vector<pacs::StudyMatch> studies;
  QString error;
};

struct SeriesOutcome {
  std::vector<pacs::SeriesMatch> series;
  QString error;
};

}  // namespace

PacsQueryModel::PacsQueryModel(QObject* parent) : QObject(parent), results_(new QStandardItemModel(this)) {
  qRegisterMetaType<al::ui::PacsQueryModel::RetrieveOutcome>();
  results_->setHorizontalHeaderLabels(
      {tr("Patient"), tr("Patient ID"), tr("Date"), tr("Description"), tr("Modalities"), tr("Series"), tr("Instances")});
  connect(&retrieveWatcher_, &QFutureWatcher<RetrieveOutcome>::finished, this, &PacsQueryModel::onRetrieveFinished);
  reloadNodes();
}

PacsQueryModel::~PacsQueryModel() {
  // Queries only read what they copied and are dropped; a retrieve writes files, so it stops first.
  cancelRetrieve();
  retrieveWatcher_.waitForFinished();
}

// ---- Nodes -----------------------------------------------------------------------------------

void PacsQueryModel::setNodes(const QList<ConfiguredPacsNode>& nodes) {
  const QString currentName = current_ >= 0 ? nodes_[current_].name : QString();
  savePacsNodes(nodes);
  nodes_ = nodes;
  current_ = nodes_.isEmpty() ? -1 : 0;
  for (int i = 0; i < nodes_.size(); ++i)
    if (nodes_[i].name == currentName) current_ = i;
  emit nodesChanged();
}

void PacsQueryModel::reloadNodes() {
  nodes_ = loadPacsNodes();
  current_ = nodes_.isEmpty() ? -1 : 0;
  emit nodesChanged();
}

void PacsQueryModel::setCurrentNode(int index) {
  const int next = index >= 0 && index < nodes_.size() ? index : -1;
  if (next == current_) return;
  current_ = next;
  emit nodesChanged();
}

std::optional<ConfiguredPacsNode> PacsQueryModel::currentNode() const {
  if (current_ < 0) return std::nullopt;
  return nodes_[current_];
}

// ---- Status ----------------------------------------------------------------------------------

void PacsQueryModel::setStatus(const QString& message, bool error) {
  status_ = message;
  statusIsError_ = error;
  emit statusChanged(message, error);
}

void PacsQueryModel::fail(const QString& message) {
  setStatus(message, true);
  emit failed(message);
}

// ---- Query -----------------------------------------------------------------------------------

void PacsQueryModel::find(const pacs::QueryKeys& keys) {
  const auto node = currentNode();
  if (!node) {
    fail(tr("No PACS node chosen: add one with Nodes..."));
    return;
  }
  const int generation = ++findGeneration_;
  ++findsRunning_;
  emit busyChanged();
  setStatus(tr("Searching %1...").arg(pacsNodeLabel(*node)), false);
  auto* watcher = new QFutureWatcher<FindOutcome>(this);
  connect(watcher, &QFutureWatcher<FindOutcome>::finished, this, [this, watcher, generation, node] {
    watcher->deleteLater();
    --findsRunning_;
    const FindOutcome outcome = watcher->result();
    if (generation != findGeneration_) {  // a newer query replaced this one
      emit busyChanged();
      return;
    }
    if (!outcome.error.isEmpty()) {
      emit busyChanged();
      fail(outcome.error);
      return;
    }
    results_->removeRows(0, results_->rowCount());
    seriesFetches_.clear();
    for (const auto& s : outcome.studies) {
      QString modalities = QString::fromStdString(s.modalitiesInStudy);
      modalities.replace(QLatin1Char('\\'), QStringLiteral(", "));
      QList<QStandardItem*> items = row({QString::fromStdString(s.patientName).replace(QLatin1Char('^'), QStringLiteral(" ")),
                                         QString::fromStdString(s.patientId), formatDicomDate(s.studyDate),
                                         QString::fromStdString(s.studyDescription), modalities, count(s.numberOfSeries),
                                         count(s.numberOfInstances)});
      QStandardItem* study = items.first();
      study->setData(StudyLevel, kLevelRole);
      study->setData(QString::fromStdString(s.studyInstanceUid), kStudyUidRole);
      study->setData(false, kSeriesListedRole);
      study->setToolTip(tr("Study %1\nAccession %2").arg(QString::fromStdString(s.studyInstanceUid), QString::fromStdString(s.accessionNumber)));
      study->appendRow(placeholder(tr("(expand to list the series)")));
      results_->appendRow(items);
    }
    emit busyChanged();
    const int found = static_cast<int>(outcome.studies.size());
    setStatus((found == 1 ? tr("1 study on %1") : tr("%1 studies on %2").arg(found)).arg(pacsNodeLabel(*node)), false);
    emit findFinished(static_cast<int>(outcome.studies.size()));
  });
  watcher->setFuture(QtConcurrent::run([node = *node, keys]() {
    FindOutcome out;
    try {
      out.studies = pacs::findStudies(node.node, keys);
    } catch (const std::exception& e) {
      out.error = failure(node, e);
    }
    return out;
  }));
}

QStandardItem* PacsQueryModel::studyItem(const QString& studyUid) const {
  for (int r = 0; r < results_->rowCount(); ++r)
    if (QStandardItem* item = results_->item(r); item && item->data(kStudyUidRole).toString() == studyUid) return item;
  return nullptr;
}

void PacsQueryModel::fetchSeries(const QModelIndex& index) {
  const QModelIndex first = index.siblingAtColumn(PatientColumn);
  QStandardItem* study = results_->itemFromIndex(first);
  if (!study || study->data(kLevelRole).toInt() != StudyLevel || study->data(kSeriesListedRole).toBool()) return;
  const QString uid = study->data(kStudyUidRole).toString();
  const auto node = currentNode();
  if (!node || seriesFetches_.contains(uid)) return;
  seriesFetches_.insert(uid);
  emit busyChanged();
  if (QStandardItem* p = study->child(0); p && p->data(kLevelRole).toInt() == PlaceholderLevel) p->setText(tr("(listing the series...)"));
  auto* watcher = new QFutureWatcher<SeriesOutcome>(this);
  connect(watcher, &QFutureWatcher<SeriesOutcome>::finished, this, [this, watcher, uid] {
    watcher->deleteLater();
    const SeriesOutcome outcome = watcher->result();
    const bool current = seriesFetches_.remove(uid);  // false: the results were replaced meanwhile
    emit busyChanged();
    QStandardItem* parent = current ? studyItem(uid) : nullptr;
    if (!parent) return;
    if (!outcome.error.isEmpty()) {
      if (QStandardItem* p = parent->child(0); p && p->data(kLevelRole).toInt() == PlaceholderLevel)
        p->setText(tr("(the series could not be listed; expand again to retry)"));
      fail(outcome.error);
      return;
    }
    parent->removeRows(0, parent->rowCount());
    for (const auto& s : outcome.series) {
      QString label = s.seriesNumber.empty() ? tr("Series") : tr("#%1").arg(QString::fromStdString(s.seriesNumber));
      QList<QStandardItem*> items = row({label, QString(), QString(), QString::fromStdString(s.seriesDescription),
                                         QString::fromStdString(s.modality), QString(), count(s.numberOfInstances)});
      items.first()->setData(SeriesLevel, kLevelRole);
      items.first()->setData(uid, kStudyUidRole);
      items.first()->setData(QString::fromStdString(s.seriesInstanceUid), kSeriesUidRole);
      items.first()->setToolTip(tr("Series %1").arg(QString::fromStdString(s.seriesInstanceUid)));
      parent->appendRow(items);
    }
    if (outcome.series.empty()) parent->appendRow(placeholder(tr("(no series)")));
    parent->setData(true, kSeriesListedRole);
    emit seriesFetched(uid, static_cast<int>(outcome.series.size()));
  });
  watcher->setFuture(QtConcurrent::run([node = *node, uid]() {
    SeriesOutcome out;
    try {
      out.series = pacs::findSeries(node.node, uid.toStdString());
    } catch (const std::exception& e) {
      out.error = failure(node, e);
    }
    return out;
  }));
}

// ---- Retrieve --------------------------------------------------------------------------------

QString PacsQueryModel::retrieveDir() {
  const QString env = qEnvironmentVariable("ANOMALYLENS_PACS_DIR");
  return env.isEmpty() ? QString::fromStdString(userDataDir()) + QStringLiteral("/pacs") : env;
}

bool PacsQueryModel::retrieve(const QModelIndex& index) {
  const auto node = currentNode();
  if (!node) {
    fail(tr("No PACS node chosen: add one with Nodes..."));
    return false;
  }
  if (isRetrieving()) {
    setStatus(tr("A retrieve is running: wait for it or cancel it first."), true);
    return false;
  }
  const QStandardItem* item = results_->itemFromIndex(index.siblingAtColumn(PatientColumn));
  const int level = item ? item->data(kLevelRole).toInt() : 0;
  if (level != StudyLevel && level != SeriesLevel) {
    setStatus(tr("Select a study or a series to retrieve."), true);
    return false;
  }
  const QString studyUid = item->data(kStudyUidRole).toString();
  const QString seriesUid = level == SeriesLevel ? item->data(kSeriesUidRole).toString() : QString();
  const QString outDir = retrieveDir();
  QString folder = outDir + QLatin1Char('/') + studyUid;
  if (!seriesUid.isEmpty()) folder += QLatin1Char('/') + seriesUid;

  retrieveCancel_ = std::make_shared<std::atomic<bool>>(false);
  setStatus(tr("Retrieving from %1...").arg(pacsNodeLabel(*node)), false);
  QPointer<PacsQueryModel> self(this);
  retrieveWatcher_.setFuture(QtConcurrent::run([node = *node, studyUid, seriesUid, outDir, folder, cancel = retrieveCancel_,
                                                hook = retrieveHook_, self]() {
    RetrieveOutcome out;
    out.node = pacsNodeLabel(node);
    out.folder = folder;
    // A few updates a second reach the GUI, however fast the objects arrive; the last always does.
    auto last = std::chrono::steady_clock::now() - std::chrono::seconds(1);
    const pacs::Progress progress = [&](int done, int total, const std::string& what) {
      if (hook) hook(done, total);
      const auto now = std::chrono::steady_clock::now();
      if (now - last >= std::chrono::milliseconds(200) || done == total) {
        last = now;
        const QString file = QString::fromStdString(what);
        QMetaObject::invokeMethod(
            qApp,
            [self, done, total, file] {
              if (PacsQueryModel* m = self.data()) emit m->retrieveProgress(done, total, file);
            },
            Qt::QueuedConnection);
      }
      return !cancel->load();
    };
    try {
      QDir().mkpath(outDir);
      out.result = pacs::retrieve(node.node, studyUid.toStdString(), seriesUid.toStdString(), outDir.toStdString(), progress);
      if (out.result.files.empty() && !out.result.cancelled)
        out.error = tr("%1: nothing was retrieved (%n object(s) failed)", nullptr, out.result.failed).arg(out.node);
    } catch (const std::exception& e) {
      out.error = failure(node, e);
    }
    return out;
  }));
  emit busyChanged();
  return true;
}

void PacsQueryModel::cancelRetrieve() {
  if (auto cancel = retrieveCancel_) cancel->store(true);
}

void PacsQueryModel::onRetrieveFinished() {
  const RetrieveOutcome out = retrieveWatcher_.result();
  emit busyChanged();
  const auto& r = out.result;
  const int files = static_cast<int>(r.files.size());
  if (!out.error.isEmpty()) {
    fail(out.error);
    return;
  }
  if (r.cancelled) {
    setStatus(tr("Retrieve cancelled: %n object(s) had arrived and stay in %1", nullptr, files).arg(out.folder), false);
  } else if (r.failed > 0) {
    setStatus(tr("Retrieved %1 object(s) from %2 into %3; %n could not be sent by the PACS", nullptr, r.failed)
                  .arg(files)
                  .arg(out.node, out.folder),
              true);
  } else {
    setStatus(tr("Retrieved %n object(s) from %1 into %2", nullptr, files).arg(out.node, out.folder), false);
  }
  emit retrieveFinished(out);
}

}  // namespace al::ui
