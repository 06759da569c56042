#include "training/DataSet.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "errors/Error.h"
#include "runtime/BoundedJson.h"
#include "io/AtomicFile.h"
#include "io/oct/ImageStackReader.h"

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

bool sameClass(const std::string& a, const std::string& b) { return lower(a) == lower(b); }

// An image-labelled case: healthy when its class is the healthy one, abnormal otherwise.
int labelOfClass(const std::string& className, const std::string& healthyClass) {
  return sameClass(className, healthyClass) ? 0 : 1;
}

// "train", "val" or "test" for a split folder's name (Validation, TEST, ...), else "".
std::string splitOfFolder(const fs::path& folder) {
  const std::string n = lower(folder.filename().string());
  if (n == "train" || n == "training") return "train";
  if (n == "val" || n == "validation" || n == "valid") return "val";
  if (n == "test" || n == "testing") return "test";
  return "";
}

std::vector<fs::path> subfolders(const fs::path& folder) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.empty() && name[0] != '.' && it->is_directory(ec)) out.push_back(it->path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool hasSubfolder(const fs::path& folder, const std::string& name) {
  const auto subs = subfolders(folder);
  return std::any_of(subs.begin(), subs.end(), [&](const fs::path& s) { return sameClass(s.filename().string(), name); });
}

// A folder whose subfolders are classes: the healthy class is among them.
bool isClassSet(const fs::path& folder, const std::string& healthyClass) { return hasSubfolder(folder, healthyClass); }

// One class folder of the layout: the healthy class itself, or a sibling of it.
bool isClassFolder(const fs::path& folder, const std::string& healthyClass) {
  const fs::path parent = folder.parent_path();
  return sameClass(folder.filename().string(), healthyClass) || (!parent.empty() && isClassSet(parent, healthyClass));
}

fs::path absoluteOf(const fs::path& p) {
  fs::path a = fs::absolute(p).lexically_normal();
  if (a.filename().empty()) a = a.parent_path();  // "ROOT/" names ROOT
  return a;
}

// One image of a class folder as a case.
DataCase imageCase(const std::string& file, const fs::path& classFolder, const std::string& split,
                   const std::string& healthyClass) {
  DataCase c;
  c.image = absoluteOf(file).string();
  c.id = fs::path(file).stem().string();
  c.className = classFolder.filename().string();
  c.label = labelOfClass(c.className, healthyClass);
  c.split = split;
  return c;
}

// Every image of one class folder; an empty one is an error naming it.
void addClassFolder(const fs::path& folder, const std::string& split, const std::string& healthyClass, DataSet& ds) {
  const auto files = imageStackFiles(folder.string());
  if (files.empty())
    throw FileError(folder.string(), "class folder " + folder.filename().string() + " holds no PNG, JPEG, TIFF or BMP images");
  for (const auto& f : files) ds.cases.push_back(imageCase(f, folder, split, healthyClass));
}

void addClassSet(const fs::path& folder, const std::string& split, const std::string& healthyClass, DataSet& ds) {
  const auto classes = subfolders(folder);
  if (classes.empty()) throw FileError(folder.string(), "split folder without class folders (" + healthyClass + ", ...)");
  for (const auto& cls : classes) addClassFolder(cls, split, healthyClass, ds);
}

// Ids unique within the data set: a class-folder layout may repeat a file name across classes
// and splits ("1.png"); the class, then a number, tells them apart.
void uniqueIds(DataSet& ds) {
  std::set<std::string> seen;
  for (auto& c : ds.cases) {
    if (seen.insert(c.id).second) continue;
    const std::string base = c.className.empty() ? c.id : c.className + "-" + c.id;
    c.id = base;
    for (int n = 2; !seen.insert(c.id).second; ++n) c.id = base + "-" + std::to_string(n);
  }
}

std::string stripVolumeExtension(std::string name) {
  for (const char* ext : {".nii.gz", ".nii", ".mha", ".mhd", ".nrrd"})
    if (endsWith(lower(name), ext)) { name.resize(name.size() - std::string(ext).size()); break; }
  return name;
}

// A BraTS-style contrast set in `folder` as one case (lesion labels from its seg file), or
// nothing. BraTS up to 2021 names files CASE_t1, _t1ce, _t2, _flair, _seg; 2023 on CASE-t1n,
// -t1c, -t2w, -t2f, -seg.
bool contrastSetCase(const fs::path& folder, const std::vector<fs::path>& files, DataCase& c) {
  std::string seg, brain;
  bool contrastSet = false;
  for (const auto& e : files) {
    const std::string n = lower(stripVolumeExtension(e.filename().string()));
    if (n.size() == lower(e.filename().string()).size()) continue;  // not a volume file
    for (const char* tag : {"t1", "t1ce", "t1c", "t1gd", "t1n", "t2", "t2w", "flair", "t2f"})
      for (const char sep : {'_', '-'})
        if (endsWith(n, std::string(1, sep) + tag)) contrastSet = true;
    if (endsWith(n, "_seg") || endsWith(n, "-seg")) seg = absoluteOf(e).string();
    if (endsWith(n, "_brainmask") || endsWith(n, "_brain_mask") || endsWith(n, "-brainmask") || endsWith(n, "-brain_mask"))
      brain = absoluteOf(e).string();
  }
  if (!contrastSet) return false;
  c = DataCase();
  c.image = absoluteOf(folder).string();
  c.id = absoluteOf(folder).filename().string();
  c.mask = seg;
  c.brainMask = brain;
  return true;
}

std::vector<fs::path> filesIn(const fs::path& folder) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file(ec)) out.push_back(it->path());
  std::sort(out.begin(), out.end());
  return out;
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

DataSet readCsv(const fs::path& file, const std::string& healthyClass) {
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
    c.className = get("class");
    if (c.label < 0 && !c.className.empty()) c.label = labelOfClass(c.className, healthyClass);
    ds.cases.push_back(std::move(c));
  }
  return ds;
}

DataSet readJson(const fs::path& file, std::string healthyClass) {
  nlohmann::json j = readBoundedJsonFile(file.string(), "the manifest", std::uint64_t{512} << 20);
  if (!j.is_object() || !j.contains("cases") || !j["cases"].is_array())
    throw FileError(file.string(), "manifest has no \"cases\" list");
  if (j.contains("healthy_class")) {
    if (!j["healthy_class"].is_string()) throw FileError(file.string(), "\"healthy_class\" must be a class name");
    healthyClass = j["healthy_class"].get<std::string>();
  }
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
    if (e.contains("class") && !e["class"].is_null()) {
      if (!e["class"].is_string()) throw FileError(file.string(), "case " + c.id + ": class must be a name");
      c.className = e["class"].get<std::string>();
      if (c.label < 0) c.label = labelOfClass(c.className, healthyClass);
    }
    if (e.contains("labels") && !e["labels"].is_null()) {
      if (!e["labels"].is_array())
        throw FileError(file.string(), "case " + c.id + ": labels must be a list, one label per B-scan / slice");
      for (const auto& l : e["labels"]) {
        if (l.is_null()) { c.imageLabels.push_back(-1); continue; }
        if (!l.is_number_integer() || l.get<int>() < -1 || l.get<int>() > 1)
          throw FileError(file.string(), "case " + c.id + ": image label " + l.dump() + " is not 0, 1 or null");
        c.imageLabels.push_back(l.get<int>());
      }
      if (c.imageLabels.empty()) throw FileError(file.string(), "case " + c.id + ": an empty labels list");
      if (c.label < 0) {  // the case is abnormal when any of its images is
        if (std::count(c.imageLabels.begin(), c.imageLabels.end(), 1) > 0) c.label = 1;
        else if (std::count(c.imageLabels.begin(), c.imageLabels.end(), 0) == static_cast<long>(c.imageLabels.size())) c.label = 0;
      }
    }
    ds.cases.push_back(std::move(c));
  }
  return ds;
}

}  // namespace

int DataSet::count(int label) const {
  return static_cast<int>(std::count_if(cases.begin(), cases.end(), [&](const DataCase& c) { return c.label == label; }));
}

DataSet openDataSet(const std::string& path, const std::string& split, int defaultLabel, const std::string& healthyClass) {
  std::error_code ec;
  const fs::path p(path);
  if (!fs::exists(p, ec)) throw FileError(path, "no such file or folder");
  DataSet ds;
  bool splitsSelectable = false;  // a manifest, or a class-folder ROOT with split folders
  if (fs::is_directory(p, ec)) {
    const fs::path dir = absoluteOf(p);
    if (fs::exists(p / "manifest.json", ec)) { ds = readJson(p / "manifest.json", healthyClass); splitsSelectable = true; }
    else if (fs::exists(p / "manifest.csv", ec)) { ds = readCsv(p / "manifest.csv", healthyClass); splitsSelectable = true; }
    else if (const auto subs = subfolders(dir);
             std::any_of(subs.begin(), subs.end(), [&](const fs::path& s) { return !splitOfFolder(s).empty() && isClassSet(s, healthyClass); })) {
      // ROOT/{train,val,test}/{classes}/images
      for (const auto& s : subs) {
        const std::string name = splitOfFolder(s);
        if (!name.empty()) addClassSet(s, name, healthyClass, ds);
      }
      splitsSelectable = true;
    } else if (isClassSet(dir, healthyClass)) {
      addClassSet(dir, splitOfFolder(dir), healthyClass, ds);  // ROOT/test, or classes without splits
    } else if (!imageStackFiles(dir.string()).empty() && isClassFolder(dir, healthyClass)) {
      addClassFolder(dir, splitOfFolder(dir.parent_path()), healthyClass, ds);  // ROOT/train/NORMAL
    } else {
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
      DataCase set;
      if (contrastSetCase(p, entries, set)) {  // the folder is one multi-contrast case
        entries.clear();
        ds.cases.push_back(std::move(set));
      }
      for (const auto& e : entries) {
        DataCase c;
        // A subfolder holding a contrast set is a case with its label map.
        if (e != p && fs::is_directory(e, ec) && contrastSetCase(e, filesIn(e), c)) {
          ds.cases.push_back(std::move(c));
          continue;
        }
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
    if (endsWith(n, ".json")) { ds = readJson(p, healthyClass); splitsSelectable = true; }
    else if (endsWith(n, ".csv")) { ds = readCsv(p, healthyClass); splitsSelectable = true; }
    else if (const fs::path folder = absoluteOf(p).parent_path(); isImageFileName(n) && isClassFolder(folder, healthyClass)) {
      ds.cases.push_back(imageCase(p.string(), folder, splitOfFolder(folder.parent_path()), healthyClass));  // ROOT/test/CNV/x.jpeg
    } else {
      DataCase c;
      c.image = fs::absolute(p).lexically_normal().string();
      c.id = idFromPath(p.string());
      ds.cases.push_back(std::move(c));
    }
  }
  ds.source = path;
  const bool anySplit = std::any_of(ds.cases.begin(), ds.cases.end(), [](const DataCase& c) { return !c.split.empty(); });
  if (!split.empty() && splitsSelectable && anySplit) {
    ds.cases.erase(std::remove_if(ds.cases.begin(), ds.cases.end(), [&](const DataCase& c) { return c.split != split; }),
                   ds.cases.end());
  }
  for (auto& c : ds.cases)
    if (c.label < 0) c.label = defaultLabel;
  uniqueIds(ds);
  if (ds.cases.empty())
    throw FileError(path, split.empty() || !anySplit ? "no scans found" : "no cases in the \"" + split + "\" split");
  return ds;
}

DataSet combineDataSets(const std::vector<std::string>& paths, const std::string& split, int defaultLabel,
                        const std::string& healthyClass) {
  DataSet out;
  std::set<std::string> ids;
  for (const auto& p : paths) {
    out.source += (out.source.empty() ? "" : "; ") + p;
    for (DataCase c : openDataSet(p, split, defaultLabel, healthyClass).cases) {
      const std::string base = c.id;
      for (int n = 2; !ids.insert(c.id).second; ++n) c.id = base + "-" + std::to_string(n);
      out.cases.push_back(std::move(c));
    }
  }
  return out;
}

std::vector<std::pair<std::string, int>> keepHealthyImages(DataSet& ds) {
  std::map<std::string, int> removed;
  std::vector<DataCase> kept;
  for (auto& c : ds.cases) {
    if (!c.className.empty() && c.label == 1 && c.mask.empty()) ++removed[c.className];
    else kept.push_back(std::move(c));
  }
  ds.cases = std::move(kept);
  return {removed.begin(), removed.end()};
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
    if (!c.className.empty()) e["class"] = c.className;
    if (!c.imageLabels.empty()) {
      nlohmann::json labels = nlohmann::json::array();
      for (int l : c.imageLabels) labels.push_back(l < 0 ? nlohmann::json() : nlohmann::json(l));
      e["labels"] = labels;
    }
    cases.push_back(e);
  }
  writeFileAtomically(path, nlohmann::json{{"source", ds.source}, {"cases", cases}}.dump(2) + "\n");
}

}  // namespace al::training
