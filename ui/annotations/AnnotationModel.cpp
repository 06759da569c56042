#include "annotations/AnnotationModel.h"

#include <algorithm>
#include <cmath>

namespace al::ui {

AnnotationModel::AnnotationModel(QObject* parent) : QObject(parent) {}

void AnnotationModel::setScan(std::shared_ptr<const Volume> scan) {
  scan_ = std::move(scan);
  map_ = nullptr;
  channel_ = 0;
  annotations_.clear();
  draft_.reset();
  setTool(Tool::None);
  emit changed();
}

void AnnotationModel::setMap(const Volume* map) {
  map = (map && scan_ && map->size() == scan_->size()) ? map : nullptr;
  if (map == map_) return;  // the overlay changes often (opacity drags): only a new map matters
  map_ = map;
  emit changed();
}

void AnnotationModel::setChannel(int channel) {
  if (channel == channel_ || !scan_ || channel < 0 || channel >= scan_->channels()) return;
  channel_ = channel;
  emit changed();
}

void AnnotationModel::setAnnotations(std::vector<Annotation> annotations) {
  annotations_ = std::move(annotations);
  emit changed();
}

int AnnotationModel::add(Annotation a) {
  annotations_.push_back(std::move(a));
  emit changed();
  return static_cast<int>(annotations_.size()) - 1;
}

void AnnotationModel::remove(int index) {
  if (index < 0 || index >= static_cast<int>(annotations_.size())) return;
  annotations_.erase(annotations_.begin() + index);
  emit changed();
}

void AnnotationModel::setNote(int index, const QString& note) {
  if (index < 0 || index >= static_cast<int>(annotations_.size())) return;
  annotations_[static_cast<std::size_t>(index)].note = note.toStdString();
  emit changed();
}

std::vector<int> AnnotationModel::onSlice(int slice) const {
  std::vector<int> out;
  for (int i = 0; i < static_cast<int>(annotations_.size()); ++i)
    if (annotations_[static_cast<std::size_t>(i)].slice == slice) out.push_back(i);
  return out;
}

bool AnnotationModel::isFlagged(int slice) const {
  return std::any_of(annotations_.begin(), annotations_.end(),
                     [slice](const Annotation& a) { return a.kind == AnnotationKind::Flag && a.slice == slice; });
}

void AnnotationModel::toggleFlag(int slice) {
  if (!scan_) return;
  auto it = std::find_if(annotations_.begin(), annotations_.end(),
                         [slice](const Annotation& a) { return a.kind == AnnotationKind::Flag && a.slice == slice; });
  if (it != annotations_.end())
    annotations_.erase(it);
  else
    annotations_.push_back({AnnotationKind::Flag, slice, {}, ""});
  emit changed();
}

QString AnnotationModel::describe(int index) const {
  if (!scan_ || index < 0 || index >= static_cast<int>(annotations_.size())) return {};
  return QString::fromStdString(al::describe(*scan_, annotations_[static_cast<std::size_t>(index)], channel_, map_))
      .replace(QStringLiteral("mm2"), QStringLiteral("mm\u00b2"))
      .replace(QStringLiteral("+/-"), QStringLiteral("\u00b1"));
}

void AnnotationModel::setTool(Tool tool) {
  if (tool == tool_) return;
  tool_ = tool;
  draft_.reset();
  emit toolChanged(tool_);
}

void AnnotationModel::begin(int slice, QPointF voxel) {
  if (tool_ == Tool::None || !scan_) return;
  Annotation a;
  a.kind = tool_ == Tool::Region ? AnnotationKind::Region : AnnotationKind::Distance;
  a.slice = slice;
  a.points = {{voxel.x(), voxel.y()}, {voxel.x(), voxel.y()}};
  draft_ = a;
  emit changed();
}

void AnnotationModel::drag(QPointF voxel) {
  if (!draft_) return;
  draft_->points[1] = {voxel.x(), voxel.y()};
  emit changed();
}

int AnnotationModel::finish() {
  if (!draft_) return -1;
  Annotation a = *draft_;
  draft_.reset();
  setTool(Tool::None);
  const double dx = a.points[1][0] - a.points[0][0], dy = a.points[1][1] - a.points[0][1];
  const bool tooSmall = a.kind == AnnotationKind::Region ? (std::abs(dx) < 0.5 || std::abs(dy) < 0.5) : std::hypot(dx, dy) < 0.5;
  if (tooSmall) {
    emit changed();
    return -1;
  }
  return add(std::move(a));
}

}  // namespace al::ui
