#include "render3d/OffscreenVolumeRenderer.h"

#include <vtkCamera.h>
#include <vtkColorTransferFunction.h>
#include <vtkImageData.h>
#include <vtkNew.h>
#include <vtkPiecewiseFunction.h>
#include <vtkRenderWindow.h>
#include <vtkRenderer.h>
#include <vtkSmartPointer.h>
#include <vtkSmartVolumeMapper.h>
#include <vtkUnsignedCharArray.h>
#include <vtkVolume.h>
#include <vtkVolumeProperty.h>

#include <cstdlib>
#include <cstring>

#include "errors/Error.h"

namespace al::ui {

struct OffscreenVolumeRenderer::Impl {
  vtkNew<vtkRenderWindow> window;
  vtkNew<vtkRenderer> renderer;
  Impl() {
    window->SetOffScreenRendering(1);
    window->AddRenderer(renderer);
    renderer->SetBackground(0.0, 0.0, 0.0);
  }
};

OffscreenVolumeRenderer::OffscreenVolumeRenderer() = default;
OffscreenVolumeRenderer::~OffscreenVolumeRenderer() = default;

bool OffscreenVolumeRenderer::displayAvailable() {
  const char* display = std::getenv("DISPLAY");
  return display && *display;
}

namespace {

vtkSmartPointer<vtkImageData> toVtk(const Volume& v, int channel) {
  auto image = vtkSmartPointer<vtkImageData>::New();
  image->SetDimensions(static_cast<int>(v.size().x), static_cast<int>(v.size().y), static_cast<int>(v.size().z));
  image->SetSpacing(v.spacing().data());
  // Rendering happens in index orientation scaled by spacing; the origin stays at zero so the
  // camera setup does not depend on scanner coordinates.
  image->SetOrigin(0, 0, 0);
  int type = VTK_FLOAT;
  if (v.pixelType() == PixelType::UInt8) type = VTK_UNSIGNED_CHAR;
  if (v.pixelType() == PixelType::Int16) type = VTK_SHORT;
  image->AllocateScalars(type, 1);
  const std::size_t bytes = static_cast<std::size_t>(v.voxelsPerChannel()) * pixelTypeSize(v.pixelType());
  std::memcpy(image->GetScalarPointer(), v.bytes() + bytes * static_cast<std::size_t>(channel), bytes);
  return image;
}

}  // namespace

QImage OffscreenVolumeRenderer::render(const Volume& volume, const VolumeRenderOptions& options) {
  if (!displayAvailable()) throw Error("3D view", "VTK needs an X display (run under xvfb-run when headless)");
  if (volume.empty()) throw Error("3D view", "no volume to render");
  if (!impl_) impl_ = std::make_unique<Impl>();
  const int channel = std::clamp(options.channel, 0, volume.channels() - 1);
  const auto range = volume.valueRange(channel);
  const double lo = range.min, hi = range.max > range.min ? range.max : range.min + 1.0;

  vtkNew<vtkColorTransferFunction> color;
  color->AddRGBPoint(lo, 0.0, 0.0, 0.0);
  color->AddRGBPoint(lo + 0.5 * (hi - lo), 0.9, 0.75, 0.6);
  color->AddRGBPoint(hi, 1.0, 1.0, 1.0);
  vtkNew<vtkPiecewiseFunction> opacity;
  opacity->AddPoint(lo, 0.0);
  opacity->AddPoint(lo + 0.25 * (hi - lo), 0.0);
  opacity->AddPoint(hi, 0.6);
  vtkNew<vtkVolumeProperty> property;
  property->SetColor(color);
  property->SetScalarOpacity(opacity);
  return finish(toVtk(volume, channel), property, options);
}

QImage OffscreenVolumeRenderer::renderRgba(const Volume& rgba, const VolumeRenderOptions& options) {
  if (!displayAvailable()) throw Error("3D view", "VTK needs an X display (run under xvfb-run when headless)");
  if (rgba.empty() || rgba.channels() != 4 || rgba.pixelType() != PixelType::UInt8)
    throw Error("3D view", "an RGBA volume needs 4 channels of 8 bits");
  if (!impl_) impl_ = std::make_unique<Impl>();
  auto image = vtkSmartPointer<vtkImageData>::New();
  image->SetDimensions(static_cast<int>(rgba.size().x), static_cast<int>(rgba.size().y), static_cast<int>(rgba.size().z));
  image->SetSpacing(rgba.spacing().data());
  image->SetOrigin(0, 0, 0);
  image->AllocateScalars(VTK_UNSIGNED_CHAR, 4);
  // VTK interleaves the components; ours are planes.
  auto* dst = static_cast<unsigned char*>(image->GetScalarPointer());
  const std::int64_t n = rgba.voxelsPerChannel();
  const auto* src = rgba.data<std::uint8_t>();
  for (std::int64_t i = 0; i < n; ++i)
    for (int c = 0; c < 4; ++c) dst[i * 4 + c] = src[c * n + i];
  vtkNew<vtkPiecewiseFunction> opacity;
  opacity->AddPoint(0, 0.0);
  opacity->AddPoint(255, 1.0);
  vtkNew<vtkVolumeProperty> property;
  property->IndependentComponentsOff();  // R, G, B shown as they are; the fourth is opacity
  property->SetScalarOpacity(opacity);
  return finish(image, property, options);
}

QImage OffscreenVolumeRenderer::finish(vtkImageData* input, vtkVolumeProperty* property, const VolumeRenderOptions& options) {
  vtkNew<vtkSmartVolumeMapper> mapper;
  mapper->SetInputData(input);
  property->SetInterpolationTypeToLinear();
  property->ShadeOff();
  vtkNew<vtkVolume> actor;
  actor->SetMapper(mapper);
  actor->SetProperty(property);
  auto& r = *impl_->renderer;
  r.RemoveAllViewProps();
  r.AddVolume(actor);
  // Seen as the slice view shows it (x to the right, y down), then turned.
  auto* camera = r.GetActiveCamera();
  camera->SetFocalPoint(0, 0, 0);
  camera->SetPosition(0, 0, -1);
  camera->SetViewUp(0, -1, 0);
  r.ResetCamera();
  r.GetActiveCamera()->Azimuth(options.azimuth);
  r.GetActiveCamera()->Elevation(options.elevation);
  r.GetActiveCamera()->Zoom(1.3);  // ResetCamera leaves a wide margin around the bounds
  r.GetActiveCamera()->OrthogonalizeViewUp();
  r.ResetCameraClippingRange();

  const int w = options.size.width(), h = options.size.height();
  impl_->window->SetSize(w, h);
  impl_->window->Render();
  vtkNew<vtkUnsignedCharArray> pixels;
  impl_->window->GetRGBACharPixelData(0, 0, w - 1, h - 1, 0, pixels);
  if (pixels->GetNumberOfTuples() != static_cast<vtkIdType>(w) * h) throw Error("3D view", "VTK returned no pixels");

  QImage image(w, h, QImage::Format_RGBA8888);
  const auto* src = pixels->GetPointer(0);
  for (int y = 0; y < h; ++y) {
    // OpenGL rows run bottom-up.
    std::memcpy(image.scanLine(h - 1 - y), src + static_cast<std::size_t>(y) * w * 4, static_cast<std::size_t>(w) * 4);
  }
  return image;
}

}  // namespace al::ui
