#include "training/DataSet.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "errors/Error.h"
#include "io/AtomicFile.h"

namespace al::training {
namespace fs = std::filesystem;

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool endsWith(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

bool isVolumeFile(const fs::path& p) {
  const std::string n = lower(p.filename().string());
  for (const char* ext : {".nii", ".nii.gz", ".mha", ".mhd", ".nrrd", ".vol"})
    if (endsWith(n, ext)) return true;
  return false;
}

// A case's name from its file: without the directory and the (double) extension.
std::string idFromPath(const std::string& path) {
  std::string id = fs::path(path).filename().string();
  if (id.empty()) id = fs::path(path).parent_path().filename().string();
  for (const char* ext : {".nii.gz", ".nii", ".mha", ".mhd", ".nrrd", ".vol", ".dcm"})
    if (endsWith(lower(id), ext)) { id.resize(id.size() - std::string(ext).size()); break; }
  return id;
}

std::string resolve(const fs::path& base, const std::string& rel) {
  if (rel.empty()) return {};
  const fs::path p(rel);
  return (p.is_absolute() ? p : base / p).lexically_normal().string();
}

// RFC 4180-ish: commas, double quotes around fields, "" for a quote inside.
std::vector<std::string> splitCsvLine(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') { out.back() += '"'; ++i; }
      else if (c == '"') quoted = false;
      else out.back() += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.emplace_back();
    } else if (c != '\r') {
      out.back() += c;
    }
  }
  for (auto& f : out) {
    const auto a = f.find_first_not_of(" \t"), b = f.find_last_not_of(" \t");
    f = a == std::string::npos ? std::string() : f.substr(a, b - a + 1);
  }
  return out;
}

int parseLabel(const std::string& text, const std::string& path, int line) {
  const std::string t = lower(text);
  if (t.empty()) return -1;
  if (t == "0" || t == "normal" || t == "healthy") return 0;
  if (t == "1" || t == "abnormal" || t == "anomalous") return 1;
  throw FileError(path, "line " + std::to_string(line) + ": label \"" + text + "\" is not 0/1 (healthy/abnormal)");
}

DataSet readCsv(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw FileError(file.string(), "cannot open the manifest");
  std::string line;
  if (!std::getline(in, line)) throw FileError(file.string(), "empty manifest");
  const auto header = splitCsvLine(line);
  std::map<std::string, std::size_t> col;
  for (std::size_t i = 0; i < header.size(); ++i) col[lower(header[i])] = i;
  const std::string fileCol = col.count("file") ? "file" : (col.count("image") ? "image" : "");
  if (fileCol.empty()) throw FileError(file.string(), "manifest header has no \"file\" column");
  DataSet ds;
  const fs::path base = file.parent_path();
  int lineNo = 1;
  while (std::getline(in, line)) {
    ++lineNo;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const auto f = splitCsvLine(line);
    auto get = [&](const char* name) -> std::string {
      auto it = col.find(name);
      return it != col.end() && it->second < f.size() ? f[it->second] : std::string();
    };
    DataCase c;
    c.image = resolve(base, get(fileCol.c_str()));
    if (c.image.empty()) throw FileError(file.string(), "line " + std::to_string(lineNo) + ": no file");
    c.id = get("id").empty() ? idFromPath(get(fileCol.c_str())) : get("id");
    c.label = parseLabel(get("label"), file.string(), lineNo);
    c.mask = resolve(base, get("mask"));
    c.brainMask = resolve(base, get("brain_mask"));
    c.split = lower(get("split"));
    ds.cases.push_back(std::move(c));
  }
  return ds;
}

DataSet readJson(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw FileError(file.string(), "cannot open the manifest");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw FileError(file.string(), std::string("manifest is not valid JSON: ") + e.what());
  }
  if (!j.is_object() || !j.contains("cases") || !j["cases"].is_array())
    throw FileError(file.string(), "manifest has no \"cases\" list");
  DataSet ds;
  const fs::path base = file.parent_path();
  int index = 0;
  for (const auto& e : j["cases"]) {
    ++index;
    if (!e.is_object()) throw FileError(file.string(), "case " + std::to_string(index) + " is not an object");
    DataCase c;
    c.id = e.value("id", "case" + std::to_string(index));
    c.image = resolve(base, e.value("image", std::string()));
    if (e.contains("contrasts") && e["contrasts"].is_object())
      for (const auto& [name, rel] : e["contrasts"].items()) c.contrasts.emplace_back(name, resolve(base, rel.get<std::string>()));
    if (c.image.empty() && c.contrasts.empty())
      throw FileError(file.string(), "case " + c.id + " names neither an image nor contrasts");
    if (e.contains("label") && !e["label"].is_null()) {
      if (!e["label"].is_number_integer() || (e["label"] != 0 && e["label"] != 1))
        throw FileError(file.string(), "case " + c.id + ": label must be 0 or 1");
      c.label = e["label"];
    }
    c.mask = resolve(base, e.value("mask", std::string()));
    c.brainMask = resolve(base, e.value("brain_mask", std::string()));
    c.split = lower(e.value("split", std::string()));
    ds.cases.push_back(std::move(c));
  }
  return ds;
}

}  // namespace

int DataSet::count(int label) const {
  return static_cast<int>(std::count_if(cases.begin(), cases.end(), [&](const DataCase& c) { return c.label == label; }));
}

DataSet openDataSet(const std::string& path, const std::string& split, int defaultLabel) {
  std::error_code ec;
  const fs::path p(path);
  if (!fs::exists(p, ec)) throw FileError(path, "no such file or folder");
  DataSet ds;
  bool fromManifest = false;
  if (fs::is_directory(p, ec)) {
    if (fs::exists(p / "manifest.json", ec)) { ds = readJson(p / "manifest.json"); fromManifest = true; }
    else if (fs::exists(p / "manifest.csv", ec)) { ds = readCsv(p / "manifest.csv"); fromManifest = true; }
    else {
      std::vector<fs::path> entries;
      bool plainFiles = false;
      for (const auto& e : fs::directory_iterator(p, ec)) {
        const std::string name = e.path().filename().string();
        if (name.empty() || name[0] == '.') continue;
        if (e.is_directory() || isVolumeFile(e.path())) entries.push_back(e.path());
        else if (e.is_regular_file()) plainFiles = true;
      }
      std::sort(entries.begin(), entries.end());
      if (entries.empty() && plainFiles) entries.push_back(p);  // one B-scan stack or DICOM series
      // A BraTS-style contrast set (case_t1, case_t1ce, case_t2, case_flair, case_seg) is one case.
      std::string seg, brain;
      bool contrastSet = false;
      for (const auto& e : entries) {
        std::string n = lower(e.filename().string());
        for (const char* ext : {".nii.gz", ".nii", ".mha", ".mhd", ".nrrd"})
          if (endsWith(n, ext)) { n.resize(n.size() - std::string(ext).size()); break; }
        for (const char* tag : {"_t1", "_t1ce", "_t1c", "_t1gd", "_t2", "_t2w", "_flair", "_t2f"})
          if (endsWith(n, tag)) contrastSet = true;
        if (endsWith(n, "_seg")) seg = fs::absolute(e).lexically_normal().string();
        if (endsWith(n, "_brainmask") || endsWith(n, "_brain_mask")) brain = fs::absolute(e).lexically_normal().string();
      }
      if (contrastSet) {
        DataCase c;
        c.image = fs::absolute(p).lexically_normal().string();
        c.id = fs::absolute(p).lexically_normal().filename().string();
        if (c.id.empty()) c.id = fs::absolute(p).lexically_normal().parent_path().filename().string();
        c.mask = seg;
        c.brainMask = brain;
        entries.clear();
        ds.cases.push_back(std::move(c));
      }
      for (const auto& e : entries) {
        DataCase c;
        c.image = fs::absolute(e).lexically_normal().string();
        std::string id = e.filename().string();
        for (const char* ext : {".nii.gz", ".nii", ".mha", ".mhd", ".nrrd", ".vol"})
          if (endsWith(lower(id), ext)) { id.resize(id.size() - std::string(ext).size()); break; }
        c.id = id;
        ds.cases.push_back(std::move(c));
      }
    }
  } else {
    const std::string n = lower(p.filename().string());
    if (endsWith(n, ".json")) { ds = readJson(p); fromManifest = true; }
    else if (endsWith(n, ".csv")) { ds = readCsv(p); fromManifest = true; }
    else {
      DataCase c;
      c.image = fs::absolute(p).lexically_normal().string();
      c.id = idFromPath(p.string());
      ds.cases.push_back(std::move(c));
    }
  }
  ds.source = path;
  const bool anySplit = std::any_of(ds.cases.begin(), ds.cases.end(), [](const DataCase& c) { return !c.split.empty(); });
  if (!split.empty() && fromManifest && anySplit) {
    ds.cases.erase(std::remove_if(ds.cases.begin(), ds.cases.end(), [&](const DataCase& c) { return c.split != split; }),
                   ds.cases.end());
  }
  for (auto& c : ds.cases)
    if (c.label < 0) c.label = defaultLabel;
  if (ds.cases.empty())
    throw FileError(path, split.empty() || !anySplit ? "no scans found" : "no cases in the \"" + split + "\" split");
  return ds;
}

DataSet combineDataSets(const std::vector<std::string>& paths, const std::string& split, int defaultLabel) {
  DataSet out;
  std::set<std::string> ids;
  for (const auto& p : paths) {
    out.source += (out.source.empty() ? "" : "; ") + p;
    for (DataCase c : openDataSet(p, split, defaultLabel).cases) {
      const std::string base = c.id;
      for (int n = 2; !ids.insert(c.id).second; ++n) c.id = base + "-" + std::to_string(n);
      out.cases.push_back(std::move(c));
    }
  }
  return out;
}

void writeManifest(const std::string& path, const DataSet& ds) {
  nlohmann::json cases = nlohmann::json::array();
  for (const auto& c : ds.cases) {
    nlohmann::json e = {{"id", c.id}, {"label", c.label < 0 ? nlohmann::json() : nlohmann::json(c.label)}};
    if (!c.contrasts.empty()) {
      nlohmann::json con = nlohmann::json::object();
      for (const auto& [name, file] : c.contrasts) con[name] = file;
      e["contrasts"] = con;
    }
    if (!c.image.empty()) e["image"] = c.image;
    if (!c.mask.empty()) e["mask"] = c.mask;
    if (!c.brainMask.empty()) e["brain_mask"] = c.brainMask;
    cases.push_back(e);
  }
  writeFileAtomically(path, nlohmann::json{{"source", ds.source}, {"cases", cases}}.dump(2) + "\n");
}

}  // namespace al::training
