#pragma once
// From a scan on disk to what a model sees, and back. One pipeline per model, chosen by
// modality when the model is trained and stored in the model card ("preprocessing"), so
// training, the CLI's infer/eval and the viewer prepare images identically.
//
//   OCT: intensities to [-1, 1] per volume, retina flattened on the RPE, fixed pixel sizes
//        (preprocess/OctFlatten.h); one image per B-scan.
//   MR:  contrasts matched by name to the model's, co-registered, brain mask (given or
//        estimated), z-scored over the brain, slices cropped and resized
//        (preprocess/MriPrepare.h); one image per axial slice. ADM takes its contrasts
//        z-scored; a single-channel GAN takes one contrast, its z-scores divided by `z_clip`
//        (3) and clipped to [-1, 1], -1 outside the brain (its generators end in tanh).
//   CR:  2D radiographs (DICOM CR, DX, DR; PNG, JPEG), windowed per image by percentiles to
//        [-1, 1], resized to a square keeping the aspect ratio (preprocess/RadiographPrepare.h).
//
// ADM is MR only. The single-channel GANs default to OCT (what their papers used, and what a
// card without a modality meant); training picks MR or CR from the options ("modality":
// "OCT" | "MR" | "CR"; the CLI's --modality) or, when none is given, from the data
// (Pipeline::forData: a case of named contrasts is MR, a DICOM file says its modality).
//
// Image-level labels come from the lesion mask when there is one: a B-scan or slice is
// abnormal with at least `minLesionPixels` lesion pixels, healthy with none, and left out of
// image-level metrics in between (a sliver of a lesion's edge is neither). Per-image labels a
// manifest gives win over the mask's. Without either, a healthy case's images are healthy, a
// one-image case has the case's label (OCT2017's B-scans), and the images of a larger abnormal
// case are not counted (which of them hold the lesion is unknown).

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
struct RadiographPrepared;
}

namespace al::training {

enum class Modality { Oct, Mri, Radiograph };

// "OCT", "MR", "CR" (as cards store them).
std::string modalityName(Modality m);
// OCT/OPT, MR/MRI, CR/DX/DR/radiograph/x-ray (any case); throws al::Error naming the choices.
Modality parseModality(const std::string& name);

struct Prepared {
  std::string id;
  int caseLabel = -1;
  std::string className;          // the case's class in an image-labelled set ("CNV"), or empty
  Volume images;                  // [C, S, H, W] float32 in model space
  Volume valid;                   // [1, S, H, W] uint8: retina / brain
  std::optional<Volume> lesions;  // [1, S, H, W] uint8 lesion labels in model space
  std::vector<int> sliceLabels;   // per image: 1 abnormal, 0 healthy, -1 not counted
  std::vector<int> sliceIndex;    // the image's B-scan / slice in the scan
  std::shared_ptr<const OctFlattened> oct;  // geometry to map back (its band is dropped)
  std::shared_ptr<const MriPrepared> mri;
  std::shared_ptr<const RadiographPrepared> radiograph;
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
  // For training on data: as forInput, with the modality (and, for a one-contrast MR model, the
  // contrast: FLAIR when the case has one, else its first) that `example`, a case of the
  // healthy training data, calls for when `options` do not name them. `note` says what was
  // chosen from the data. A case that does not say (NIfTI, PNG) leaves the model's default.
  static Pipeline forData(const models::InputSpec& spec, const nlohmann::json& options, const DataCase& example,
                          std::string* note = nullptr);
  // From a model card's "preprocessing".
  static Pipeline fromJson(const nlohmann::json& preprocessing, const models::InputSpec& spec);
  nlohmann::json toJson() const;

  Modality modality() const { return modality_; }
  // Whether images come out z-scored (ADM's MR) rather than in [-1, 1].
  bool zScored() const { return modality_ == Modality::Mri && !unitRange_; }
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
  // The scan's channels this model takes, in its order.
  std::vector<int> contrastIndices(const Volume& scan, const std::string& source) const;

  Modality modality_ = Modality::Oct;
  std::vector<std::string> contrasts_;
  bool unitRange_ = true;  // MR for a GAN: z-scores scaled into [-1, 1]
  nlohmann::json oct_, mri_, radiograph_;
  int minLesionPixels_ = 10;
};

// A label volume (lesion or brain mask) that must match the scan's size; throws al::FileError
// naming the file otherwise. `what` names it in the error ("the lesion mask").
Volume readCaseLabels(const std::string& path, const Size3& expected, const std::string& what);

// The images of `p` whose indices are listed, as one [C, n, H, W] volume (and its valid mask).
Volume selectImages(const Volume& images, const std::vector<int>& indices);

}  // namespace al::training
