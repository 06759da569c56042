#pragma once
// The heatmap overlay's presenter: which of a model run's maps is shown, in which colormap,
// how opaque, above which threshold, and normalised how; and the run's slice scores against
// the score threshold (the card's until the user or the ROC panel moves it). No widget here:
// SliceView paints renderOverlay() over the slice and the models panel binds the controls.
//
// Normalisation decides which map value gets which colour:
//   Calibrated: the model's healthy range from its card (colour starts at the healthy 99th
//               percentile), so a colour means the same in every patient. Where the card has
//               no calibration for the map, per volume, and rangeLabel() says so.
//   PerVolume:  the median to the 99.9th percentile of the map's nonzero values in this scan.
//   PerImage:   the same, per slice: every slice uses its full colour scale (finds the most
//               unusual region of a slice, but colours no longer compare across slices).

#include <QImage>
#include <QObject>
#include <QString>
#include <QStringList>
#include <QVector>
#include <map>
#include <memory>
#include <optional>

#include "inference/ScanAnalysis.h"
#include "render/Raster.h"

namespace al::ui {

class OverlayModel : public QObject {
  Q_OBJECT
 public:
  enum class Normalisation { Calibrated, PerVolume, PerImage };
  struct Range {
    double lo = 0, hi = 1;
    bool calibrated = false;
  };

  explicit OverlayModel(QObject* parent = nullptr);

  // nullptr clears the overlay. Keeps colormap, opacity, threshold and normalisation; picks the
  // run's first map and the card's score threshold.
  void setAnalysis(std::shared_ptr<const inference::ScanAnalysis> analysis);
  const std::shared_ptr<const inference::ScanAnalysis>& analysis() const { return analysis_; }
  bool hasMap() const;

  QStringList mapNames() const;  // the maps one can overlay (not the reconstruction)
  QString mapName() const { return mapName_; }
  void setMapName(const QString& name);
  bool hasReconstruction() const;

  render::Colormap colormap() const { return colormap_; }
  void setColormap(render::Colormap map);
  double opacity() const { return opacity_; }
  void setOpacity(double opacity);  // the most opaque colour, [0, 1]
  // Map values below this fraction of the colour range are not drawn, [0, 1).
  double threshold() const { return threshold_; }
  void setThreshold(double fraction);
  Normalisation normalisation() const { return normalisation_; }
  void setNormalisation(Normalisation n);
  bool isVisible() const { return visible_; }
  void setVisible(bool visible);
  void toggleVisible() { setVisible(!visible_); }

  // The colour range for slice z in map units (what the colour bar shows).
  Range range(int z) const;
  QString rangeLabel(int z) const;  // "calibrated to the healthy range", "per volume", ...
  // The overlay of slice z: ARGB32 premultiplied at the map's size; transparent where nothing
  // is drawn; a null image when there is no map, it is hidden or z is outside.
  QImage renderOverlay(int z) const;
  // The reconstruction (the model's healthy version) of slice z as 8-bit grey, for the
  // side-by-side comparison; null when the model has none.
  QImage renderReconstruction(int z) const;
  // The 256 colours of the colormap, for the colour bar.
  QVector<QRgb> colours() const;
  // The same with the overlay's opacity ramp, premultiplied: what renderOverlay paints.
  const QVector<QRgb>& overlayColours() const { return lut_; }

  // Scores.
  std::optional<double> sliceScore(int z) const;  // nullopt where unscored
  std::optional<double> scoreThreshold() const { return scoreThreshold_; }
  void setScoreThreshold(double threshold);
  bool sliceFlagged(int z) const;  // scored at or above the score threshold
  std::vector<int> flaggedSlices() const;
  QString verdict(int z) const;
  // The slice with the largest coloured area (map above the calibrated or per-volume range's
  // start) among the flagged ones (all scored ones when none is flagged): where to look first.
  // -1 without a map.
  int largestFindingSlice() const;  // the slice's score against the threshold, for the view's corner

  static QString toString(Normalisation n);
  static Normalisation normalisationFromString(const QString& name);  // unknown: Calibrated

 signals:
  void analysisChanged();
  void changed();  // anything that changes the picture
  void scoreThresholdChanged(double threshold);

 private:
  const Volume* currentMap() const;
  Range robustRange(const float* values, std::int64_t n) const;
  void rebuildLut();

  std::shared_ptr<const inference::ScanAnalysis> analysis_;
  QString mapName_;
  render::Colormap colormap_ = render::Colormap::Inferno;
  double opacity_ = 0.6;
  double threshold_ = 0.0;
  Normalisation normalisation_ = Normalisation::Calibrated;
  bool visible_ = true;
  std::optional<double> scoreThreshold_;
  QVector<QRgb> lut_;  // 256 premultiplied colours with the opacity ramp
  mutable std::map<QString, Range> volumeRanges_;
  mutable std::map<std::pair<QString, int>, Range> sliceRanges_;
};

}  // namespace al::ui
