#include "studybrowser/StudyBrowserModel.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <vector>

namespace al::ui {

QString formatDicomDate(const std::string& da) {
  const QString s = QString::fromStdString(da);
  if (s.size() == 8 && s.toInt() > 0) return s.left(4) + QLatin1Char('-') + s.mid(4, 2) + QLatin1Char('-') + s.mid(6, 2);
  return s;
}

StudyBrowserModel::StudyBrowserModel(QObject* parent) : QStandardItemModel(parent) {
  setHorizontalHeaderLabels({tr("Patient / study / series"), tr("Details"), tr("Images")});
}

namespace {
QString text(const std::string& s, const QString& fallback = QString()) {
  return s.empty() ? fallback : QString::fromStdString(s);
}
QString personName(const std::string& pn) {
  // DICOM PN: Family^Given^Middle -> "Family, Given Middle".
  const QStringList parts = QString::fromStdString(pn).split(QLatin1Char('^'));
  if (parts.size() < 2) return QString::fromStdString(pn);
  return parts[0] + QStringLiteral(", ") + parts.mid(1).join(QLatin1Char(' ')).trimmed();
}
}  // namespace

void StudyBrowserModel::setIndex(DicomFolderIndex index, const QString& source) {
  index_ = std::move(index);
  source_ = source;
  removeRows(0, rowCount());
  std::map<std::string, QStandardItem*> patients, studies;
  // Series in the order a clinician expects: by series number within their study.
  std::vector<std::size_t> order(index_.series.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [this](std::size_t a, std::size_t b) {
    const auto& x = index_.series[a];
    const auto& y = index_.series[b];
    const int nx = QString::fromStdString(x.seriesNumber).toInt(), ny = QString::fromStdString(y.seriesNumber).toInt();
    return std::tie(x.patientId, x.studyInstanceUid, nx) < std::tie(y.patientId, y.studyInstanceUid, ny);
  });
  for (const std::size_t i : order) {
    const auto& s = index_.series[i];
    const std::string patientKey = s.patientId + "|" + s.patientName;
    QStandardItem*& patient = patients[patientKey];
    if (!patient) {
      patient = new QStandardItem(personName(s.patientName).isEmpty() ? tr("(no name)") : personName(s.patientName));
      patient->setData(PatientLevel, kLevelRole);
      QStringList details{tr("ID %1").arg(text(s.patientId, tr("none")))};
      if (!s.patientBirthDate.empty()) details << tr("born %1").arg(formatDicomDate(s.patientBirthDate));
      if (!s.patientSex.empty()) details << text(s.patientSex);
      appendRow({patient, new QStandardItem(details.join(QStringLiteral(", "))), new QStandardItem()});
    }
    QStandardItem*& study = studies[patientKey + "|" + s.studyInstanceUid];
    if (!study) {
      study = new QStandardItem(QStringLiteral("%1  %2").arg(formatDicomDate(s.studyDate), text(s.studyDescription, tr("(no description)"))));
      study->setData(StudyLevel, kLevelRole);
      patient->appendRow({study, new QStandardItem(s.accessionNumber.empty() ? QString() : tr("accession %1").arg(text(s.accessionNumber))),
                          new QStandardItem()});
    }
    auto* series = new QStandardItem(QStringLiteral("#%1  %2").arg(text(s.seriesNumber, QStringLiteral("?")), text(s.seriesDescription, tr("(no description)"))));
    series->setData(SeriesLevel, kLevelRole);
    series->setData(static_cast<int>(i), kSeriesRole);
    QStringList details{text(s.modality, tr("?"))};
    if (!s.laterality.empty()) details << tr("laterality %1").arg(text(s.laterality));
    auto* count = new QStandardItem(QString::number(s.files.size()));
    count->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    study->appendRow({series, new QStandardItem(details.join(QStringLiteral(", "))), count});
  }
  for (int r = 0; r < rowCount(); ++r) {
    for (int c = 0; c < columnCount(); ++c) {
      if (auto* it = item(r, c)) it->setEditable(false);
    }
  }
}

namespace {
QStandardItem* findSeries(const QStandardItemModel& m, QStandardItem* parent, int series) {
  for (int r = 0; r < (parent ? parent->rowCount() : m.rowCount()); ++r) {
    QStandardItem* it = parent ? parent->child(r) : m.item(r);
    if (!it) continue;
    if (it->data(StudyBrowserModel::kLevelRole).toInt() == StudyBrowserModel::SeriesLevel &&
        it->data(StudyBrowserModel::kSeriesRole).toInt() == series)
      return it;
    if (QStandardItem* found = findSeries(m, it, series)) return found;
  }
  return nullptr;
}
}  // namespace

void StudyBrowserModel::setThumbnail(int series, const QImage& thumbnail) {
  if (QStandardItem* it = findSeries(*this, nullptr, series)) it->setData(thumbnail, Qt::DecorationRole);
}

QImage StudyBrowserModel::thumbnail(int series) const {
  const QStandardItem* it = findSeries(*this, nullptr, series);
  return it ? it->data(Qt::DecorationRole).value<QImage>() : QImage();
}

QImage makeThumbnail(const Volume& v, int size) {
  if (v.empty()) return {};
  const auto w = static_cast<int>(v.size().x), h = static_cast<int>(v.size().y);
  const std::int64_t z = v.size().z / 2;
  std::vector<double> values;
  values.reserve(static_cast<std::size_t>(w) * h);
  const bool rgb = v.channels() == 3;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) values.push_back(v.value(x, y, z, 0));
  std::vector<double> sorted = values;
  auto at = [&](double q) {
    auto k = sorted.begin() + static_cast<std::ptrdiff_t>(q * static_cast<double>(sorted.size() - 1));
    std::nth_element(sorted.begin(), k, sorted.end());
    return *k;
  };
  const double lo = at(0.01), hi = std::max(at(0.99), lo + 1e-9);
  QImage img(w, h, rgb ? QImage::Format_RGB888 : QImage::Format_Grayscale8);
  for (int y = 0; y < h; ++y) {
    uchar* line = img.scanLine(y);
    for (int x = 0; x < w; ++x) {
      if (rgb) {
        for (int c = 0; c < 3; ++c)
          line[x * 3 + c] = static_cast<uchar>(std::clamp((v.value(x, y, z, c) - lo) / (hi - lo) * 255.0, 0.0, 255.0));
      } else {
        line[x] = static_cast<uchar>(std::clamp((values[static_cast<std::size_t>(y) * w + x] - lo) / (hi - lo) * 255.0, 0.0, 255.0));
      }
    }
  }
  return img.scaled(size, size, Qt::KeepAspectRatio, Qt::SmoothTransformation);
}

const DicomSeriesEntry* StudyBrowserModel::seriesAt(const QModelIndex& row) const {
  const QModelIndex first = row.siblingAtColumn(0);
  if (first.data(kLevelRole).toInt() != SeriesLevel) return nullptr;
  const int i = first.data(kSeriesRole).toInt();
  return i >= 0 && i < seriesCount() ? &index_.series[static_cast<std::size_t>(i)] : nullptr;
}

}  // namespace al::ui
