#include "studybrowser/StudyBrowser.h"

#include <QFileInfo>
#include <QHeaderView>
#include <QKeyEvent>
#include <QLabel>
#include <QTreeView>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include "errors/Error.h"
#include "io/VolumeReader.h"
#include "studybrowser/StudyBrowserModel.h"

namespace al::ui {

StudyBrowser::StudyBrowser(QWidget* parent)
    : QWidget(parent), model_(new StudyBrowserModel(this)), view_(new QTreeView(this)), status_(new QLabel(this)) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(2, 2, 2, 2);
  layout->addWidget(view_);
  layout->addWidget(status_);
  view_->setModel(model_);
  view_->setUniformRowHeights(true);
  view_->setSelectionMode(QAbstractItemView::ExtendedSelection);
  view_->setAlternatingRowColors(true);
  view_->header()->setSectionResizeMode(0, QHeaderView::ResizeToContents);
  status_->setWordWrap(true);
  status_->setText(tr("Open a folder or DICOMDIR to list its studies."));
  connect(view_, &QTreeView::activated, this, &StudyBrowser::activate);  // double-click or Enter
  connect(&watcher_, &QFutureWatcher<Result>::finished, this, &StudyBrowser::onIndexed);
  view_->setIconSize(QSize(48, 48));
  connect(&thumbnails_, &QFutureWatcher<Thumbnail>::resultReadyAt, this, [this](int i) {
    const Thumbnail t = thumbnails_.resultAt(i);
    model_->setThumbnail(t.series, t.image);
  });
  connect(&thumbnails_, &QFutureWatcher<Thumbnail>::finished, this, &StudyBrowser::thumbnailsDone);
}

StudyBrowser::~StudyBrowser() {
  thumbnails_.cancel();
  thumbnails_.waitForFinished();
  watcher_.waitForFinished();
}

void StudyBrowser::indexPath(const QString& path) {
  if (watcher_.isRunning()) return;
  thumbnails_.cancel();
  thumbnails_.waitForFinished();
  status_->setText(tr("Reading the headers in %1 ...").arg(QFileInfo(path).fileName()));
  watcher_.setFuture(QtConcurrent::run([path] {
    Result r;
    r.path = path;
    try {
      const std::string p = path.toStdString();
      r.index = QFileInfo(path).isDir() ? indexDicomFolder(p) : indexDicomDir(p);
    } catch (const al::Error& e) {
      r.error = QString::fromStdString(e.message());
    } catch (const std::exception& e) {
      r.error = path + QStringLiteral(": ") + QString::fromStdString(e.what());
    }
    return r;
  }));
}

void StudyBrowser::onIndexed() {
  Result r = watcher_.result();
  if (!r.error.isEmpty()) {
    status_->setText(r.error);
    emit indexFailed(r.error);
    return;
  }
  const int unreadable = static_cast<int>(r.index.errors.size());
  model_->setIndex(std::move(r.index), r.path);
  view_->expandAll();
  QString text = tr("%n series", nullptr, model_->seriesCount());
  if (unreadable > 0) {
    text += tr(", %n unreadable file(s); first: %1", nullptr, unreadable)
                .arg(QString::fromStdString(model_->index().errors.front().first + ": " + model_->index().errors.front().second));
  }
  status_->setText(text);
  // Thumbnails in the background, one series after another (the middle file of each: its
  // pixels are decoded, unlike indexing's headers); a new folder cancels them.
  std::vector<std::pair<int, std::string>> middles;
  for (int i = 0; i < model_->seriesCount(); ++i) {
    const auto& files = model_->index().series[static_cast<std::size_t>(i)].files;
    if (!files.empty()) middles.emplace_back(i, files[files.size() / 2].path);
  }
  thumbnails_.setFuture(QtConcurrent::run([middles](QPromise<Thumbnail>& promise) {
    for (const auto& [series, file] : middles) {
      if (promise.isCanceled()) return;
      try {
        promise.addResult(Thumbnail{series, makeThumbnail(readVolume(file))});
      } catch (const std::exception&) {
        // No thumbnail for an undecodable image: opening the series reports why.
      }
    }
  }));
  emit indexed(model_->seriesCount(), unreadable);
}

void StudyBrowser::activate(const QModelIndex& index) {
  if (const DicomSeriesEntry* s = model_->seriesAt(index)) emit seriesActivated(*s);
}

std::vector<DicomSeriesEntry> StudyBrowser::selectedSeries() const {
  std::vector<DicomSeriesEntry> out;
  for (const QModelIndex& i : view_->selectionModel()->selectedRows())
    if (const DicomSeriesEntry* s = model_->seriesAt(i)) out.push_back(*s);
  return out;
}

}  // namespace al::ui
