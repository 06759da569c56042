#include "phantom/OctPhantom.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <random>
#include <stdexcept>

namespace al {

namespace {

struct Layer {
  double thickness;     // fraction of the total retinal thickness at the periphery
  double reflectivity;  // relative, 0..1
};

// ILM down to the RPE: NFL, GCL+IPL, INL, OPL, ONL, ELM, ONL/EZ gap, ellipsoid zone, RPE.
constexpr std::array<Layer, 9> kLayers{{{0.13, 0.80},
                                        {0.22, 0.50},
                                        {0.11, 0.22},
                                        {0.08, 0.55},
                                        {0.24, 0.15},
                                        {0.02, 0.45},
                                        {0.06, 0.25},
                                        {0.05, 0.85},
                                        {0.09, 0.95}}};

struct Blob {
  double x, z, radius, height;
};

double gaussian(double d2, double r) { return std::exp(-d2 / (2.0 * r * r)); }

}  // namespace

OctPhantom makeOctPhantom(const OctPhantomOptions& o) {
  if (o.width < 32 || o.depth < 64 || o.bscans < 1) throw std::invalid_argument("OCT phantom: size too small");
  std::mt19937 rng(o.seed);
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  auto between = [&](double a, double b) { return a + (b - a) * uni(rng); };

  const double W = o.width, D = o.depth, Z = o.bscans;
  // Geometry of this eye: curvature, tilt and vertical offset vary per volume.
  const double curvature = between(0.4, 1.2) * D * 0.12;
  const double tilt = between(-0.06, 0.06) * D;
  const double offset = between(-0.05, 0.05) * D;
  const double thickness = D * between(0.20, 0.24);  // ~300 um of a ~1.9 mm A-scan
  const double foveaX = W * between(0.45, 0.55), foveaZ = Z * between(0.45, 0.55);
  std::vector<Blob> drusen, cysts;
  for (int i = 0; i < o.drusen; ++i) drusen.push_back({between(0.15, 0.85) * W, between(0.1, 0.9) * Z, between(10, 25), between(8, 18)});
  for (int i = 0; i < o.cysts; ++i) cysts.push_back({between(0.25, 0.75) * W, between(0.2, 0.8) * Z, between(8, 18), between(6, 12)});
  // Vessel shadows: a few columns per B-scan where the light is absorbed by vessels above.
  std::vector<double> vesselX;
  for (int i = 0; i < 6; ++i) vesselX.push_back(between(0.05, 0.95) * W);

  OctPhantom out{Volume(PixelType::UInt8, Size3{o.width, o.depth, o.bscans}),
                 Volume(PixelType::UInt8, Size3{o.width, o.depth, o.bscans})};
  out.image.setSpacing({0.0117, 0.0039, 0.120});  // mm: Spectralis-like 512 x 496 x 49
  out.mask.setSpacing(out.image.spacing());
  auto& m = out.image.metadata();
  m.modality = "OPT";
  m.patientName = "PHANTOM^OCT";
  m.patientId = "PHANTOM-" + std::to_string(o.seed);
  m.seriesDescription = "Phantom OCT volume";
  m.laterality = "R";
  m.sourceFormat = "phantom";

  std::uint8_t* img = out.image.data<std::uint8_t>();
  std::uint8_t* msk = out.mask.data<std::uint8_t>();
  std::gamma_distribution<double> speckle(1.0 / (o.speckle * o.speckle), o.speckle * o.speckle);
  std::normal_distribution<double> noise(0.0, o.noise);
  std::vector<double> bounds(kLayers.size() + 1);

  for (int z = 0; z < o.bscans; ++z) {
    for (int x = 0; x < o.width; ++x) {
      const double u = (x - W / 2) / (W / 2);
      const double fd2 = (x - foveaX) * (x - foveaX) + std::pow((z - foveaZ) * W / Z * 0.35, 2);
      const double pit = gaussian(fd2, W * 0.07);
      const double rpe = D * 0.55 + offset + curvature * u * u + tilt * u;
      double elevation = 0;  // drusen lift the RPE and the layers above it
      for (const auto& b : drusen) elevation += b.height * gaussian((x - b.x) * (x - b.x) + std::pow((z - b.z) * W / Z * 0.3, 2), b.radius);
      const double inner = thickness * (1.0 - 0.55 * pit);  // the fovea thins the inner retina
      const double top = rpe - elevation - inner;
      bounds[0] = top;
      // The inner layers (NFL to OPL) thin out at the pit; the ONL takes up what they lose, so
      // the stack still ends on the RPE.
      double innerLoss = 0;
      for (std::size_t l = 0; l < 4; ++l) innerLoss += kLayers[l].thickness * inner * 0.9 * pit;
      for (std::size_t l = 0; l < kLayers.size(); ++l) {
        double t = kLayers[l].thickness * inner;
        if (l < 4) t *= (1.0 - 0.9 * pit);
        if (l == 4) t += innerLoss;
        bounds[l + 1] = bounds[l] + t;
      }
      bounds.back() = rpe - elevation;  // exact, so rounding never opens a gap above the RPE
      const double rpeBottom = bounds.back();
      const bool shadow = std::any_of(vesselX.begin(), vesselX.end(), [&](double vx) { return std::abs(x - vx) < 3.0; });
      for (int y = 0; y < o.depth; ++y) {
        double r = 0.015;  // vitreous
        bool lesion = false;
        if (y >= bounds[0] && y < rpeBottom) {
          const auto it = std::upper_bound(bounds.begin(), bounds.end(), static_cast<double>(y));
          r = kLayers[static_cast<std::size_t>(it - bounds.begin() - 1)].reflectivity;
        } else if (y >= rpeBottom && y < rpe) {
          r = 0.35;  // drusen: moderately reflective deposit under the lifted RPE
          lesion = true;
        } else if (y >= rpe) {
          r = 0.5 * std::exp(-(y - rpe) / (D * 0.06)) + 0.01;  // choroid, fading with depth
        }
        for (const auto& c : cysts) {
          const double cy = bounds[4] + (bounds[5] - bounds[4]) * 0.5;
          const double d2 = std::pow((x - c.x) / c.radius, 2) + std::pow((y - cy) / c.height, 2) +
                            std::pow((z - c.z) * W / Z * 0.3 / c.radius, 2);
          if (d2 < 1.0) { r = 0.02; lesion = true; }
        }
        if (shadow && y > bounds[1]) r *= 0.35;
        double v = r * speckle(rng) + noise(rng);
        v = std::clamp(std::pow(std::max(v, 0.0), 0.8), 0.0, 1.0);
        const auto i = static_cast<std::size_t>(out.image.linearIndex(x, y, z));
        img[i] = static_cast<std::uint8_t>(std::lround(v * 255.0));
        msk[i] = lesion ? 1 : 0;
      }
    }
  }
  return out;
}

}  // namespace al
