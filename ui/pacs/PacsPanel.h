#pragma once
// The PACS panel (a dock in the viewer): pick a node (Nodes... edits the list), search studies by
// patient name, patient ID, study date range and modality, expand a study to list its series,
// and Retrieve the selected study or series with progress and Cancel. A retrieved folder is
// announced with retrieved() for the viewer to open in the study browser. Errors stay in the
// panel's status line (the node and the reason); nothing here blocks the GUI thread.

#include <QWidget>

#include "pacs/PacsClient.h"

class QComboBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QTreeView;

namespace al::ui {

class PacsQueryModel;
class PacsNodesDialog;

class PacsPanel : public QWidget {
  Q_OBJECT
 public:
  explicit PacsPanel(QWidget* parent = nullptr);
  ~PacsPanel() override;

  PacsQueryModel* model() const { return model_; }
  QTreeView* view() const { return view_; }
  // The matching keys as the fields stand (dates YYYYMMDD; "2023-01-15" is taken too).
  pacs::QueryKeys keys() const;
  QString statusText() const;
  PacsNodesDialog* nodesDialog() const { return nodesDialog_; }  // while open, for tests

 public slots:
  void find();
  void retrieveSelected();
  void cancelRetrieve();
  void showNodesDialog();

 signals:
  void retrieved(const QString& folder);

 private:
  void refreshNodes();
  void updateButtons();

  PacsQueryModel* model_;
  QComboBox* node_;
  QLineEdit* patientName_;
  QLineEdit* patientId_;
  QLineEdit* dateFrom_;
  QLineEdit* dateTo_;
  QComboBox* modality_;
  QPushButton* find_;
  QTreeView* view_;
  QPushButton* retrieve_;
  QPushButton* cancel_;
  QProgressBar* progress_;
  QLabel* status_;
  PacsNodesDialog* nodesDialog_ = nullptr;
};

}  // namespace al::ui
