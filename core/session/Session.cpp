#include "session/Session.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "errors/Error.h"
#include "runtime/BoundedJson.h"
#include "io/AtomicFile.h"

namespace al {

using nlohmann::json;

std::string toString(AnnotationKind kind) {
  switch (kind) {
    case AnnotationKind::Flag: return "flag";
    case AnnotationKind::Region: return "region";
    case AnnotationKind::Distance: return "distance";
  }
  return "flag";
}

namespace {

AnnotationKind annotationKind(const std::string& name, const std::string& source) {
  for (AnnotationKind k : {AnnotationKind::Flag, AnnotationKind::Region, AnnotationKind::Distance})
    if (toString(k) == name) return k;
  throw Error(source, "unknown annotation kind \"" + name + "\" (flag, region or distance)");
}

std::string nowUtc() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(digits);
  s << v;
  return s.str();
}

}  // namespace

RegionMeasure measureRegion(const Volume& scan, const Annotation& region, int channel, const Volume* map) {
  RegionMeasure m;
  if (region.points.size() < 2 || region.slice < 0 || region.slice >= scan.size().z) return m;
  const double x0 = std::min(region.points[0][0], region.points[1][0]), x1 = std::max(region.points[0][0], region.points[1][0]);
  const double y0 = std::min(region.points[0][1], region.points[1][1]), y1 = std::max(region.points[0][1], region.points[1][1]);
  const double cx = (x0 + x1) / 2, cy = (y0 + y1) / 2, rx = (x1 - x0) / 2, ry = (y1 - y0) / 2;
  if (rx <= 0 || ry <= 0) return m;
  double sum = 0, sum2 = 0, mapSum = 0;
  m.min = std::numeric_limits<double>::infinity();
  m.max = -m.min;
  double mapMax = -std::numeric_limits<double>::infinity();
  const bool withMap = map && map->size() == scan.size();
  const auto xa = std::max<std::int64_t>(0, static_cast<std::int64_t>(std::floor(x0)));
  const auto xb = std::min<std::int64_t>(scan.size().x - 1, static_cast<std::int64_t>(std::ceil(x1)));
  const auto ya = std::max<std::int64_t>(0, static_cast<std::int64_t>(std::floor(y0)));
  const auto yb = std::min<std::int64_t>(scan.size().y - 1, static_cast<std::int64_t>(std::ceil(y1)));
  for (std::int64_t y = ya; y <= yb; ++y)
    for (std::int64_t x = xa; x <= xb; ++x) {
      // A pixel counts when its centre lies inside the ellipse.
      const double dx = (static_cast<double>(x) + 0.5 - cx) / rx, dy = (static_cast<double>(y) + 0.5 - cy) / ry;
      if (dx * dx + dy * dy > 1.0) continue;
      const double v = scan.value(x, y, region.slice, channel);
      ++m.pixels;
      sum += v;
      sum2 += v * v;
      m.min = std::min(m.min, v);
      m.max = std::max(m.max, v);
      if (withMap) {
        const double mv = map->value(x, y, region.slice);
        mapSum += mv;
        mapMax = std::max(mapMax, mv);
      }
    }
  if (m.pixels == 0) {
    m.min = m.max = 0;
    return m;
  }
  const double n = static_cast<double>(m.pixels);
  m.mean = sum / n;
  m.sd = m.pixels > 1 ? std::sqrt(std::max(0.0, (sum2 - n * m.mean * m.mean) / (n - 1))) : 0.0;
  m.areaMm2 = n * scan.spacing()[0] * scan.spacing()[1];
  if (withMap) {
    m.mapMean = mapSum / n;
    m.mapMax = mapMax;
  }
  return m;
}

double measureDistance(const Volume& scan, const Annotation& d) {
  if (d.points.size() < 2) return 0.0;
  const double dx = (d.points[1][0] - d.points[0][0]) * scan.spacing()[0];
  const double dy = (d.points[1][1] - d.points[0][1]) * scan.spacing()[1];
  return std::hypot(dx, dy);
}

std::string describe(const Volume& scan, const Annotation& a, int channel, const Volume* map) {
  std::string text;
  switch (a.kind) {
    case AnnotationKind::Flag: text = "flagged"; break;
    case AnnotationKind::Distance: text = "distance " + fixed(measureDistance(scan, a), 2) + " mm"; break;
    case AnnotationKind::Region: {
      const RegionMeasure m = measureRegion(scan, a, channel, map);
      text = "region " + fixed(m.areaMm2, m.areaMm2 < 10 ? 3 : 1) + " mm2, mean " + fixed(m.mean, 1) + " +/- " + fixed(m.sd, 1);
      if (m.mapMean) text += ", heatmap mean " + fixed(*m.mapMean, 3);
      break;
    }
  }
  if (!a.note.empty()) text += ": " + a.note;
  return text;
}

json toJson(const Session& s) {
  json view = {{"slice", s.view.slice}, {"zoom", s.view.zoom}, {"pan", {s.view.panX, s.view.panY}},
               {"channel", s.view.channel}, {"layout", s.view.layout}, {"compare", s.view.compare}};
  json wl = json::object();
  for (const auto& [c, v] : s.view.windowLevel) wl[std::to_string(c)] = {v.first, v.second};
  view["window_level"] = wl;
  json overlay = {{"model", s.overlay.model}, {"map", s.overlay.map}, {"colormap", s.overlay.colormap},
                  {"normalisation", s.overlay.normalisation}, {"opacity", s.overlay.opacity},
                  {"hide_below", s.overlay.threshold}, {"visible", s.overlay.visible}};
  if (s.overlay.scoreThreshold) overlay["score_threshold"] = *s.overlay.scoreThreshold;
  json labels = json::object();
  for (const auto& [z, l] : s.sliceLabels) labels[std::to_string(z)] = l;
  json annotations = json::array();
  for (const auto& a : s.annotations) {
    json points = json::array();
    for (const auto& p : a.points) points.push_back({p[0], p[1]});
    annotations.push_back({{"kind", toString(a.kind)}, {"slice", a.slice}, {"points", points}, {"note", a.note}});
  }
  return {{"format", "anomalylens-session"}, {"format_version", kSessionFormat}, {"saved", s.saved},
          {"scan", s.scan}, {"series", s.seriesLabel}, {"view", view}, {"overlay", overlay},
          {"slice_labels", labels}, {"annotations", annotations}};
}

Session sessionFromJson(const json& j, const std::string& source) {
  if (!j.is_object() || j.value("format", std::string()) != "anomalylens-session")
    throw Error(source, "not an AnomalyLens session (no \"format\": \"anomalylens-session\")");
  if (j.value("format_version", 0) > kSessionFormat)
    throw Error(source, "session format " + std::to_string(j.value("format_version", 0)) + " is newer than this program reads (" +
                            std::to_string(kSessionFormat) + ")");
  Session s;
  try {
    s.scan = j.at("scan").get<std::string>();
    s.seriesLabel = j.value("series", std::string());
    s.saved = j.value("saved", std::string());
    if (j.contains("view")) {
      const json& v = j["view"];
      s.view.slice = v.value("slice", 0);
      s.view.zoom = v.value("zoom", 1.0);
      if (v.contains("pan")) {
        s.view.panX = v["pan"].at(0).get<double>();
        s.view.panY = v["pan"].at(1).get<double>();
      }
      s.view.channel = v.value("channel", 0);
      s.view.layout = v.value("layout", std::string("single"));
      s.view.compare = v.value("compare", false);
      if (v.contains("window_level"))
        for (const auto& [c, wl] : v["window_level"].items())
          s.view.windowLevel[std::stoi(c)] = {wl.at(0).get<double>(), wl.at(1).get<double>()};
    }
    if (j.contains("overlay")) {
      const json& o = j["overlay"];
      s.overlay.model = o.value("model", std::string());
      s.overlay.map = o.value("map", std::string());
      s.overlay.colormap = o.value("colormap", std::string("inferno"));
      s.overlay.normalisation = o.value("normalisation", std::string("calibrated"));
      s.overlay.opacity = o.value("opacity", 0.6);
      s.overlay.threshold = o.value("hide_below", 0.0);
      s.overlay.visible = o.value("visible", true);
      if (o.contains("score_threshold") && o["score_threshold"].is_number()) s.overlay.scoreThreshold = o["score_threshold"].get<double>();
    }
    if (j.contains("slice_labels"))
      for (const auto& [z, l] : j["slice_labels"].items()) s.sliceLabels[std::stoi(z)] = l.get<int>();
    if (j.contains("annotations"))
      for (const auto& e : j["annotations"]) {
        Annotation a;
        a.kind = annotationKind(e.at("kind").get<std::string>(), source);
        a.slice = e.at("slice").get<int>();
        for (const auto& p : e.value("points", json::array())) a.points.push_back({p.at(0).get<double>(), p.at(1).get<double>()});
        a.note = e.value("note", std::string());
        const std::size_t need = a.kind == AnnotationKind::Flag ? 0 : 2;
        if (a.points.size() < need) throw Error(source, "a " + toString(a.kind) + " annotation needs two points");
        s.annotations.push_back(std::move(a));
      }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(source, std::string("damaged session: ") + e.what());
  }
  return s;
}

void saveSession(Session s, const std::string& path) {
  s.saved = nowUtc();
  writeFileAtomically(path, toJson(s).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

Session loadSession(const std::string& path) {
  const json j = readBoundedJsonFile(path, "the session", std::uint64_t{64} << 20);
  try {
    return sessionFromJson(j, path);
  } catch (const FileError&) {
    throw;
  } catch (const Error& e) {
    throw FileError(path, e.reason());
  }
}

}  // namespace al
