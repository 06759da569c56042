#pragma once
// A reading session: the scan that was open, how it was viewed (slice, zoom, pan, window/level,
// layout), the heatmap (which model, map, colours, threshold), the user's slice labels and the
// annotations (flagged images, regions, distances), saved as one JSON file so that a reading can
// be closed and taken up again, and read by the report export. Plain C++, no Qt: the CLI and the
// reports read sessions too.

#include <array>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "image/Volume.h"

namespace al {

inline constexpr int kSessionFormat = 1;

enum class AnnotationKind { Flag, Region, Distance };
std::string toString(AnnotationKind kind);  // "flag", "region", "distance"

// Points are in voxel coordinates of the scan (x, y continuous; the slice is z), as DICOM image
// coordinates: the first pixel's top-left corner is (0, 0) and its centre (0.5, 0.5).
struct Annotation {
  AnnotationKind kind = AnnotationKind::Flag;
  int slice = 0;
  std::vector<std::array<double, 2>> points;  // distance: 2 ends; region: 2 corners of its ellipse's box
  std::string note;
};

// What a region covers on its slice: the ellipse inscribed in the box of its two corners.
struct RegionMeasure {
  long pixels = 0;
  double areaMm2 = 0;
  double mean = 0, sd = 0, min = 0, max = 0;  // the scan's values (the given channel)
  std::optional<double> mapMean, mapMax;       // the heatmap's, when a map is given
};
RegionMeasure measureRegion(const Volume& scan, const Annotation& region, int channel = 0, const Volume* map = nullptr);
// The length of a distance annotation in mm (the scan's pixel spacing).
double measureDistance(const Volume& scan, const Annotation& distance);
// One line for lists and reports: "distance 3.21 mm", "region 12.4 mm², mean 103 ± 8.2", ...
std::string describe(const Volume& scan, const Annotation& a, int channel = 0, const Volume* map = nullptr);

struct SessionView {
  int slice = 0;
  double zoom = 1.0;
  double panX = 0, panY = 0;
  int channel = 0;
  std::map<int, std::pair<double, double>> windowLevel;  // per channel: window, level
  std::string layout = "single";                         // "single", "orthogonal", "3d"
  bool compare = false;
};

struct SessionOverlay {
  std::string model;  // the card's name (or path); empty: no model was run
  std::string map;
  std::string colormap = "inferno";
  std::string normalisation = "calibrated";
  double opacity = 0.6;
  double threshold = 0.0;  // hide below, share of the colour range
  bool visible = true;
  std::optional<double> scoreThreshold;  // the user's, when moved from the card's
};

struct Session {
  std::string scan;         // the file or folder opened (absolute)
  std::string seriesLabel;  // a DICOM series within a folder ("#3 T2 AX"), or empty
  SessionView view;
  SessionOverlay overlay;
  std::map<int, int> sliceLabels;  // slice -> 1 abnormal / 0 normal (the user's marks)
  std::vector<Annotation> annotations;
  std::string saved;  // ISO 8601, UTC, set by saveSession
};

nlohmann::json toJson(const Session& s);
// Throws al::Error naming `source` and the field when the JSON is not a session.
Session sessionFromJson(const nlohmann::json& j, const std::string& source);
// Written to a temporary file and renamed into place: a crash never leaves half a session.
void saveSession(Session s, const std::string& path);
Session loadSession(const std::string& path);  // throws al::FileError naming the file and the reason

}  // namespace al
