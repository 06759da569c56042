#pragma once
// What the 3D view renders: the scan and its heatmap fused into one RGBA volume (grey tissue
// faint and mostly transparent, the heatmap in the overlay's colours and opaque), downsampled
// to at most `maxSize` voxels along each axis (grey averaged, heatmap by maximum so that a small
// finding survives). Plain computation, run in a worker thread.

#include "image/Volume.h"
#include "render/Raster.h"

namespace al::ui {

struct ComposeOptions {
  int channel = 0;
  double window = 1.0, level = 0.5;  // the grey scale, as in the slice view
  const Volume* map = nullptr;       // [1, Z, Y, X] on the scan's grid, or nullptr
  double mapLo = 0.0, mapHi = 1.0;   // the heatmap's colour range
  double hideBelow = 0.0;            // share of that range not drawn
  render::Colormap colormap = render::Colormap::Inferno;
  int maxSize = 128;
};

// UInt8, 4 channels (R, G, B, A), spacing scaled by the downsampling.
Volume composeRgba(const Volume& scan, const ComposeOptions& options);

}  // namespace al::ui
