#pragma once
// The en-face panel's presenter: the fundus (SLO) image, or the volume's projection when there
// is none, with each B-scan's line on it; maps a click to the nearest B-scan. No widget here.

#include <QImage>
#include <QLineF>
#include <QObject>
#include <memory>
#include <vector>

#include "image/Volume.h"
#include "io/oct/HeidelbergVolReader.h"

namespace al::ui {

class EnFaceModel : public QObject {
  Q_OBJECT
 public:
  explicit EnFaceModel(QObject* parent = nullptr);

  // `oct`: the B-scan volume. `fundus` and `lines` (mm on the fundus) when the file has them.
  void setStudy(std::shared_ptr<const Volume> oct, std::shared_ptr<const Volume> fundus = nullptr,
                std::vector<OctBScanInfo> lines = {});
  void clear();
  bool hasImage() const { return !image_.isNull(); }
  bool usesFundus() const { return usesFundus_; }

  const QImage& image() const { return image_; }      // 8-bit grey
  double pixelAspect() const { return pixelAspect_; }  // displayed height / width of one pixel
  int bscanCount() const { return static_cast<int>(lines_.size()); }
  QLineF bscanLine(int bscan) const;                   // in image pixel coordinates
  int bscanAt(QPointF imagePoint) const;               // nearest B-scan, -1 without an image

 signals:
  void changed();

 private:
  QImage image_;
  std::vector<QLineF> lines_;
  double pixelAspect_ = 1.0;
  bool usesFundus_ = false;
};

}  // namespace al::ui
