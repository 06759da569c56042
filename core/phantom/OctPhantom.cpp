#include "phantom/OctPhantom.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>

#include "phantom/PhantomRandom.h"

namespace al {

const char* octLesionName(OctLesion lesion) {
  switch (lesion) {
    case OctLesion::Drusen: return "drusen";
    case OctLesion::IntraretinalFluid: return "intraretinal fluid";
    case OctLesion::SubretinalFluid: return "subretinal fluid";
    case OctLesion::PigmentEpithelialDetachment: return "pigment epithelial detachment";
    case OctLesion::HyperreflectiveFoci: return "hyperreflective foci";
  }
  return "lesion";
}

OctLesionOptions OctLesionOptions::randomMix(std::uint64_t seed) {
  PhantomRandom rng(seed ^ 0x5eed0fa1e5ull);
  OctLesionOptions o;
  const int kinds = rng.integer(1, 3);
  for (int k = 0; k < kinds; ++k) {
    switch (rng.integer(0, 4)) {
      case 0: o.drusen += rng.integer(2, 6); break;
      case 1: o.intraretinalFluid += rng.integer(1, 3); break;
      case 2: o.subretinalFluid += 1; break;
      case 3: o.pigmentEpithelialDetachment += 1; break;
      default: o.hyperreflectiveFoci += rng.integer(2, 4); break;
    }
  }
  o.size = rng.uniform(0.8, 1.3);
  return o;
}

namespace {

// Layers from the vitreous down to the RPE, as stacked above Bruch's membrane.
enum Layer { NFL, GCLIPL, INL, OPL, ONL, ELM, Myoid, EZ, OSIZ, RPE, LayerCount };

struct Dome {  // an elevation on the fundus: drusen, PED, SRF
  OctLesion kind;
  double x, z, radius, height;  // mm
  double exponent;              // profile shape (1 - (d/r)^2)^exponent
  double elevation(double px, double pz) const {
    const double d2 = ((px - x) * (px - x) + (pz - z) * (pz - z)) / (radius * radius);
    return d2 >= 1.0 ? 0.0 : height * std::pow(1.0 - d2, exponent);
  }
};

struct Blob {  // an ellipsoid inside a layer: a fluid cyst or a hyper-reflective focus
  OctLesion kind;
  double x, z, radius;  // mm, lateral
  double axialRadius;   // mm
  Layer layer;
  double depthFraction;  // centre's position inside its layer, 0 = top
  double reflectivity;
};

struct Vessel {
  double x0, slope, amplitude, frequency, phase, width;  // mm
  double centreX(double z) const { return x0 + slope * z + amplitude * std::sin(frequency * z + phase); }
};

constexpr double kVitreous = 0.01;
constexpr std::array<double, LayerCount> kReflectivity{0.72, 0.45, 0.20, 0.52, 0.10, 0.40, 0.15, 0.85, 0.40, 0.95};

// Intensity compression as OCT devices display it (log-like), into 8 bits.
struct Compression {
  static constexpr int kSize = 4096;
  static constexpr double kMax = 2.0;
  std::array<std::uint8_t, kSize> lut{};
  Compression() {
    const double a = 8.0, norm = std::log1p(a * 1.6);
    for (int i = 0; i < kSize; ++i) {
      const double v = kMax * i / (kSize - 1);
      lut[static_cast<std::size_t>(i)] =
          static_cast<std::uint8_t>(std::lround(255.0 * std::clamp(std::log1p(a * v) / norm, 0.0, 1.0)));
    }
  }
  std::uint8_t operator()(double v) const {
    const int i = static_cast<int>(v * ((kSize - 1) / kMax));
    return lut[static_cast<std::size_t>(std::clamp(i, 0, kSize - 1))];
  }
};

}  // namespace

OctPhantom makeOctPhantom(const OctPhantomOptions& o) {
  if (o.width < 32 || o.depth < 64 || o.bscans < 1) throw std::invalid_argument("OCT phantom: size too small");
  PhantomRandom rng(o.seed);
  const double W = o.width, D = o.depth;
  const double sx = o.scanWidthMm / W;
  const double sz = o.bscans > 1 ? o.scanHeightMm / (o.bscans - 1) : 0.12;
  const double sy = o.depthMm / D;
  const double um = 1.0 / (sy * 1000.0);  // pixels per micrometre, axially
  auto xMm = [&](double x) { return (x - (W - 1) / 2.0) * sx; };
  auto zMm = [&](double z) { return (z - (o.bscans - 1) / 2.0) * sz; };

  // ---- This eye's geometry ----
  const double curvature = rng.uniform(-0.005, 0.035);  // mm of depth per mm^2 from the centre
  const double tiltX = rng.uniform(-0.05, 0.05), tiltZ = rng.uniform(-0.03, 0.03);  // mm per mm
  const double baseDepth = D * rng.uniform(0.48, 0.62);
  const double foveaX = rng.uniform(-0.3, 0.3), foveaZ = rng.uniform(-0.3, 0.3);
  const double pitSigma = rng.uniform(0.30, 0.40);
  const double thicknessScale = rng.uniform(0.9, 1.1);
  const double nasalSign = o.laterality == "L" ? -1.0 : 1.0;
  std::vector<Vessel> vessels(static_cast<std::size_t>(rng.integer(4, 7)));
  for (auto& v : vessels) {
    v = {rng.uniform(-3.0, 3.0), rng.uniform(-0.4, 0.4), rng.uniform(0.05, 0.3), rng.uniform(0.3, 1.2),
         rng.uniform(0, 6.28), rng.uniform(0.05, 0.11)};
  }

  // ---- Lesions ----
  const OctLesionOptions& L = o.lesions;
  const double s = L.size;
  // Lesion centres sit on a B-scan, so that every lesion a case is labelled with is visible in
  // at least one B-scan (a small cyst between two B-scans would leave an "anomalous" volume
  // that looks healthy).
  auto onBScan = [&](double z) {
    const double index = std::clamp(std::round(z / sz + (o.bscans - 1) / 2.0), 0.0, static_cast<double>(o.bscans - 1));
    return zMm(index);
  };
  auto placeNearFovea = [&](double maxR) {
    const double r = std::sqrt(rng.uniform()) * maxR, a = rng.uniform(0, 6.283185307);
    return std::pair<double, double>{foveaX + r * std::cos(a), onBScan(foveaZ + r * std::sin(a))};
  };
  std::vector<Dome> domes;
  std::vector<Blob> blobs;
  OctPhantom out;
  for (int i = 0; i < L.drusen; ++i) {
    const auto [x, z] = placeNearFovea(2.2);
    domes.push_back({OctLesion::Drusen, x, z, rng.uniform(0.10, 0.25) * s, rng.uniform(0.035, 0.09) * s, 0.8});
  }
  for (int i = 0; i < L.pigmentEpithelialDetachment; ++i) {
    const auto [x, z] = placeNearFovea(1.2);
    domes.push_back({OctLesion::PigmentEpithelialDetachment, x, z, rng.uniform(0.45, 0.9) * s, rng.uniform(0.10, 0.25) * s, 0.6});
  }
  for (int i = 0; i < L.subretinalFluid; ++i) {
    const auto [x, z] = placeNearFovea(0.8);
    domes.push_back({OctLesion::SubretinalFluid, x, z, rng.uniform(0.5, 1.1) * s, rng.uniform(0.06, 0.18) * s, 1.5});
  }
  for (int i = 0; i < L.intraretinalFluid; ++i) {
    const auto [cx, cz] = placeNearFovea(1.5);
    const int cysts = rng.integer(1, 4);
    for (int c = 0; c < cysts; ++c) {
      const double r = rng.uniform(0.05, 0.16) * s;
      blobs.push_back({OctLesion::IntraretinalFluid, cx + rng.uniform(-0.25, 0.25), c == 0 ? cz : onBScan(cz + rng.uniform(-0.2, 0.2)), r,
                       std::min(r * rng.uniform(0.5, 0.9), 0.12), rng.uniform() < 0.5 ? INL : ONL, rng.uniform(0.35, 0.65), 0.015});
    }
    out.lesions.push_back({OctLesion::IntraretinalFluid, cx, cz, 0.3 * s});
  }
  for (int i = 0; i < L.hyperreflectiveFoci; ++i) {
    const auto [cx, cz] = placeNearFovea(2.0);
    const int foci = rng.integer(3, 7);
    for (int f = 0; f < foci; ++f) {
      // Each focus sits in one B-scan: its lateral radius is smaller than the B-scan spacing.
      const double z = onBScan(cz + rng.uniform(-0.3, 0.3));
      const Layer layers[3] = {INL, OPL, ONL};
      blobs.push_back({OctLesion::HyperreflectiveFoci, cx + rng.uniform(-0.4, 0.4), z, rng.uniform(0.018, 0.03) * s,
                       rng.uniform(0.010, 0.016) * s, layers[rng.integer(0, 2)], rng.uniform(0.2, 0.8), 1.1});
    }
    out.lesions.push_back({OctLesion::HyperreflectiveFoci, cx, cz, 0.4});
  }
  for (const auto& d : domes) out.lesions.push_back({d.kind, d.x, d.z, d.radius});

  out.image = Volume(PixelType::UInt8, Size3{o.width, o.depth, o.bscans});
  out.mask = Volume(PixelType::UInt8, Size3{o.width, o.depth, o.bscans});
  out.image.setSpacing({sx, sy, sz});
  out.mask.setSpacing({sx, sy, sz});
  const Vec3 origin{xMm(0), 0.0, zMm(0)};
  out.image.setOrigin(origin);
  out.mask.setOrigin(origin);
  auto& m = out.image.metadata();
  m.modality = "OPT";
  m.laterality = o.laterality;
  m.sourceFormat = "phantom";
  out.mask.metadata() = m;

  // ---- Noise tables: one draw of 64 random bits gives a speckle and a noise value ----
  std::vector<float> speckleTable(65536), noiseTable(65536);
  for (auto& v : speckleTable) v = static_cast<float>(rng.speckle(o.speckleLooks));
  for (auto& v : noiseTable) v = static_cast<float>(rng.normal() * o.noise);
  static const Compression compress;

  std::uint8_t* img = out.image.data<std::uint8_t>();
  std::uint8_t* msk = out.mask.data<std::uint8_t>();
  std::array<double, LayerCount + 1> bound{};  // top of each layer, then the RPE's bottom
  for (int zi = 0; zi < o.bscans; ++zi) {
    PhantomRandom noise(o.seed * 0x9e3779b97f4a7c15ull + static_cast<std::uint64_t>(zi) + 1);
    const double z = zMm(zi);
    // Choroidal vessels: a coarse random grid (8 x 6 px cells), interpolated, per B-scan.
    constexpr int kCellX = 8, kCellY = 6;
    const int gridW = o.width / kCellX + 2, gridH = o.depth / kCellY + 2;
    std::vector<float> grid(static_cast<std::size_t>(gridW * gridH));
    for (auto& g : grid) g = static_cast<float>(noise.uniform());
    auto choroidTexture = [&](int xi, double dy) {
      const double gx = static_cast<double>(xi) / kCellX, gy = std::max(0.0, dy) / kCellY;
      const int ix = static_cast<int>(gx), iy = std::min(static_cast<int>(gy), gridH - 2);
      const double fx = gx - ix, fy = std::min(1.0, gy - iy);
      auto at = [&](int a, int b) { return static_cast<double>(grid[static_cast<std::size_t>(b * gridW + a)]); };
      const double v = (at(ix, iy) * (1 - fx) + at(ix + 1, iy) * fx) * (1 - fy) + (at(ix, iy + 1) * (1 - fx) + at(ix + 1, iy + 1) * fx) * fy;
      return 0.45 + 0.75 * v * v;  // mostly bright stroma, darker lumens
    };
    for (int xi = 0; xi < o.width; ++xi) {
      const double x = xMm(xi);
      const double r2 = (x - foveaX) * (x - foveaX) + (z - foveaZ) * (z - foveaZ);
      const double r = std::sqrt(r2);
      const double pit = std::exp(-r2 / (2 * pitSigma * pitSigma));
      const double ring = std::exp(-(r - 1.0) * (r - 1.0) / (2 * 0.45 * 0.45));
      const double nasal = std::clamp(0.5 + 0.5 * nasalSign * x / 3.0, 0.0, 1.0);

      double lift = 0, liftDrusen = 0, srf = 0;
      for (const auto& d : domes) {
        const double e = d.elevation(x, z) * 1000.0 * um;  // pixels
        if (d.kind == OctLesion::SubretinalFluid) srf += e;
        else lift += e;
        if (d.kind == OctLesion::Drusen) liftDrusen += e;
      }
      const double bruch = baseDepth - (curvature * (x * x + z * z) + tiltX * x + tiltZ * z) * 1000.0 * um;
      // Thicknesses in micrometres at this point of the fundus.
      std::array<double, LayerCount> t{};
      t[NFL] = (12 + 28 * nasal + 12 * ring) * (1 - pit) + 3;
      t[GCLIPL] = (38 + 45 * ring) * (1 - 0.97 * pit);
      t[INL] = (27 + 10 * ring) * (1 - 0.95 * pit);
      t[OPL] = (22 + 6 * ring) * (1 - 0.8 * pit);
      t[ONL] = 68 + 45 * pit;
      t[ELM] = 4;
      t[Myoid] = 18 + 8 * pit;
      t[EZ] = 14;
      t[OSIZ] = 28 + 10 * pit;
      t[RPE] = 24;
      const double rpeBottom = bruch - lift;
      bound[LayerCount] = rpeBottom;
      double y = rpeBottom;
      for (int l = LayerCount - 1; l >= 0; --l) {
        y -= t[static_cast<std::size_t>(l)] * thicknessScale * um;
        if (l == OSIZ) y -= srf;  // subretinal fluid lifts everything above the RPE
        bound[static_cast<std::size_t>(l)] = y;
      }
      const double rpeTop = bound[RPE];
      double shadow = 1.0, vesselTop = -1, vesselBottom = -1;
      for (const auto& v : vessels) {
        const double d = std::abs(x - v.centreX(z));
        if (d < v.width / 2) {
          vesselTop = bound[GCLIPL] + 2;
          vesselBottom = vesselTop + v.width * 1000 * um * 0.6;
          shadow = std::min(shadow, 0.25 + 0.5 * d / (v.width / 2));
        }
      }

      int layer = -1;  // -1: vitreous
      std::uint8_t* column = img + out.image.linearIndex(xi, 0, zi);
      std::uint8_t* columnMask = msk + out.mask.linearIndex(xi, 0, zi);
      const std::int64_t stride = o.width;
      for (int yi = 0; yi < o.depth; ++yi) {
        const double py = yi + 0.5;
        while (layer < LayerCount && py >= bound[static_cast<std::size_t>(layer + 1)]) ++layer;
        double refl = kVitreous;
        std::uint8_t label = 0;
        if (layer >= 0 && layer < LayerCount) {
          refl = kReflectivity[static_cast<std::size_t>(layer)];
          if (layer == OSIZ) {  // the interdigitation zone makes the lower part brighter
            const double f = (py - bound[OSIZ]) / std::max(1.0, bound[RPE] - bound[OSIZ]);
            refl = f > 0.6 ? 0.6 : 0.3;
          } else if (layer == GCLIPL) {  // the IPL is brighter than the GCL above it
            const double f = (py - bound[GCLIPL]) / std::max(1.0, bound[INL] - bound[GCLIPL]);
            refl = 0.38 + 0.16 * f;
          }
          if (srf > 0.5 && py >= rpeTop - srf && py < rpeTop) {
            refl = 0.02;
            label = static_cast<std::uint8_t>(OctLesion::SubretinalFluid);
          }
        } else if (layer == LayerCount) {
          if (py < bruch && lift > 0.5) {  // under a lifted RPE
            const bool drusen = liftDrusen >= lift / 2;
            refl = drusen ? 0.38 : 0.06;
            label = static_cast<std::uint8_t>(drusen ? OctLesion::Drusen : OctLesion::PigmentEpithelialDetachment);
          } else {  // choroid with its vessels, fading into the sclera
            const double dy = py - bruch;
            refl = 0.5 * std::exp(-dy / (0.11 * 1000 * um)) * choroidTexture(xi, dy) + 0.015;
          }
        }
        if (py >= vesselTop && py < vesselBottom) refl = 0.55;  // the vessel's wall and lumen
        for (const auto& b : blobs) {
          const double dx = x - b.x, dz = z - b.z;
          const double lateral = (dx * dx + dz * dz) / (b.radius * b.radius);
          if (lateral >= 1.0) continue;
          const double top = bound[b.layer], bottom = bound[b.layer + 1];
          const double centre = top + b.depthFraction * (bottom - top);
          const double ay = b.axialRadius * 1000 * um;
          if (lateral + (py - centre) * (py - centre) / (ay * ay) < 1.0) {
            refl = b.reflectivity;
            label = static_cast<std::uint8_t>(b.kind);
          }
        }
        if (py > vesselBottom && vesselBottom > 0) refl *= shadow;
        const std::uint64_t bits = noise.next();
        const double v = refl * speckleTable[bits & 0xffff] + noiseTable[(bits >> 16) & 0xffff];
        column[yi * stride] = compress(v);
        columnMask[yi * stride] = label;
      }
    }
  }
  return out;
}

}  // namespace al
