#pragma once
// Volume rendering with VTK's core modules into a QImage. Debian's VTK Qt module is built for
// Qt 5, so AnomalyLens never links it: VTK renders off screen (an X display is still needed:
// Debian's VTK has no EGL/OSMesa backend; tests run under xvfb-run) and the pixels are copied
// into a QImage that any Qt 6 widget can paint.

#include <QImage>
#include <QSize>
#include <memory>

#include "image/Volume.h"

namespace al::ui {

struct VolumeRenderOptions {
  QSize size{400, 400};
  double azimuth = 30.0;    // degrees around the volume's vertical axis
  double elevation = 20.0;  // degrees above the horizontal
  int channel = 0;
};

class OffscreenVolumeRenderer {
 public:
  OffscreenVolumeRenderer();
  ~OffscreenVolumeRenderer();
  OffscreenVolumeRenderer(const OffscreenVolumeRenderer&) = delete;
  OffscreenVolumeRenderer& operator=(const OffscreenVolumeRenderer&) = delete;

  // True when an X display is there to render on; render() throws al::Error otherwise
  // (VTK itself would abort the process).
  static bool displayAvailable();

  QImage render(const Volume& volume, const VolumeRenderOptions& options = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace al::ui
