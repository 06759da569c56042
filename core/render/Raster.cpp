#include "render/Raster.h"

#include "errors/Error.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>

namespace al::render {
namespace {

const std::map<char, std::array<unsigned char, 7>>& font() {
  static const std::map<char, std::array<unsigned char, 7>> f = {
      {'0', {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}}, {'1', {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}},
      {'2', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}}, {'3', {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}},
      {'4', {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}}, {'5', {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}},
      {'6', {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}}, {'7', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
      {'8', {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}}, {'9', {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}},
      {'.', {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C}}, {'=', {0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00}},
      {'A', {0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}}, {'U', {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}},
      {'C', {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E}}, {'F', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10}},
      {'P', {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10}}, {'R', {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11}},
      {'T', {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}}, {' ', {0, 0, 0, 0, 0, 0, 0}},
  };
  return f;
}

void put(RgbImage& img, int x, int y, std::array<unsigned char, 3> c) {
  if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
  const std::size_t o = (static_cast<std::size_t>(y) * img.width + x) * 3;
  img.rgb[o] = c[0];
  img.rgb[o + 1] = c[1];
  img.rgb[o + 2] = c[2];
}

void line(RgbImage& img, double x0, double y0, double x1, double y1, std::array<unsigned char, 3> c, int thick = 1) {
  const int steps = static_cast<int>(std::max(std::abs(x1 - x0), std::abs(y1 - y0))) + 1;
  for (int i = 0; i <= steps; ++i) {
    const double t = static_cast<double>(i) / steps;
    const int x = static_cast<int>(std::lround(x0 + t * (x1 - x0))), y = static_cast<int>(std::lround(y0 + t * (y1 - y0)));
    for (int dx = -(thick / 2); dx <= thick / 2; ++dx)
      for (int dy = -(thick / 2); dy <= thick / 2; ++dy) put(img, x + dx, y + dy, c);
  }
}

}  // namespace

std::array<unsigned char, 3> inferno(double t) {
  static const double k[11][3] = {{0, 0, 4},      {22, 11, 57},   {66, 10, 104},  {106, 23, 110},
                                  {147, 38, 103}, {188, 55, 84},  {221, 81, 58},  {243, 118, 27},
                                  {252, 165, 10}, {246, 215, 70}, {252, 255, 164}};
  t = std::clamp(std::isfinite(t) ? t : 0.0, 0.0, 1.0) * 10.0;
  const int i = std::min(9, static_cast<int>(t));
  const double f = t - i;
  std::array<unsigned char, 3> out{};
  for (int c = 0; c < 3; ++c) out[static_cast<std::size_t>(c)] = static_cast<unsigned char>(std::lround(k[i][c] + f * (k[i + 1][c] - k[i][c])));
  return out;
}

std::array<unsigned char, 3> colormap(Colormap map, double t) {
  t = std::clamp(std::isfinite(t) ? t : 0.0, 0.0, 1.0);
  auto byte = [](double v) { return static_cast<unsigned char>(std::lround(255.0 * std::clamp(v, 0.0, 1.0))); };
  switch (map) {
    case Colormap::Inferno:
      return inferno(t);
    case Colormap::Jet:
      // Piecewise linear: dark blue, blue, cyan, yellow, red, dark red.
      return {byte(1.5 - std::abs(4 * t - 3)), byte(1.5 - std::abs(4 * t - 2)), byte(1.5 - std::abs(4 * t - 1))};
    case Colormap::Hot:
      return {byte(3 * t), byte(3 * t - 1), byte(3 * t - 2)};
  }
  return inferno(t);
}

std::string toString(Colormap map) {
  switch (map) {
    case Colormap::Inferno: return "inferno";
    case Colormap::Jet: return "jet";
    case Colormap::Hot: return "hot";
  }
  return "inferno";
}

Colormap colormapFromString(const std::string& name) {
  for (Colormap m : {Colormap::Inferno, Colormap::Jet, Colormap::Hot})
    if (toString(m) == name) return m;
  throw Error("colormap " + name, "unknown (choose inferno, jet or hot)");
}

std::array<unsigned char, 3> overlayColour(Colormap map, double t) {
  const double u = std::clamp(t, 0.0, 1.0);
  return colormap(map, map == Colormap::Jet ? u : 0.4 + 0.6 * u);
}

double overlayAlpha(double opacity, double t) {
  if (!(t > 0)) return 0.0;
  return opacity * (0.5 + 0.5 * std::min(1.0, t));
}

RgbImage overlay(const float* image, const float* map, int width, int height, double lo, double hi, double mapLo,
                 double mapHi, double opacity) {
  RgbImage out{width, height, std::vector<unsigned char>(static_cast<std::size_t>(width) * height * 3)};
  const double span = hi > lo ? hi - lo : 1.0, mapSpan = mapHi > mapLo ? mapHi - mapLo : 1.0;
  for (std::size_t i = 0; i < static_cast<std::size_t>(width) * height; ++i) {
    const double g = std::clamp((image[i] - lo) / span, 0.0, 1.0) * 255.0;
    const double t = map ? (map[i] - mapLo) / mapSpan : 0.0;
    const double a = overlayAlpha(opacity, t);  // visible from the first step above mapLo
    const auto c = overlayColour(Colormap::Inferno, t);
    for (int k = 0; k < 3; ++k)
      out.rgb[i * 3 + static_cast<std::size_t>(k)] = static_cast<unsigned char>(std::lround((1 - a) * g + a * c[static_cast<std::size_t>(k)]));
  }
  return out;
}

RgbImage upscale(const RgbImage& img, int factor) {
  if (factor <= 1) return img;
  RgbImage out{img.width * factor, img.height * factor,
               std::vector<unsigned char>(static_cast<std::size_t>(img.width) * factor * img.height * factor * 3)};
  for (int y = 0; y < out.height; ++y)
    for (int x = 0; x < out.width; ++x)
      for (int k = 0; k < 3; ++k)
        out.rgb[(static_cast<std::size_t>(y) * out.width + x) * 3 + static_cast<std::size_t>(k)] =
            img.rgb[(static_cast<std::size_t>(y / factor) * img.width + x / factor) * 3 + static_cast<std::size_t>(k)];
  return out;
}

void drawText(RgbImage& img, int x, int y, const std::string& text, std::array<unsigned char, 3> colour, int scale) {
  for (char ch : text) {
    auto it = font().find(ch);
    if (it != font().end())
      for (int r = 0; r < 7; ++r)
        for (int c = 0; c < 5; ++c)
          if (it->second[static_cast<std::size_t>(r)] & (0x10 >> c))
            for (int dy = 0; dy < scale; ++dy)
              for (int dx = 0; dx < scale; ++dx) put(img, x + c * scale + dx, y + r * scale + dy, colour);
    x += 6 * scale;
  }
}

RgbImage rocPlot(const std::vector<std::pair<double, double>>& fprTpr, double auc,
                 std::optional<std::pair<double, double>> operatingPoint, int size) {
  RgbImage img{size, size, std::vector<unsigned char>(static_cast<std::size_t>(size) * size * 3, 255)};
  const int m = size / 10;  // margin
  const double side = size - 2.0 * m;
  auto px = [&](double fpr) { return m + fpr * side; };
  auto py = [&](double tpr) { return size - m - tpr * side; };
  for (int i = 0; i <= 10; ++i) {  // grid at tenths
    const double v = i / 10.0;
    const std::array<unsigned char, 3> grid{225, 225, 225};
    line(img, px(v), py(0), px(v), py(1), grid);
    line(img, px(0), py(v), px(1), py(v), grid);
  }
  line(img, px(0), py(0), px(1), py(0), {0, 0, 0}, 2);
  line(img, px(0), py(0), px(0), py(1), {0, 0, 0}, 2);
  line(img, px(0), py(0), px(1), py(1), {150, 150, 150});
  for (std::size_t i = 1; i < fprTpr.size(); ++i)
    line(img, px(fprTpr[i - 1].first), py(fprTpr[i - 1].second), px(fprTpr[i].first), py(fprTpr[i].second), {31, 90, 180}, 3);
  if (operatingPoint)
    for (int r = -5; r <= 5; ++r)
      for (int s = -5; s <= 5; ++s)
        if (r * r + s * s <= 25)
          put(img, static_cast<int>(std::lround(px(operatingPoint->first))) + r,
              static_cast<int>(std::lround(py(operatingPoint->second))) + s, {200, 40, 40});
  char buf[32];
  std::snprintf(buf, sizeof buf, "AUC=%.3f", auc);
  drawText(img, static_cast<int>(px(0.55)), static_cast<int>(py(0.12)), buf, {0, 0, 0}, std::max(2, size / 240));
  drawText(img, static_cast<int>(px(0.45)), size - m / 2 - 7, "FPR", {0, 0, 0}, 2);
  drawText(img, 4, static_cast<int>(py(0.5)), "TPR", {0, 0, 0}, 2);
  drawText(img, static_cast<int>(px(0)) - 6, size - m + 6, "0", {0, 0, 0}, 2);
  drawText(img, static_cast<int>(px(1)) - 6, size - m + 6, "1", {0, 0, 0}, 2);
  drawText(img, m - 18, static_cast<int>(py(1)) - 7, "1", {0, 0, 0}, 2);
  return img;
}

}  // namespace al::render
