#include "roc/RocModel.h"

#include <algorithm>
#include <cmath>

namespace al::ui {

RocModel::RocModel(QObject* parent) : QObject(parent) {}

void RocModel::setData(std::vector<double> scores, std::vector<int> maskLabels, std::optional<double> threshold) {
  if (scores.size() != scores_.size()) user_.clear();
  scores_ = std::move(scores);
  maskLabels_ = std::move(maskLabels);
  threshold_ = threshold;
  recompute();
}

void RocModel::clear() {
  scores_.clear();
  maskLabels_.clear();
  user_.clear();
  threshold_.reset();
  recompute();
}

int RocModel::userLabel(int slice) const {
  auto it = user_.find(slice);
  return it == user_.end() ? -1 : it->second;
}

int RocModel::label(int slice) const {
  if (const int u = userLabel(slice); u >= 0) return u;
  if (slice >= 0 && slice < static_cast<int>(maskLabels_.size())) return maskLabels_[static_cast<std::size_t>(slice)];
  return -1;
}

void RocModel::setUserLabel(int slice, int label) {
  if (slice < 0 || slice >= sliceCount()) return;
  if (label == 0 || label == 1)
    user_[slice] = label;
  else
    user_.erase(slice);
  recompute();
}

void RocModel::setUserLabels(const std::map<int, int>& marks) {
  user_.clear();
  for (const auto& [s, l] : marks)
    if (s >= 0 && (l == 0 || l == 1)) user_[s] = l;
  recompute();
}

void RocModel::labelled(std::vector<double>& scores, std::vector<int>& labels) const {
  for (int z = 0; z < sliceCount(); ++z) {
    const double s = scores_[static_cast<std::size_t>(z)];
    const int l = label(z);
    if (std::isnan(s) || l < 0) continue;
    scores.push_back(s);
    labels.push_back(l);
  }
}

int RocModel::count(int wanted) const {
  int n = 0;
  for (int z = 0; z < sliceCount(); ++z)
    if (!std::isnan(scores_[static_cast<std::size_t>(z)]) && label(z) == wanted) ++n;
  return n;
}

bool RocModel::hasCurve() const { return count(0) > 0 && count(1) > 0; }

void RocModel::recompute() {
  curve_.clear();
  auc_ = 0.0;
  if (hasCurve()) {
    std::vector<double> s;
    std::vector<int> l;
    labelled(s, l);
    curve_ = eval::rocCurve(s, l);
    auc_ = eval::auc(s, l);
  }
  emit changed();
}

void RocModel::setThreshold(double threshold) {
  if (threshold_ && *threshold_ == threshold) return;
  threshold_ = threshold;
  emit thresholdChanged(threshold);
  emit changed();
}

eval::Confusion RocModel::confusion() const {
  std::vector<double> s;
  std::vector<int> l;
  labelled(s, l);
  if (!threshold_ || s.empty()) return {};
  return eval::confusionAt(s, l, *threshold_);
}

std::optional<std::pair<double, double>> RocModel::operatingPoint() const {
  if (!hasCurve() || !threshold_) return std::nullopt;
  const eval::Confusion c = confusion();
  return std::make_pair(1.0 - c.specificity(), c.sensitivity());
}

double RocModel::youden() const {
  std::vector<double> s;
  std::vector<int> l;
  labelled(s, l);
  return hasCurve() ? eval::youdenThreshold(s, l) : threshold_.value_or(0.0);
}

std::pair<double, double> RocModel::scoreRange() const {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (double s : scores_)
    if (!std::isnan(s)) {
      lo = std::min(lo, s);
      hi = std::max(hi, s);
    }
  if (!std::isfinite(lo)) return {0.0, 1.0};
  if (threshold_) {
    lo = std::min(lo, *threshold_);
    hi = std::max(hi, *threshold_);
  }
  if (hi <= lo) hi = lo + 1e-6;
  return {lo, hi};
}

RocModel::Histogram RocModel::histogram(int bins) const {
  Histogram h;
  bins = std::max(1, bins);
  const auto [lo, hi] = scoreRange();
  const double width = (hi - lo) / bins;
  for (int i = 0; i <= bins; ++i) h.edges.push_back(lo + i * width);
  h.healthy.assign(static_cast<std::size_t>(bins), 0);
  h.abnormal = h.healthy;
  h.unlabelled = h.healthy;
  for (int z = 0; z < sliceCount(); ++z) {
    const double s = scores_[static_cast<std::size_t>(z)];
    if (std::isnan(s)) continue;
    const auto b = static_cast<std::size_t>(std::clamp(static_cast<int>((s - lo) / width), 0, bins - 1));
    const int l = label(z);
    (l == 1 ? h.abnormal : l == 0 ? h.healthy : h.unlabelled)[b]++;
  }
  return h;
}

QString RocModel::summary() const {
  if (scores_.empty()) return tr("Run a model to see its scores here.");
  const int healthy = count(0), abnormal = count(1);
  if (!hasCurve())
    return tr("%1 slices labelled healthy, %2 abnormal: a ROC curve needs both. Mark slices with N (normal) "
              "and A (abnormal), or open a scan whose manifest names its lesion mask.")
        .arg(healthy)
        .arg(abnormal);
  QString s = tr("AUC %1 over %2 healthy and %3 abnormal slices").arg(auc_, 0, 'f', 3).arg(healthy).arg(abnormal);
  if (threshold_) {
    const eval::Confusion c = confusion();
    s += tr("; at %1: sensitivity %2, specificity %3").arg(*threshold_, 0, 'g', 4).arg(c.sensitivity(), 0, 'f', 2).arg(c.specificity(), 0, 'f', 2);
  }
  return s;
}

}  // namespace al::ui
