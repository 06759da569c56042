#pragma once
// Pictures the command line writes without a GUI toolkit: heatmap overlays (a scan's image
// with an anomaly map in the inferno colormap) and ROC plots. Plain C++ into RGB buffers; the
// viewer draws its own with Qt.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace al::render {

struct RgbImage {
  int width = 0, height = 0;
  std::vector<unsigned char> rgb;  // rows top to bottom, interleaved
};

// The inferno colormap (matplotlib's), t in [0, 1].
std::array<unsigned char, 3> inferno(double t);

// The overlay colormaps: inferno (perceptually uniform, the default), jet (MATLAB's, familiar
// from the papers' figures) and hot (black, red, yellow, white).
enum class Colormap { Inferno, Jet, Hot };
std::array<unsigned char, 3> colormap(Colormap map, double t);
std::string toString(Colormap map);           // "inferno", "jet", "hot"
Colormap colormapFromString(const std::string& name);  // throws al::Error naming the choices

// The overlay's colour and opacity for a map value t in [0, 1] of its colour range (t <= 0:
// not coloured), shared by the viewer, the 3D view, the reports and the command line. The ramp
// starts where the colour is already visible on dark anatomy: inferno and hot from their red
// (their black and deep purple vanish over fluid, which is dark in OCT), and the faintest
// coloured pixel is half as opaque as the strongest.
std::array<unsigned char, 3> overlayColour(Colormap map, double t);
double overlayAlpha(double opacity, double t);

// A grey image (window [lo, hi]) under a map normalised to [mapLo, mapHi]: pixels whose map is
// at or below mapLo stay grey, above it the colour's opacity grows to `opacity`.
RgbImage overlay(const float* image, const float* map, int width, int height, double lo, double hi,
                 double mapLo, double mapHi, double opacity = 0.6);

// A ROC plot: axes with tenths, the chance diagonal, the curve, the operating point (fpr, tpr)
// and "AUC=0.xxx" written in the corner.
RgbImage rocPlot(const std::vector<std::pair<double, double>>& fprTpr, double auc,
                 std::optional<std::pair<double, double>> operatingPoint, int size = 480);

// Each pixel as a factor x factor block (small MRI slices become readable; no new detail).
RgbImage upscale(const RgbImage& img, int factor);

// Text in a 5x7 pixel font (digits, '.', '=', ' ', and the letters of AUC/FPR/TPR), `scale`
// pixels per font pixel.
void drawText(RgbImage& img, int x, int y, const std::string& text, std::array<unsigned char, 3> colour, int scale = 2);

}  // namespace al::render
