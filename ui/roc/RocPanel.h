#pragma once
// The ROC panel (QCustomPlot): the ROC curve of the open scan's slice scores against its slice
// labels with the AUC and the threshold's operating point, and the score histograms of healthy
// and abnormal slices with the threshold as a line one can drag (the overlay follows).

#include <QWidget>
#include <optional>

class QCustomPlot;
class QCPItemStraightLine;
class QLabel;
class QMouseEvent;

namespace al::ui {

class RocModel;

class RocPanel : public QWidget {
  Q_OBJECT
 public:
  RocPanel(RocModel* model, QWidget* parent = nullptr);
  QCustomPlot* rocPlot() const { return roc_; }
  QCustomPlot* histogramPlot() const { return hist_; }
  // The threshold a drag to this x pixel of the histogram sets.
  double thresholdAtPixel(double x) const;
  // Whether a card threshold exists to go back to.
  void setCardThreshold(std::optional<double> threshold) { cardThreshold_ = threshold; }
  // The Youden / model's-threshold buttons; the training wizard chooses its threshold otherwise.
  void setThresholdButtonsVisible(bool visible);

 private:
  void refresh();
  void dragTo(QMouseEvent* event);

  RocModel* model_;
  QCustomPlot* roc_;
  QCustomPlot* hist_;
  QLabel* summary_;
  QWidget* buttons_ = nullptr;
  bool dragging_ = false;
  std::optional<double> cardThreshold_;
};

}  // namespace al::ui
