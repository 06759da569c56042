#pragma once
// From a scan on disk to what a model sees, and back. One pipeline per model, built from the
// model's input (OCT for the one-channel GANs, MRI for ADM's contrasts) and stored in the model
// card, so training, the CLI's infer/eval and the viewer prepare images identically.
//
//   OCT: intensities to [-1, 1] per volume, retina flattened on the RPE, fixed pixel sizes
//        (preprocess/OctFlatten.h); one image per B-scan.
//   MRI: contrasts matched by name to the model's, co-registered, brain mask (given or
//        estimated), z-scored over the brain, slices cropped and resized
//        (preprocess/MriPrepare.h); one image per axial slice.
//
// Image-level labels come from the lesion mask when there is one: a B-scan or slice is
// abnormal with at least `minLesionPixels` lesion pixels, healthy with none, and left out of
// image-level metrics in between (a sliver of a lesion's edge is neither).

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "image/Volume.h"
#include "models/AnomalyModel.h"
#include "training/DataSet.h"

namespace al {
struct OctFlattened;
struct MriPrepared;
}

namespace al::training {

enum class Modality { Oct, Mri };

struct Prepared {
  std::string id;
  int caseLabel = -1;
  Volume images;                  // [C, S, H, W] float32 in model space
  Volume valid;                   // [1, S, H, W] uint8: retina / brain
  std::optional<Volume> lesions;  // [1, S, H, W] uint8 lesion labels in model space
  std::vector<int> sliceLabels;   // per image: 1 abnormal, 0 healthy, -1 not counted
  std::vector<int> sliceIndex;    // the image's B-scan / slice in the scan
  std::shared_ptr<const OctFlattened> oct;  // geometry to map back (its band is dropped)
  std::shared_ptr<const MriPrepared> mri;
  std::optional<Volume> brainMask;  // MRI: on the scan's grid
  Size3 scanSize;
  Vec3 scanSpacing{1, 1, 1};
  Vec3 scanOrigin{0, 0, 0};
  Mat3 scanDirection{1, 0, 0, 0, 1, 0, 0, 0, 1};
  std::optional<Volume> displayScan;  // the scan as read (MRI: its contrasts), when asked for
  std::vector<std::string> warnings;
};

class Pipeline {
 public:
  // The pipeline a model's input calls for; `options` override single settings.
  static Pipeline forInput(const models::InputSpec& spec, const nlohmann::json& options = nlohmann::json::object());
  // From a model card's "preprocessing".
  static Pipeline fromJson(const nlohmann::json& preprocessing, const models::InputSpec& spec);
  nlohmann::json toJson() const;

  Modality modality() const { return modality_; }
  const std::vector<std::string>& contrasts() const { return contrasts_; }

  // The case's scan as read (MRI: its contrasts co-registered into one [C, Z, Y, X] volume).
  Volume readScan(const DataCase& c) const;
  // Throws al::Error naming `source` and the reason when this pipeline cannot take `scan`: a
  // multi-contrast or non-OCT scan for an OCT model, missing contrasts for an MRI model. Cheap:
  // the training wizard runs it on every case before any training starts.
  void checkScan(const Volume& scan, const std::string& source) const;
  // Reads the case's files and prepares them. Throws al::Error naming the file and the reason.
  Prepared prepare(const DataCase& c, bool keepScan = false) const;
  // A scan already in memory ([1, Z, Y, X] OCT, or [C, Z, Y, X] contrasts with channel names).
  Prepared prepare(const Volume& scan, const Volume* lesionMask, const Volume* brainMask, const std::string& id) const;

  // A model-space map [1, S, H, W] back onto the scan's grid [1, Z, Y, X] (0 where unscored).
  Volume toScan(const Prepared& p, const Volume& map) const;

  int minLesionPixels() const { return minLesionPixels_; }

 private:
  Modality modality_ = Modality::Oct;
  std::vector<std::string> contrasts_;
  nlohmann::json oct_, mri_;
  int minLesionPixels_ = 10;
};

// A label volume (lesion or brain mask) that must match the scan's size; throws al::FileError
// naming the file otherwise. `what` names it in the error ("the lesion mask").
Volume readCaseLabels(const std::string& path, const Size3& expected, const std::string& what);

// The images of `p` whose indices are listed, as one [C, n, H, W] volume (and its valid mask).
Volume selectImages(const Volume& images, const std::vector<int>& indices);

}  // namespace al::training
