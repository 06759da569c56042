#pragma once
// The annotations panel: every flag, region and distance on the open scan with its measurement
// and note (editable), tool buttons, delete; double-click goes to the annotation's slice.

#include <QWidget>

class QTreeWidget;
class QPushButton;

namespace al::ui {

class AnnotationModel;
class SliceViewModel;

class AnnotationsPanel : public QWidget {
  Q_OBJECT
 public:
  AnnotationsPanel(AnnotationModel* annotations, SliceViewModel* slices, QWidget* parent = nullptr);
  QTreeWidget* list() const { return list_; }
  int selectedIndex() const;

 public slots:
  void removeSelected();

 private:
  void refresh();
  AnnotationModel* annotations_;
  SliceViewModel* slices_;
  QTreeWidget* list_;
  QPushButton* region_;
  QPushButton* distance_;
  bool refreshing_ = false;
};

}  // namespace al::ui
