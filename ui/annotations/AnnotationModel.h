#pragma once
// The annotations' presenter: flagged images, regions (ellipses: area, mean and spread of the
// scan, mean of the heatmap) and distances on the open scan, the drawing tool in use and the
// shape being drawn. Measurements come from core (session/Session.h), so the report export
// computes the same numbers.

#include <QObject>
#include <QPointF>
#include <QString>
#include <memory>
#include <optional>
#include <vector>

#include "session/Session.h"

namespace al::ui {

class AnnotationModel : public QObject {
  Q_OBJECT
 public:
  enum class Tool { None, Region, Distance };

  explicit AnnotationModel(QObject* parent = nullptr);

  // A new scan starts with no annotations.
  void setScan(std::shared_ptr<const Volume> scan);
  const std::shared_ptr<const Volume>& scan() const { return scan_; }
  // The heatmap the regions are also measured on (same grid as the scan), or nullptr.
  void setMap(const Volume* map);
  // The channel (MRI contrast) regions are measured on: the one on screen.
  void setChannel(int channel);

  const std::vector<Annotation>& annotations() const { return annotations_; }
  void setAnnotations(std::vector<Annotation> annotations);
  int add(Annotation a);  // returns its index
  void remove(int index);
  void setNote(int index, const QString& note);
  std::vector<int> onSlice(int slice) const;
  // Flags or unflags an image (one flag per slice).
  void toggleFlag(int slice);
  bool isFlagged(int slice) const;
  QString describe(int index) const;  // "distance 3.61 mm", "region 12.4 mm2, mean ...", ...

  Tool tool() const { return tool_; }
  void setTool(Tool tool);
  // Drawing with the tool, in voxel coordinates on `slice`: press, drag, release. A shape too
  // small to mean anything (under half a pixel) is dropped. The tool goes back to None after
  // one shape, as in most viewers.
  void begin(int slice, QPointF voxel);
  void drag(QPointF voxel);
  int finish();  // the new annotation's index, or -1
  const std::optional<Annotation>& draft() const { return draft_; }

 signals:
  void changed();
  void toolChanged(al::ui::AnnotationModel::Tool tool);

 private:
  std::shared_ptr<const Volume> scan_;
  const Volume* map_ = nullptr;
  int channel_ = 0;
  std::vector<Annotation> annotations_;
  Tool tool_ = Tool::None;
  std::optional<Annotation> draft_;
};

}  // namespace al::ui
