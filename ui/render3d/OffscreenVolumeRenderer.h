#pragma once
// Volume rendering with VTK's core modules into a QImage. Debian's VTK Qt module is built for
// Qt 5, so AnomalyLens never links it: VTK renders off screen (an X display is still needed:
// Debian's VTK has no EGL/OSMesa backend; tests run under xvfb-run) and the pixels are copied
// into a QImage that any Qt 6 widget can paint.

#include <QImage>
#include <QSize>
#include <memory>

#include "image/Volume.h"

class vtkImageData;
class vtkVolumeProperty;

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
  // A volume of colours: UInt8 with 4 channels (R, G, B, opacity), rendered as they are
  // (VTK's dependent components); see VolumeComposer.h.
  QImage renderRgba(const Volume& rgba, const VolumeRenderOptions& options = {});

 private:
  struct Impl;
  QImage finish(vtkImageData* input, vtkVolumeProperty* property, const VolumeRenderOptions& options);
  std::unique_ptr<Impl> impl_;
};

}  // namespace al::ui
