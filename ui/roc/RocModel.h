#pragma once
// The ROC panel's presenter: the open scan's slice scores against slice labels, which come from
// a lesion mask (a manifest naming one) and from the user marking slices normal or abnormal (a
// mark wins over the mask). Gives the ROC curve and its AUC, the operating point of the score
// threshold and the score histograms of both classes. The threshold is shared with the overlay:
// moving it here moves which slices are flagged there, and back.

#include <QObject>
#include <QString>
#include <map>
#include <optional>
#include <vector>

#include "eval/Metrics.h"

namespace al::ui {

class RocModel : public QObject {
  Q_OBJECT
 public:
  explicit RocModel(QObject* parent = nullptr);

  // Scores per slice (NaN: not scored) and labels per slice (1 abnormal, 0 healthy, -1 unknown;
  // may be empty). Keeps the user's marks when the slice count is unchanged.
  void setData(std::vector<double> scores, std::vector<int> maskLabels, std::optional<double> threshold);
  void clear();

  int sliceCount() const { return static_cast<int>(scores_.size()); }
  int label(int slice) const;      // the user's mark, else the mask's
  int userLabel(int slice) const;  // -1 when unmarked
  void setUserLabel(int slice, int label);  // 1, 0, or -1 to remove the mark
  std::map<int, int> userLabels() const { return user_; }
  void setUserLabels(const std::map<int, int>& marks);

  // The scored, labelled slices: both classes present means a curve.
  int count(int label) const;
  bool hasCurve() const;
  const std::vector<eval::RocPoint>& curve() const { return curve_; }
  double auc() const { return auc_; }

  std::optional<double> threshold() const { return threshold_; }
  void setThreshold(double threshold);
  eval::Confusion confusion() const;  // at the threshold
  // (fpr, tpr) of the threshold, when there is a curve and a threshold.
  std::optional<std::pair<double, double>> operatingPoint() const;
  double youden() const;  // the threshold that maximises sensitivity + specificity - 1

  struct Histogram {
    std::vector<double> edges;      // bins + 1
    std::vector<int> healthy, abnormal, unlabelled;
  };
  Histogram histogram(int bins) const;
  std::pair<double, double> scoreRange() const;  // of the scored slices

  QString summary() const;

 signals:
  void changed();
  void thresholdChanged(double threshold);

 private:
  void recompute();
  void labelled(std::vector<double>& scores, std::vector<int>& labels) const;

  std::vector<double> scores_;
  std::vector<int> maskLabels_;
  std::map<int, int> user_;
  std::optional<double> threshold_;
  std::vector<eval::RocPoint> curve_;
  double auc_ = 0.0;
};

}  // namespace al::ui
