#include "annotations/AnnotationsPanel.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QPushButton>
#include <QTreeWidget>
#include <QVBoxLayout>

#include "annotations/AnnotationModel.h"
#include "sliceview/SliceViewModel.h"

namespace al::ui {

AnnotationsPanel::AnnotationsPanel(AnnotationModel* annotations, SliceViewModel* slices, QWidget* parent)
    : QWidget(parent), annotations_(annotations), slices_(slices) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  auto* tools = new QHBoxLayout;
  auto* flag = new QPushButton(tr("Flag image"), this);
  flag->setToolTip(tr("Flag or unflag the image on screen (B)"));
  region_ = new QPushButton(tr("Region"), this);
  region_->setToolTip(tr("Draw an elliptical region: area, mean and spread (E)"));
  region_->setCheckable(true);
  distance_ = new QPushButton(tr("Distance"), this);
  distance_->setToolTip(tr("Measure a distance in mm (D)"));
  distance_->setCheckable(true);
  auto* remove = new QPushButton(tr("Delete"), this);
  remove->setToolTip(tr("Delete the selected annotation (Del)"));
  for (auto* b : {flag, region_, distance_, remove}) tools->addWidget(b);
  layout->addLayout(tools);
  list_ = new QTreeWidget(this);
  list_->setObjectName(QStringLiteral("annotationList"));
  list_->setHeaderLabels({tr("Slice"), tr("Measurement"), tr("Note")});
  list_->setRootIsDecorated(false);
  list_->header()->setSectionResizeMode(QHeaderView::ResizeToContents);
  // Only the note is edited (double-click it); slice and measurement come from the shape.
  list_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  list_->setToolTip(tr("Click: go to the slice. Double-click the note to edit it."));
  layout->addWidget(list_);

  connect(flag, &QPushButton::clicked, this, [this] { annotations_->toggleFlag(slices_->slice()); });
  connect(region_, &QPushButton::toggled, this, [this](bool on) {
    annotations_->setTool(on ? AnnotationModel::Tool::Region : AnnotationModel::Tool::None);
  });
  connect(distance_, &QPushButton::toggled, this, [this](bool on) {
    annotations_->setTool(on ? AnnotationModel::Tool::Distance : AnnotationModel::Tool::None);
  });
  connect(remove, &QPushButton::clicked, this, &AnnotationsPanel::removeSelected);
  connect(annotations_, &AnnotationModel::toolChanged, this, [this](AnnotationModel::Tool tool) {
    const QSignalBlocker a(region_), b(distance_);
    region_->setChecked(tool == AnnotationModel::Tool::Region);
    distance_->setChecked(tool == AnnotationModel::Tool::Distance);
  });
  connect(annotations_, &AnnotationModel::changed, this, &AnnotationsPanel::refresh);
  connect(list_, &QTreeWidget::itemDoubleClicked, this, [this](QTreeWidgetItem* item, int column) {
    if (column == 2) list_->editItem(item, 2);
  });
  connect(list_, &QTreeWidget::itemClicked, this, [this](QTreeWidgetItem* item) {
    slices_->setSlice(item->data(0, Qt::UserRole + 1).toInt());
  });
  connect(list_, &QTreeWidget::itemChanged, this, [this](QTreeWidgetItem* item, int column) {
    if (refreshing_ || column != 2) return;
    annotations_->setNote(item->data(0, Qt::UserRole).toInt(), item->text(2));
  });
  refresh();
}

int AnnotationsPanel::selectedIndex() const {
  const QTreeWidgetItem* item = list_->currentItem();
  return item ? item->data(0, Qt::UserRole).toInt() : -1;
}

void AnnotationsPanel::removeSelected() { annotations_->remove(selectedIndex()); }

void AnnotationsPanel::refresh() {
  refreshing_ = true;
  const int selected = selectedIndex();
  list_->clear();
  const auto& all = annotations_->annotations();
  for (int i = 0; i < static_cast<int>(all.size()); ++i) {
    const auto& a = all[static_cast<std::size_t>(i)];
    auto* item = new QTreeWidgetItem(list_);
    item->setData(0, Qt::UserRole, i);
    item->setData(0, Qt::UserRole + 1, a.slice);
    item->setText(0, QString::number(a.slice + 1));
    QString text = annotations_->describe(i);
    if (!a.note.empty()) text = text.left(text.size() - static_cast<int>(a.note.size()) - 2);  // the note has its own column
    item->setText(1, text);
    item->setText(2, QString::fromStdString(a.note));
    item->setFlags(item->flags() | Qt::ItemIsEditable);
    if (i == selected) list_->setCurrentItem(item);
  }
  refreshing_ = false;
}

}  // namespace al::ui
