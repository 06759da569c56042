#include "phantom/MriPhantom.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>

#include "phantom/PhantomRandom.h"

namespace al {

const char* mriLesionName(MriLesion lesion) {
  switch (lesion) {
    case MriLesion::TumourCore: return "tumour core";
    case MriLesion::Oedema: return "oedema";
    case MriLesion::Stroke: return "stroke";
    case MriLesion::MsLesion: return "MS lesion";
  }
  return "lesion";
}

MriLesionOptions MriLesionOptions::randomMix(std::uint64_t seed) {
  PhantomRandom rng(seed ^ 0xb4a1c0deull);
  MriLesionOptions o;
  switch (rng.integer(0, 2)) {
    case 0: o.tumours = 1; o.enhancingRing = rng.uniform() < 0.7; break;
    case 1: o.strokes = 1; break;
    default: o.msLesions = rng.integer(4, 10); break;
  }
  o.size = rng.uniform(0.8, 1.25);
  return o;
}

namespace {

enum Tissue : std::uint8_t { Air, Scalp, Skull, Csf, Gm, DeepGm, Wm, Enhancing, Necrosis, SolidTumour, OedemaT, StrokeT, MsT, TissueCount };

struct Relaxation {
  double t1, t2, pd;  // ms, ms, relative
};
// 1.5 T values (order of magnitude from the MR physics literature; exact numbers vary by study).
constexpr std::array<Relaxation, TissueCount> kTissue{{
    {1, 1, 0.0},          // air
    {260, 80, 0.90},      // scalp (mostly fat)
    {400, 40, 0.08},      // skull
    {3800, 1800, 1.00},   // CSF
    {1100, 100, 0.82},    // grey matter
    {850, 90, 0.78},      // deep grey matter
    {600, 80, 0.70},      // white matter
    {1100, 120, 0.85},    // enhancing tumour rim
    {2000, 250, 0.95},    // necrosis
    {1150, 140, 0.85},    // solid non-enhancing tumour
    {1000, 180, 0.88},    // oedema
    {1100, 200, 0.88},    // subacute infarct
    {900, 140, 0.82},     // MS plaque
}};

double spinEcho(const Relaxation& r, double tr, double te) {
  return r.pd * (1.0 - std::exp(-tr / r.t1)) * std::exp(-te / r.t2);
}
double inversionRecovery(const Relaxation& r, double tr, double te, double ti) {
  return r.pd * std::abs(1.0 - 2.0 * std::exp(-ti / r.t1) + std::exp(-tr / r.t1)) * std::exp(-te / r.t2);
}

struct Ellipsoid {
  Vec3 c, r;
  double rho2(const Vec3& p) const {
    double s = 0;
    for (int i = 0; i < 3; ++i) s += (p[i] - c[i]) * (p[i] - c[i]) / (r[i] * r[i]);
    return s;
  }
};

// Separable Gaussian blur of a float volume (partial-volume effect of the voxel size).
void blur(std::vector<float>& v, int nx, int ny, int nz, double sigma) {
  const int k = std::max(1, static_cast<int>(std::ceil(2.5 * sigma)));
  std::vector<float> w(static_cast<std::size_t>(2 * k + 1));
  double sum = 0;
  for (int i = -k; i <= k; ++i) sum += w[static_cast<std::size_t>(i + k)] = static_cast<float>(std::exp(-i * i / (2 * sigma * sigma)));
  for (auto& x : w) x = static_cast<float>(x / sum);
  std::vector<float> tmp(v.size());
  const std::int64_t strides[3] = {1, nx, static_cast<std::int64_t>(nx) * ny};
  const int extents[3] = {nx, ny, nz};
  for (int axis = 0; axis < 3; ++axis) {
    for (int z = 0; z < nz; ++z)
      for (int y = 0; y < ny; ++y)
        for (int x = 0; x < nx; ++x) {
          const int pos[3] = {x, y, z};
          const std::int64_t i = x + strides[1] * y + strides[2] * z;
          double acc = 0;
          for (int d = -k; d <= k; ++d) {
            const int q = std::clamp(pos[axis] + d, 0, extents[axis] - 1);
            acc += w[static_cast<std::size_t>(d + k)] * v[static_cast<std::size_t>(i + (q - pos[axis]) * strides[axis])];
          }
          tmp[static_cast<std::size_t>(i)] = static_cast<float>(acc);
        }
    v.swap(tmp);
  }
}

}  // namespace

MriPhantom makeMriPhantom(const MriPhantomOptions& o) {
  if (o.sizeX < 32 || o.sizeY < 32 || o.sizeZ < 16 || !(o.spacing > 0)) throw std::invalid_argument("MRI phantom: size too small");
  PhantomRandom rng(o.seed);
  const int nx = o.sizeX, ny = o.sizeY, nz = o.sizeZ;
  const double sp = o.spacing;
  const Vec3 half{(nx - 1) * sp / 2, (ny - 1) * sp / 2, (nz - 1) * sp / 2};

  // ---- This subject's anatomy ----
  const double headScale = rng.uniform(0.92, 1.06);
  const Vec3 head{68 * headScale * rng.uniform(0.96, 1.04), 86 * headScale * rng.uniform(0.96, 1.04), 70 * headScale};
  const Vec3 headCentre{rng.uniform(-3, 3), rng.uniform(-3, 3), rng.uniform(-14, -8)};
  const double yaw = rng.uniform(-0.1, 0.1);  // radians
  const double scalp = rng.uniform(4, 6), skull = rng.uniform(6, 8), csf = rng.uniform(2.5, 4), cortex = rng.uniform(2.5, 3.5);
  const double ventricleScale = rng.uniform(0.8, 1.5);
  // Gyri: a sum of plane waves over the direction from the head's centre (8 random directions,
  // angular frequencies giving gyri about 10-15 mm wide at the cortex).
  struct Wave { Vec3 a; double freq, phase; };
  std::array<Wave, 8> folds{};
  for (auto& w : folds) {
    Vec3 a{rng.normal(), rng.normal(), rng.normal()};
    const double len = std::sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2]) + 1e-12;
    w = {{a[0] / len, a[1] / len, a[2] / len}, rng.uniform(14, 22), rng.uniform(0, 6.283)};
  }
  const Ellipsoid ventricles[2] = {
      {{-7.5, 4, 12}, {4.5 * ventricleScale, 21 * ventricleScale, 8 * ventricleScale}},
      {{7.5, 4, 12}, {4.5 * ventricleScale, 21 * ventricleScale, 8 * ventricleScale}}};
  const Ellipsoid deepGm[2] = {{{-15, -4, 2}, {8, 14, 9}}, {{15, -4, 2}, {8, 14, 9}}};

  // ---- Lesions ----
  const auto& L = o.lesions;
  const double ls = L.size;
  MriPhantom out;
  struct Tumour { Vec3 c; double r; bool ring; };
  struct Wedge { Vec3 dir; double cosHalfAngle, depth; };
  std::vector<Tumour> tumours;
  std::vector<Wedge> strokes;
  std::vector<Ellipsoid> plaques;
  auto insideBrain = [&](double f) {  // a random point within a fraction f of the brain's radii
    Vec3 p;
    do {
      for (int i = 0; i < 3; ++i) p[i] = rng.uniform(-1, 1);
    } while (p[0] * p[0] + p[1] * p[1] + p[2] * p[2] > 1);
    return Vec3{p[0] * head[0] * f, p[1] * head[1] * f, p[2] * head[2] * f * 0.8 + 12};
  };
  for (int i = 0; i < L.tumours; ++i) {
    Tumour t{insideBrain(0.45), rng.uniform(9, 18) * ls, L.enhancingRing};
    tumours.push_back(t);
    out.lesions.push_back({MriLesion::TumourCore, t.c, t.r});
  }
  for (int i = 0; i < L.strokes; ++i) {
    const double a = rng.uniform(0, 6.283), e = rng.uniform(-0.2, 0.5);
    const Vec3 dir{std::cos(a) * std::cos(e), std::sin(a) * std::cos(e), std::sin(e)};
    const double halfAngle = rng.uniform(0.22, 0.38) * ls;
    strokes.push_back({dir, std::cos(halfAngle), rng.uniform(22, 34) * ls});
    out.lesions.push_back({MriLesion::Stroke, {dir[0] * 50, dir[1] * 60, dir[2] * 40 + 12}, halfAngle * 55});
  }
  for (int i = 0; i < L.msLesions; ++i) {
    // Periventricular ovoids, their long axis pointing away from the ventricles.
    const auto& v = ventricles[rng.integer(0, 1)];
    const double a = rng.uniform(0, 6.283);
    const Vec3 c{v.c[0] + std::copysign(v.r[0] + rng.uniform(2, 10), v.c[0]) * std::abs(std::cos(a)),
                 v.c[1] + rng.uniform(-0.8, 0.8) * v.r[1], v.c[2] + (v.r[2] + rng.uniform(1, 9)) * std::sin(a)};
    const double r = rng.uniform(2.0, 4.5) * ls;
    plaques.push_back({c, {r * 1.8, r, r}});
    out.lesions.push_back({MriLesion::MsLesion, c, r * 1.8});
  }

  // ---- Tissue at every voxel centre ----
  const std::int64_t n = static_cast<std::int64_t>(nx) * ny * nz;
  std::vector<std::uint8_t> tissue(static_cast<std::size_t>(n));
  out.mask = Volume(PixelType::UInt8, Size3{nx, ny, nz});
  out.brainMask = Volume(PixelType::UInt8, Size3{nx, ny, nz});
  std::uint8_t* mask = out.mask.data<std::uint8_t>();
  std::uint8_t* brain = out.brainMask.data<std::uint8_t>();
  const double cy = std::cos(yaw), sy = std::sin(yaw);
  for (int z = 0; z < nz; ++z)
    for (int y = 0; y < ny; ++y)
      for (int x = 0; x < nx; ++x) {
        const std::size_t i = static_cast<std::size_t>(x + static_cast<std::int64_t>(nx) * (y + static_cast<std::int64_t>(ny) * z));
        const double wx = x * sp - half[0] - headCentre[0], wy = y * sp - half[1] - headCentre[1], wz = z * sp - half[2] - headCentre[2];
        const Vec3 p{cy * wx - sy * wy, sy * wx + cy * wy, wz};  // head coordinates
        const double rho = std::sqrt(p[0] * p[0] / (head[0] * head[0]) + p[1] * p[1] / (head[1] * head[1]) + p[2] * p[2] / (head[2] * head[2]));
        const double r = std::sqrt(p[0] * p[0] + p[1] * p[1] + p[2] * p[2]);
        const double depth = rho > 1e-9 ? r / rho - r : 1e9;  // mm below the scalp surface
        Tissue t = Air;
        if (rho >= 1.0) {
          t = Air;
        } else if (depth < scalp) {
          t = Scalp;
        } else if (depth < scalp + skull) {
          t = Skull;
        } else {
          brain[i] = 1;
          const Vec3 u{p[0] / std::max(r, 1e-9), p[1] / std::max(r, 1e-9), p[2] / std::max(r, 1e-9)};
          // Gyri and sulci: CSF reaches deep into the narrow sulci, the cortex follows them.
          double f = 0;
          for (const auto& w : folds) f += std::sin(w.freq * (w.a[0] * u[0] + w.a[1] * u[1] + w.a[2] * u[2]) + w.phase);
          f /= 2.0;  // about [-1, 1] most of the time
          const double inner = depth - scalp - skull;
          const double g = std::abs(f);  // sulci run along the waves' zero crossings: a network of lines
          const double sulcus = csf + (g < 0.2 ? 12.0 * (1.0 - g / 0.2) : 0.0);
          const double midline = std::abs(p[0]) < 1.2 && p[2] > -15 ? 1 : 0;  // the falx
          if (inner < sulcus || midline) {
            t = Csf;
          } else if (inner < sulcus + cortex + std::min(1.0, g) * 1.5) {
            t = Gm;
          } else {
            t = Wm;
            for (const auto& d : deepGm) if (d.rho2(p) < 1) t = DeepGm;
            for (const auto& v : ventricles) if (v.rho2(p) < 1) t = Csf;
            if (std::abs(p[0]) < 1.5 && std::abs(p[1] + 2) < 12 && std::abs(p[2] - 2) < 9) t = Csf;  // third ventricle
          }
          // Lesions replace the brain tissue they occupy.
          const bool brainTissue = t == Gm || t == Wm || t == DeepGm;
          for (const auto& tu : tumours) {
            const double d = std::sqrt((p[0] - tu.c[0]) * (p[0] - tu.c[0]) + (p[1] - tu.c[1]) * (p[1] - tu.c[1]) + (p[2] - tu.c[2]) * (p[2] - tu.c[2]));
            const double rr = tu.r * (1.0 + 0.15 * f);  // an irregular margin
            if (d < rr && t != Air) {
              t = !tu.ring ? SolidTumour : (d < 0.55 * rr ? Necrosis : Enhancing);
              mask[i] = static_cast<std::uint8_t>(MriLesion::TumourCore);
            } else if (d < 1.9 * rr && (t == Wm || t == DeepGm)) {
              t = OedemaT;
              mask[i] = static_cast<std::uint8_t>(MriLesion::Oedema);
            }
          }
          for (const auto& s : strokes) {
            const double cosAngle = u[0] * s.dir[0] + u[1] * s.dir[1] + u[2] * s.dir[2];
            if (brainTissue && cosAngle > s.cosHalfAngle && inner < s.depth) {
              t = StrokeT;
              mask[i] = static_cast<std::uint8_t>(MriLesion::Stroke);
            }
          }
          for (const auto& pl : plaques) {
            if (t == Wm && pl.rho2(p) < 1) {
              t = MsT;
              mask[i] = static_cast<std::uint8_t>(MriLesion::MsLesion);
            }
          }
        }
        tissue[i] = t;
      }

  // ---- Contrasts ----
  out.sequences = {{"T1", "T1 SE", 500, 12, 0, false},
                   {"T1c", "T1 SE post-contrast", 500, 12, 0, true},
                   {"T2", "T2 TSE", 4000, 100, 0, false},
                   {"FLAIR", "T2 FLAIR", 9000, 120, 0, false}};
  const double csfT1 = kTissue[Csf].t1;
  out.sequences[3].inversionTime = std::round(csfT1 * std::log(2.0 / (1.0 + std::exp(-9000.0 / csfT1))));  // nulls CSF
  if (o.withPD) out.sequences.push_back({"PD", "PD SE", 3000, 12, 0, false});
  const int channels = static_cast<int>(out.sequences.size());

  // Bias field: a smooth multiplicative field, the same coil for every contrast.
  std::array<double, 9> b{};
  for (auto& c : b) c = rng.uniform(-1, 1) * o.bias;
  auto biasAt = [&](int x, int y, int z) {
    const double u = 2.0 * x / (nx - 1) - 1, v = 2.0 * y / (ny - 1) - 1, w = 2.0 * z / (nz - 1) - 1;
    return std::exp(b[0] * u + b[1] * v + b[2] * w + 0.5 * (b[3] * u * u + b[4] * v * v + b[5] * w * w + b[6] * u * v + b[7] * v * w + b[8] * u * w));
  };
  const double scale = 3000.0;
  const double sigma = o.noise * spinEcho(kTissue[Wm], 500, 12) * scale;

  out.image = Volume(PixelType::Int16, Size3{nx, ny, nz}, channels);
  std::vector<std::string> names;
  std::vector<float> signal(static_cast<std::size_t>(n));
  for (int c = 0; c < channels; ++c) {
    const MriSequence& seq = out.sequences[static_cast<std::size_t>(c)];
    names.push_back(seq.name);
    std::array<double, TissueCount> level{};
    for (int t = 0; t < TissueCount; ++t) {
      Relaxation r = kTissue[static_cast<std::size_t>(t)];
      if (seq.contrastAgent && t == Enhancing) r.t1 = 1.0 / (1.0 / r.t1 + 4.5e-3 * 0.5);  // Gd: r1 ~4.5 /mM/s at ~0.5 mM
      level[static_cast<std::size_t>(t)] = t == Air ? 0.0
                                           : seq.inversionTime > 0 ? inversionRecovery(r, seq.repetitionTime, seq.echoTime, seq.inversionTime)
                                                                   : spinEcho(r, seq.repetitionTime, seq.echoTime);
    }
    for (std::int64_t i = 0; i < n; ++i) signal[static_cast<std::size_t>(i)] = static_cast<float>(level[tissue[static_cast<std::size_t>(i)]] * scale);
    blur(signal, nx, ny, nz, 0.6);
    PhantomRandom noise(o.seed * 0x9e3779b97f4a7c15ull + 1000 + static_cast<std::uint64_t>(c));
    std::int16_t* dst = out.image.data<std::int16_t>() + out.image.linearIndex(0, 0, 0, c);
    for (int z = 0; z < nz; ++z)
      for (int y = 0; y < ny; ++y)
        for (int x = 0; x < nx; ++x) {
          const std::size_t i = static_cast<std::size_t>(x + static_cast<std::int64_t>(nx) * (y + static_cast<std::int64_t>(ny) * z));
          const double s = signal[i] * biasAt(x, y, z);
          const double re = s + sigma * noise.normal(), im = sigma * noise.normal();  // Rician magnitude
          dst[i] = static_cast<std::int16_t>(std::min(32767.0, std::round(std::sqrt(re * re + im * im))));
        }
  }
  out.image.setChannelNames(names);
  for (Volume* v : {&out.image, &out.mask, &out.brainMask}) {
    v->setSpacing({sp, sp, sp});
    v->setOrigin({-half[0], -half[1], -half[2]});
    v->metadata().modality = "MR";
    v->metadata().sourceFormat = "phantom";
  }
  return out;
}

}  // namespace al
