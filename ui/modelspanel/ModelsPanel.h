#pragma once
// The models panel: the model list (name, method, modality, test AUC, threshold; the card's
// details below), Run and Cancel with a progress bar and ETA, the run's result, and the
// overlay's controls (show, map, colormap, normalisation, opacity, threshold, comparison).

#include <QWidget>

class QCheckBox;
class QComboBox;
class QLabel;
class QProgressBar;
class QPushButton;
class QSlider;
class QTextBrowser;
class QTreeWidget;

namespace al::ui {

class ModelsModel;
class OverlayModel;

class ModelsPanel : public QWidget {
  Q_OBJECT
 public:
  ModelsPanel(ModelsModel* models, OverlayModel* overlay, QWidget* parent = nullptr);
  int selectedIndex() const;
  void select(int index);
  QPushButton* runButton() const { return run_; }
  QPushButton* cancelButton() const { return cancel_; }
  QPushButton* trainButton() const { return train_; }
  QCheckBox* compareBox() const { return compare_; }
  QString resultText() const;

 public slots:
  void runSelected();

 signals:
  void compareToggled(bool on);
  void trainRequested();  // "Train a new model..."; the main window opens the wizard

 private:
  void refreshList();
  void refreshButtons();
  void refreshOverlayControls();

  ModelsModel* models_;
  OverlayModel* overlay_;
  QTreeWidget* list_;
  QLabel* problems_;
  QTextBrowser* details_;
  QPushButton* run_;
  QPushButton* cancel_;
  QPushButton* train_;
  QProgressBar* progress_;
  QLabel* progressText_;
  QLabel* result_;
  QCheckBox* show_;
  QComboBox* map_;
  QComboBox* colormap_;
  QComboBox* normalisation_;
  QSlider* opacity_;
  QSlider* threshold_;
  QCheckBox* compare_;
};

}  // namespace al::ui
