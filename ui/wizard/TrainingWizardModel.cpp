#include "wizard/TrainingWizardModel.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QPainter>
#include <QRegularExpression>
#include <QtConcurrent/QtConcurrentRun>
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <mutex>

#include <nlohmann/json.hpp>

#include "errors/Error.h"
#include "inference/ModelCatalog.h"
#include "io/AtomicFile.h"
#include "io/mri/MriContrasts.h"
#include "models/ModelFile.h"
#include "roc/RocModel.h"
#include "runtime/TorchRuntime.h"

namespace al::ui {
namespace fs = std::filesystem;
using nlohmann::json;
using training::DataRole;

struct TrainingWizardModel::DataResult {
  QString key;
  std::map<Role, training::DataReport> reports;
};

struct TrainingWizardModel::PreviewResult {
  QList<PreviewItem> items;
  QString error;
};

namespace {

QString qs(const std::string& s) { return QString::fromStdString(s); }

// A float plane as 8-bit grey between lo and hi.
QImage greyImage(const float* p, int w, int h, float lo, float hi) {
  QImage img(w, h, QImage::Format_RGB32);
  for (int y = 0; y < h; ++y) {
    auto* line = reinterpret_cast<QRgb*>(img.scanLine(y));
    for (int x = 0; x < w; ++x) {
      const int g = hi > lo ? std::clamp(static_cast<int>(255.f * (p[y * w + x] - lo) / (hi - lo)), 0, 255) : 0;
      line[x] = qRgb(g, g, g);
    }
  }
  return img;
}

// The 1st and 99th percentiles of a plane: a window that shows any modality.
std::pair<float, float> robustRange(const float* p, std::int64_t n) {
  std::vector<float> v(p, p + n);
  if (v.empty()) return {0.f, 1.f};
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 100), v.end());
  const float lo = v[v.size() / 100];
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() * 99 / 100), v.end());
  return {lo, v[v.size() * 99 / 100]};
}

// One image (channel 0) of a volume as floats.
std::vector<float> plane(const Volume& v, std::int64_t z, int channel = 0) {
  const Size3 s = v.size();
  std::vector<float> out(static_cast<std::size_t>(s.x * s.y));
  for (std::int64_t y = 0; y < s.y; ++y)
    for (std::int64_t x = 0; x < s.x; ++x)
      out[static_cast<std::size_t>(y * s.x + x)] = static_cast<float>(v.value(x, y, z, channel));
  return out;
}

// The configurations of a method, for the Settings page's tooltips; built once per kind.
const std::map<QString, json>& presetsOf(models::ModelKind kind) {
  static std::map<models::ModelKind, std::map<QString, json>> cache;
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  auto& entry = cache[kind];
  if (entry.empty())
    for (const char* p : {"paper", "lite"}) entry[QLatin1String(p)] = models::createModel(kind, p)->config();
  return entry;
}

}  // namespace

TrainingWizardModel::TrainingWizardModel(QObject* parent) : QObject(parent), roc_(new RocModel(this)) {
  connect(&dataWatcher_, &QFutureWatcher<std::shared_ptr<DataResult>>::finished, this, &TrainingWizardModel::onDataChecked);
  connect(&previewWatcher_, &QFutureWatcher<std::shared_ptr<PreviewResult>>::finished, this,
          &TrainingWizardModel::onPreviewReady);
  connect(roc_, &RocModel::thresholdChanged, this, [this](double t) {
    if (std::abs(t - threshold()) > 1e-12 * std::max(1.0, std::abs(t))) {
      manualThreshold_ = t;
      thresholdMethod_ = "manual";
    }
    emit thresholdChanged(t);
  });
  setMethod(method_);
}

TrainingWizardModel::~TrainingWizardModel() {
  dataWatcher_.waitForFinished();
  previewWatcher_.waitForFinished();
}

// ---- Method ------------------------------------------------------------------------------------

QStringList TrainingWizardModel::methodKeys() {
  QStringList out;
  for (auto k : models::allModelKinds()) out << qs(models::toString(k));
  return out;
}

QString TrainingWizardModel::methodTitle(const QString& key) {
  return qs(models::displayName(models::modelKindFromString(key.toStdString())));
}

QString TrainingWizardModel::methodHtml(const QString& key) {
  const models::MethodInfo m = models::methodInfo(models::modelKindFromString(key.toStdString()));
  auto row = [](const QString& label, const std::string& text) {
    return text.empty() ? QString() : QStringLiteral("<p><b>%1</b> %2</p>").arg(label, qs(text).toHtmlEscaped());
  };
  return QStringLiteral("<h3>%1</h3>").arg(qs(m.name).toHtmlEscaped()) + row(tr("Learns from:"), m.learnsFrom) +
         row(tr("Score:"), m.score) + row(tr("Maps:"), m.maps) +
         row(tr("Also needs:"), m.needs.empty() ? std::string("nothing beyond healthy images") : m.needs) +
         row(tr("Paper:"), m.paper) + row(tr("Published:"), m.published);
}

QStringList TrainingWizardModel::configs() {
  return {QStringLiteral("paper"), QStringLiteral("lite"), QStringLiteral("tiny")};
}

QString TrainingWizardModel::configText(const QString& config) {
  if (config == QLatin1String("paper")) return tr("paper: the published network sizes (best on a GPU)");
  if (config == QLatin1String("lite")) return tr("lite: narrower networks sized for a CPU (the bundled models)");
  return tr("tiny: a smoke test in seconds; not for real use");
}

void TrainingWizardModel::setMethod(const QString& key) {
  const models::ModelKind kind = models::modelKindFromString(key.toStdString());
  const bool changed = key != method_ || stages_.empty();
  method_ = key;
  auto model = models::createModel(kind, config_.toStdString());
  input_ = model->input();
  stages_ = model->stages();
  configValues_ = model->config();
  if (changed) {
    spec_.overrides = json::object();
    spec_.iterations.clear();
    for (const auto& st : stages_)
      if (!st.fitPass) spec_.iterations[st.name] = st.paperIterations;
  }
  emit methodChanged();
}

void TrainingWizardModel::setConfig(const QString& config) {
  if (!configs().contains(config)) throw Error("wizard", "unknown configuration \"" + config.toStdString() + "\"");
  config_ = config;
  spec_.overrides = json::object();
  setMethod(method_);
}

bool TrainingWizardModel::needsMixedSet() const {
  return std::any_of(stages_.begin(), stages_.end(), [](const auto& s) { return s.needsMixedSet; });
}

bool TrainingWizardModel::takesMri() const { return pipeline().modality() == training::Modality::Mri; }

training::Pipeline TrainingWizardModel::pipeline() const { return training::Pipeline::forInput(input_, spec_.preprocessing); }

QString TrainingWizardModel::pipelineText() const {
  const json j = pipeline().toJson();
  const auto it = j.find("steps");
  return it != j.end() && it->is_string() ? qs(it->get_ref<const std::string&>()) : QString();
}

// ---- Data --------------------------------------------------------------------------------------

QStringList TrainingWizardModel::sources(Role role) const {
  auto it = sources_.find(role);
  return it == sources_.end() ? QStringList() : it->second;
}

void TrainingWizardModel::setSources(Role role, const QStringList& paths) {
  sources_[role] = paths;
  emit sourcesChanged();
}

void TrainingWizardModel::addSource(Role role, const QString& path) {
  if (path.isEmpty() || sources_[role].contains(path)) return;
  sources_[role] << path;
  emit sourcesChanged();
}

void TrainingWizardModel::removeSource(Role role, int index) {
  auto& list = sources_[role];
  if (index < 0 || index >= list.size()) return;
  list.removeAt(index);
  emit sourcesChanged();
}

QString TrainingWizardModel::addSeries(Role role, const std::vector<DicomSeriesEntry>& series) {
  if (series.empty()) return tr("Select one or more series in the study browser first.");
  const fs::path root = fs::path(inference::trainingWorkDir()) / "series";
  auto safe = [](std::string s) {
    for (char& c : s)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-') c = '_';
    return s.empty() ? std::string("series") : s;
  };
  // A folder of links to the series' files alone, which the readers take as one series.
  auto linkFolder = [&](const DicomSeriesEntry& s) {
    const fs::path dir = root / safe(s.seriesInstanceUid.empty() ? s.seriesNumber : s.seriesInstanceUid);
    std::error_code ec;
    fs::remove_all(dir, ec);
    fs::create_directories(dir);
    int n = 0;
    for (const auto& f : s.files) {
      char name[32];
      std::snprintf(name, sizeof name, "%05d.dcm", ++n);
      fs::create_symlink(fs::absolute(f.path), dir / name);
    }
    return dir;
  };
  try {
    if (!takesMri()) {
      for (const auto& s : series) addSource(role, QString::fromStdString(linkFolder(s).string()));
      return {};
    }
    // Each study's series sorted into contrasts by their tags, as the viewer does.
    std::map<std::string, std::vector<DicomSeriesEntry>> byStudy;
    for (const auto& s : series) byStudy[s.studyInstanceUid].push_back(s);
    std::map<std::string, training::DataCase> studies;
    for (const auto& [uid, list] : byStudy) {
      training::DataCase& c = studies[uid];
      const DicomSeriesEntry& first = list.front();
      c.id = safe(first.patientId.empty() ? uid : first.patientId + "-" + first.studyDate);
      for (const auto& choice : groupMriContrasts(list))
        c.contrasts.emplace_back(mriContrastName(choice.contrast), linkFolder(*choice.series).string());
      if (c.contrasts.empty()) return tr("No MR contrast recognised among the selected series of study %1.").arg(QString::fromStdString(uid));
    }
    for (auto& [uid, c] : studies) {
      training::DataSet ds;
      ds.source = "study " + uid;
      ds.cases.push_back(c);
      const std::string manifest = (root / (safe(uid) + ".json")).string();
      training::writeManifest(manifest, ds);
      addSource(role, QString::fromStdString(manifest));
    }
  } catch (const std::exception& e) {
    return tr("Could not add the series: %1").arg(QString::fromUtf8(e.what()));
  }
  return {};
}

std::vector<TrainingWizardModel::Role> TrainingWizardModel::rolesNeeded() const {
  std::vector<Role> roles{Role::Healthy};
  if (needsMixedSet()) roles.push_back(Role::Mixed);
  roles.push_back(Role::Validation);
  return roles;
}

QString TrainingWizardModel::dataKey() const {
  QString key = method_ + QLatin1Char('/') + config_;
  for (Role r : rolesNeeded()) key += QLatin1Char('|') + sources(r).join(QLatin1Char(';'));
  return key;
}

bool TrainingWizardModel::isDataChecked() const { return !isCheckingData() && reportsKey_ == dataKey(); }

void TrainingWizardModel::checkData() {
  if (isCheckingData()) {
    recheck_ = true;
    return;
  }
  recheck_ = false;
  const training::Pipeline p = pipeline();
  std::map<Role, QStringList> wanted;
  for (Role r : rolesNeeded()) wanted[r] = sources(r);
  const QString key = dataKey();
  dataWatcher_.setFuture(QtConcurrent::run([p, wanted, key] {
    auto result = std::make_shared<DataResult>();
    result->key = key;
    for (const auto& [role, list] : wanted) {
      training::DataReport& r = result->reports[role];
      r.role = role;
      if (list.isEmpty()) {
        r.problems.push_back("no " + training::roleName(role) + " chosen");
        continue;
      }
      std::vector<std::string> paths;
      for (const auto& s : list) paths.push_back(s.toStdString());
      try {
        const training::DataSet ds = training::combineDataSets(paths, training::splitFor(role), training::defaultLabelFor(role));
        r = training::checkTrainingData(ds, role, p);
      } catch (const std::exception& e) {
        r.problems.push_back(e.what());
      }
    }
    return result;
  }));
}

void TrainingWizardModel::onDataChecked() {
  const auto result = dataWatcher_.result();
  if (result) {
    reports_ = result->reports;
    reportsKey_ = result->key;
  }
  if (recheck_ || reportsKey_ != dataKey()) {
    checkData();
    return;
  }
  emit dataChecked();
}

std::optional<training::DataReport> TrainingWizardModel::report(Role role) const {
  auto it = reports_.find(role);
  if (it == reports_.end() || reportsKey_ != dataKey()) return std::nullopt;
  return it->second;
}

QList<WizardThumbnail> TrainingWizardModel::thumbnails(Role role) const {
  QList<WizardThumbnail> out;
  const auto r = report(role);
  if (!r) return out;
  for (const auto& t : r->thumbnails) {
    const Size3 s = t.image.size();
    out.push_back({qs(t.id), greyImage(t.image.data<float>(), static_cast<int>(s.x), static_cast<int>(s.y), 0.f, 1.f)});
  }
  return out;
}

QString TrainingWizardModel::reportText(Role role) const {
  const auto r = report(role);
  if (!r) return isCheckingData() ? tr("Reading...") : QString();
  auto count = [](int n, const char* one, const char* many) { return QStringLiteral("%1 %2").arg(n).arg(QLatin1String(n == 1 ? one : many)); };
  QString s = count(r->cases, "case", "cases") + QStringLiteral(", ") + count(r->images, "image", "images");
  QStringList labels;
  if (r->healthyCases) labels << tr("%1 healthy").arg(r->healthyCases);
  if (r->abnormalCases) labels << tr("%1 abnormal").arg(r->abnormalCases);
  if (r->unlabelledCases) labels << tr("%1 unlabelled").arg(r->unlabelledCases);
  if (r->casesWithMasks) labels << tr("%1 with lesion masks").arg(r->casesWithMasks);
  if (!labels.isEmpty()) s += QStringLiteral(" (") + labels.join(QStringLiteral(", ")) + QLatin1Char(')');
  for (const auto& n : r->notes) s += QStringLiteral("\n") + qs(n);
  return s;
}

QString TrainingWizardModel::dataProblem() const {
  for (Role role : rolesNeeded())
    if (sources(role).isEmpty()) return tr("Choose the %1.").arg(qs(training::roleName(role)));
  if (!isDataChecked()) return tr("Reading the data...");
  for (Role role : rolesNeeded()) {
    const auto r = report(role);
    if (!r) return tr("Reading the data...");
    if (!r->problems.empty()) return qs(training::roleName(role)) + QStringLiteral(": ") + qs(r->problems.front());
  }
  return {};
}

// ---- Preview -----------------------------------------------------------------------------------

void TrainingWizardModel::preparePreview() {
  if (isPreparingPreview()) return;
  const training::Pipeline p = pipeline();
  const models::InputSpec in = input_;
  std::vector<std::string> paths;
  for (const auto& s : sources(Role::Healthy)) paths.push_back(s.toStdString());
  previewWatcher_.setFuture(QtConcurrent::run([p, in, paths] {
    auto result = std::make_shared<PreviewResult>();
    try {
      const training::DataSet ds = training::combineDataSets(paths, "train", 0);
      for (std::size_t i = 0; i < ds.cases.size() && result->items.size() < 3; ++i) {
        const training::Prepared prep = p.prepare(ds.cases[i], true);
        const Size3 ps = prep.images.size();
        if (ps.z == 0) continue;
        const std::int64_t k = ps.z / 2;
        PreviewItem item;
        item.id = qs(prep.id);
        // The scan's image as read, at the slice the prepared image came from.
        const Volume& scan = *prep.displayScan;
        const std::int64_t z = std::clamp<std::int64_t>(prep.sliceIndex[static_cast<std::size_t>(k)], 0, scan.size().z - 1);
        const auto raw = plane(scan, z);
        const auto [lo, hi] = robustRange(raw.data(), static_cast<std::int64_t>(raw.size()));
        item.original = greyImage(raw.data(), static_cast<int>(scan.size().x), static_cast<int>(scan.size().y), lo, hi);
        // What the model sees: [-1, 1] for the GANs, z-scores for ADM.
        const auto prepared = plane(prep.images, k);
        const float plo = in.zScored ? -3.f : -1.f, phi = in.zScored ? 3.f : 1.f;
        QImage img = greyImage(prepared.data(), static_cast<int>(ps.x), static_cast<int>(ps.y), plo, phi);
        // The valid region's edge (retina band / brain) in green.
        const auto valid = plane(prep.valid, k);
        for (int y = 1; y + 1 < ps.y; ++y)
          for (int x = 1; x + 1 < ps.x; ++x) {
            auto at = [&](int xx, int yy) { return valid[static_cast<std::size_t>(yy * ps.x + xx)] > 0; };
            if (at(x, y) && (!at(x - 1, y) || !at(x + 1, y) || !at(x, y - 1) || !at(x, y + 1)))
              img.setPixel(x, y, qRgb(60, 220, 90));
          }
        QString caption = tr("%1, image %2: %3x%4 after preprocessing").arg(item.id).arg(z).arg(ps.x).arg(ps.y);
        if (in.mode == models::InputMode::Patches) {
          // One patch where training would draw it: centred on the valid rows.
          int top = static_cast<int>(ps.y), bottom = 0;
          for (int y = 0; y < ps.y; ++y)
            for (int x = 0; x < ps.x; ++x)
              if (valid[static_cast<std::size_t>(y * ps.x + x)] > 0) top = std::min(top, y), bottom = std::max(bottom, y);
          const int cy = std::clamp((top + bottom) / 2 - in.height / 2, 0, std::max(0, static_cast<int>(ps.y) - in.height));
          const int cx = std::max(0, static_cast<int>(ps.x) / 2 - in.width / 2);
          QPainter painter(&img);
          painter.setPen(QPen(QColor(255, 170, 0), 1));
          painter.drawRect(cx, cy, in.width - 1, in.height - 1);
          caption += tr("; the orange box is one %1x%2 training patch").arg(in.width).arg(in.height);
        } else {
          caption += tr("; resized to %1x%2 for the model").arg(in.width).arg(in.height);
        }
        for (const auto& w : prep.warnings) caption += QStringLiteral("\n") + qs(w);
        item.prepared = img;
        item.caption = caption;
        result->items.push_back(item);
      }
      if (result->items.isEmpty()) result->error = tr("No healthy case could be prepared.");
    } catch (const std::exception& e) {
      result->error = QString::fromUtf8(e.what());
    }
    return result;
  }));
}

void TrainingWizardModel::onPreviewReady() {
  const auto r = previewWatcher_.result();
  preview_ = r ? r->items : QList<PreviewItem>();
  previewError_ = r ? r->error : tr("The preview failed.");
  emit previewReady();
}

// ---- Settings ----------------------------------------------------------------------------------

QList<StageSetting> TrainingWizardModel::stages() const {
  QList<StageSetting> out;
  for (const auto& st : stages_) {
    StageSetting s;
    s.name = qs(st.name);
    s.description = qs(st.description);
    s.paperIterations = st.paperIterations;
    s.fitPass = st.fitPass;
    auto it = spec_.iterations.find(st.name);
    s.iterations = st.fitPass ? 0 : it != spec_.iterations.end() ? it->second : st.paperIterations;
    out.push_back(s);
  }
  return out;
}

void TrainingWizardModel::setIterations(const QString& stage, long iterations) {
  spec_.iterations[stage.toStdString()] = std::max(1L, iterations);
}

QList<HyperParameter> TrainingWizardModel::hyperParameters() const {
  QList<HyperParameter> out;
  const auto& presets = presetsOf(models::modelKindFromString(method_.toStdString()));
  const std::string paperName = models::methodInfo(models::modelKindFromString(method_.toStdString())).paper;
  for (const auto& [key, value] : configValues_.items()) {
    HyperParameter h;
    h.key = qs(key);
    json v = spec_.overrides.contains(key) ? spec_.overrides[key] : value;
    h.value = qs(v.dump());
    const json& paper = presets.at(QStringLiteral("paper"));
    const json& lite = presets.at(QStringLiteral("lite"));
    h.tooltip = tr("%1\npaper: %2 (%3)\nlite: %4 (narrower, for a CPU; see models/*.md)")
                    .arg(h.key, paper.contains(key) ? qs(paper[key].dump()) : QStringLiteral("-"), qs(paperName),
                         lite.contains(key) ? qs(lite[key].dump()) : QStringLiteral("-"));
    out.push_back(h);
  }
  return out;
}

QString TrainingWizardModel::setHyperParameter(const QString& key, const QString& jsonValue) {
  if (!configValues_.contains(key.toStdString())) return tr("%1 is not a hyper-parameter of %2").arg(key, methodTitle(method_));
  json v;
  try {
    v = json::parse(jsonValue.toStdString());
  } catch (const json::exception&) {
    return tr("%1: \"%2\" is not a number, true/false or a quoted text").arg(key, jsonValue);
  }
  const json& current = configValues_[key.toStdString()];
  if (current.is_number() != v.is_number() || current.is_boolean() != v.is_boolean() || current.is_string() != v.is_string())
    return tr("%1 takes a value like %2").arg(key, qs(current.dump()));
  json overrides = spec_.overrides;
  if (v == current) overrides.erase(key.toStdString());
  else overrides[key.toStdString()] = v;
  try {
    (void)models::createModel(models::modelKindFromString(method_.toStdString()), config_.toStdString(), overrides);
  } catch (const std::exception& e) {
    return QString::fromUtf8(e.what());
  }
  spec_.overrides = overrides;
  return {};
}

QStringList TrainingWizardModel::devices() {
  QStringList out{QStringLiteral("auto"), QStringLiteral("cpu")};
  if (torchRuntime().cudaAvailable) out << QStringLiteral("cuda");
  return out;
}

QString TrainingWizardModel::deviceText() {
  const TorchRuntimeInfo& t = torchRuntime();
  return tr("CPU: %1 threads. %2").arg(t.intraOpThreads).arg(qs(t.cudaStatus));
}

QString TrainingWizardModel::settingsProblem() const {
  if (spec_.name.empty()) return tr("Give the model a name.");
  const QString name = qs(spec_.name);
  static const QRegularExpression ok(QStringLiteral("^[A-Za-z0-9][A-Za-z0-9._-]*$"));
  if (!ok.match(name).hasMatch()) return tr("A name of letters, digits, '.', '-' and '_' (it becomes the file name).");
  if (QFileInfo::exists(QDir(qs(inference::userModelDir())).filePath(name + QStringLiteral(".json"))))
    return tr("A model named %1 exists in %2.").arg(name, qs(inference::userModelDir()));
  return {};
}

// ---- Specification and run -----------------------------------------------------------------------

training::TrainingSpec TrainingWizardModel::spec() const {
  training::TrainingSpec s = spec_;
  if (resumed_) return s;
  s.model = method_.toStdString();
  s.config = config_.toStdString();
  auto path = [&](Role role, const char* file) -> std::string {
    const QStringList list = sources(role);
    if (list.isEmpty()) return {};
    if (list.size() == 1) return list.front().toStdString();
    return QDir(runDir_).filePath(QLatin1String(file)).toStdString();
  };
  s.healthy = path(Role::Healthy, "healthy.json");
  s.mixed = needsMixedSet() ? path(Role::Mixed, "mixed.json") : std::string();
  s.validation = path(Role::Validation, "validation.json");
  s.test.clear();
  if (!runDir_.isEmpty()) s.out = QDir(runDir_).filePath(QStringLiteral("model")).toStdString();
  // The wizard's default threshold: the Youden index when abnormal validation images exist,
  // else a percentile of the healthy scores (the Finish page can change it).
  s.thresholdMethod = "auto";
  s.healthyPercentile = healthyPercentile_;
  return s;
}

QString TrainingWizardModel::prepareRun() {
  if (resumed_) return specPath();
  const QString stamp = QDateTime::currentDateTimeUtc().toString(QStringLiteral("yyyyMMdd-HHmmss"));
  const QString base = QDir(qs(inference::trainingWorkDir())).filePath(qs(spec_.name.empty() ? "model" : spec_.name) + QLatin1Char('-') + stamp);
  QString dir = base;
  for (int n = 2; QFileInfo::exists(dir); ++n) dir = base + QLatin1Char('-') + QString::number(n);
  std::error_code ec;
  fs::create_directories(dir.toStdString(), ec);
  if (ec) throw FileError(dir.toStdString(), "cannot create the training folder: " + ec.message());
  runDir_ = dir;
  auto manifest = [&](Role role, const char* file) {
    const QStringList list = sources(role);
    if (list.size() < 2) return;
    std::vector<std::string> paths;
    for (const auto& s : list) paths.push_back(s.toStdString());
    training::writeManifest(QDir(runDir_).filePath(QLatin1String(file)).toStdString(),
                            training::combineDataSets(paths, training::splitFor(role), training::defaultLabelFor(role)));
  };
  manifest(Role::Healthy, "healthy.json");
  if (needsMixedSet()) manifest(Role::Mixed, "mixed.json");
  manifest(Role::Validation, "validation.json");
  spec_ = spec();
  writeFileAtomically(specPath().toStdString(), spec_.toJson().dump(2) + "\n");
  resumed_ = false;
  return specPath();
}

void TrainingWizardModel::setResumed(const training::CheckpointSummary& run) {
  spec_ = run.spec;
  method_ = qs(run.spec.model);
  config_ = qs(run.spec.config);
  const auto kind = models::modelKindFromString(run.spec.model);
  auto model = models::createModel(kind, run.spec.config, run.spec.overrides);
  input_ = model->input();
  stages_ = model->stages();
  configValues_ = model->config();
  runDir_ = QFileInfo(qs(run.checkpoint)).absolutePath();
  resumed_ = true;
}

QString TrainingWizardModel::specPath() const { return runDir_.isEmpty() ? QString() : QDir(runDir_).filePath(QStringLiteral("spec.json")); }

QString TrainingWizardModel::lossLogPath() const {
  return runDir_.isEmpty() ? QString() : QDir(runDir_).filePath(QStringLiteral("losses.csv"));
}

QString TrainingWizardModel::commandLine() const {
  QString cli = QDir(QCoreApplication::applicationDirPath()).filePath(QStringLiteral("anomalylens-cli"));
  if (!QFileInfo(cli).isExecutable()) cli = QStringLiteral("anomalylens-cli");
  auto quote = [](QString s) { return QLatin1Char('\'') + s.replace(QLatin1Char('\''), QStringLiteral("'\\''")) + QLatin1Char('\''); };
  return quote(cli) + QStringLiteral(" train --spec ") + quote(specPath()) + QStringLiteral(" --resume --loss-log ") +
         quote(lossLogPath());
}

// ---- Finish ------------------------------------------------------------------------------------

void TrainingWizardModel::setOutcome(const training::TrainingOutcome& outcome) {
  outcome_ = outcome;
  thresholdMethod_ = hasAbnormalValidation() ? "youden" : "healthy-percentile";
  std::vector<double> scores;
  std::vector<int> labels;
  for (const auto& im : outcome_.validation.images) {
    scores.push_back(im.score);
    labels.push_back(im.label);
  }
  roc_->setData(scores, labels, std::nullopt);
  recomputeThreshold();
}

bool TrainingWizardModel::hasAbnormalValidation() const {
  const auto labels = outcome_.validation.labels();
  return std::count(labels.begin(), labels.end(), 1) > 0 && std::count(labels.begin(), labels.end(), 0) > 0;
}

void TrainingWizardModel::setThresholdMethod(const QString& method) {
  thresholdMethod_ = method.toStdString();
  recomputeThreshold();
}

void TrainingWizardModel::setHealthyPercentile(double percentile) {
  healthyPercentile_ = std::clamp(percentile, 50.0, 100.0);
  if (thresholdMethod_ == "healthy-percentile") recomputeThreshold();
}

double TrainingWizardModel::threshold() const {
  if (thresholdMethod_ == "manual") return manualThreshold_;
  if (outcome_.validation.images.empty()) return 0;
  try {
    return training::chooseThreshold(outcome_.validation, thresholdMethod_, 0.9, healthyPercentile_).value;
  } catch (const Error&) {
    return 0;
  }
}

void TrainingWizardModel::recomputeThreshold() {
  if (thresholdMethod_ == "youden" && !hasAbnormalValidation()) thresholdMethod_ = "healthy-percentile";
  const double t = threshold();
  if (roc_->threshold() != t) roc_->setThreshold(t);
  emit thresholdChanged(t);
}

QString TrainingWizardModel::finishText() const {
  if (outcome_.validation.images.empty()) return {};
  const json m = training::metricsJson(outcome_.validation, threshold(), std::nullopt, false);
  const json& at = m["at_threshold"];
  static const std::map<std::string, QString> names = {{"healthy-percentile", tr("healthy percentile")},
                                                       {"youden", tr("Youden index")},
                                                       {"manual", tr("set on the histogram")}};
  QString s = tr("Threshold %1 (%2). ").arg(threshold(), 0, 'g', 4).arg(names.count(thresholdMethod_) ? names.at(thresholdMethod_) : thresholdMethod());
  if (m.contains("image_auc")) s += tr("Validation AUC %1. ").arg(m["image_auc"].get<double>(), 0, 'f', 3);
  const auto labels = outcome_.validation.labels();
  if (std::count(labels.begin(), labels.end(), 1) > 0)
    s += tr("At this threshold: sensitivity %1, specificity %2 on the validation images.")
             .arg(at["sensitivity"].get<double>(), 0, 'f', 2)
             .arg(at["specificity"].get<double>(), 0, 'f', 2);
  else
    s += tr("At this threshold %1% of the healthy validation images pass as healthy.").arg(100.0 * at["specificity"].get<double>(), 0, 'f', 1);
  return s;
}

QString TrainingWizardModel::save() {
  if (!outcome_.finished) throw Error("wizard", "the training has not finished");
  const QString problem = settingsProblem();
  if (!problem.isEmpty()) throw Error("wizard", problem.toStdString());
  training::Threshold t;
  if (thresholdMethod_ == "manual") t = {manualThreshold_, "chosen on the validation ROC"};
  else t = training::chooseThreshold(outcome_.validation, thresholdMethod_, 0.9, healthyPercentile_);
  const std::string dir = inference::userModelDir();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw FileError(dir, "cannot create the models folder: " + ec.message());
  const std::string out = (fs::path(dir) / spec_.name).string();
  training::saveWithThreshold(outcome_.modelPath, out, outcome_.validation, t, spec_.name, spec_.description);
  // The losses stay with the model, for the researcher's plots.
  if (!outcome_.history.empty()) training::writeLossHistory(out + ".losses.csv", outcome_.history);
  discardRun();
  saved_ = true;
  return QString::fromStdString(models::modelCardPath(out));
}

void TrainingWizardModel::discardRun() {
  std::error_code ec;
  if (!runDir_.isEmpty()) fs::remove_all(runDir_.toStdString(), ec);
}

bool TrainingWizardModel::hasUnsavedModel() const { return outcome_.finished && !saved_; }

}  // namespace al::ui
