#pragma once
// A synthetic multi-contrast brain MRI with known lesions. Tissues (scalp, skull, CSF,
// ventricles, cortical and deep grey matter, white matter) carry T1, T2 and proton density
// values at 1.5 T; each contrast follows from them through the spin-echo signal equation
// (T1-weighted, T2-weighted, PD) or the inversion-recovery one (FLAIR, with TI nulling CSF).
// T1c is T1-weighted after gadolinium, which shortens T1 where the blood-brain barrier is
// broken. A smooth bias field and Rician noise complete the picture; every subject's head,
// folding and ventricles differ a little.

#include <cstdint>
#include <string>
#include <vector>

#include "image/Volume.h"

namespace al {

enum class MriLesion : std::uint8_t {
  TumourCore = 1,  // enhancing rim and necrotic core (or a solid non-enhancing mass)
  Oedema = 2,      // peritumoural oedema, confined to white matter
  Stroke = 3,      // a wedge-shaped cortical-subcortical infarct
  MsLesion = 4,    // small ovoid periventricular / white-matter lesions
};
const char* mriLesionName(MriLesion lesion);

struct MriLesionOptions {
  int tumours = 0;
  bool enhancingRing = true;
  int strokes = 0;
  int msLesions = 0;
  double size = 1.0;
  int total() const { return tumours + strokes + msLesions; }
  static MriLesionOptions randomMix(std::uint64_t seed);
};

// The acquisition parameters of each contrast (ms); written into DICOM headers too.
struct MriSequence {
  std::string name;            // "T1", "T1c", "T2", "FLAIR", "PD"
  std::string description;     // SeriesDescription
  double repetitionTime = 0;   // TR
  double echoTime = 0;         // TE
  double inversionTime = 0;    // TI, 0 for spin echo
  bool contrastAgent = false;  // gadolinium given
};

struct MriPhantomOptions {
  int sizeX = 128, sizeY = 128, sizeZ = 96;
  double spacing = 1.5;  // mm, isotropic
  std::uint64_t seed = 1;
  MriLesionOptions lesions;
  bool withPD = false;
  double noise = 0.03;  // Rician noise sigma relative to white matter's T1-weighted signal
  double bias = 0.15;   // bias field strength (log-amplitude)
};

struct MriLesionRecord {
  MriLesion kind;
  Vec3 centreMm;
  double radiusMm;
};

struct MriPhantom {
  Volume image;      // int16, one channel per contrast (T1, T1c, T2, FLAIR[, PD]), co-registered
  Volume mask;       // uint8 MriLesion labels
  Volume brainMask;  // uint8, 1 inside the skull (brain, CSF, lesions)
  std::vector<MriSequence> sequences;  // one per channel
  std::vector<MriLesionRecord> lesions;
  bool anomalous() const { return !lesions.empty(); }
};

MriPhantom makeMriPhantom(const MriPhantomOptions& options);

}  // namespace al
