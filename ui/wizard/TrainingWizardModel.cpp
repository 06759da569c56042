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

#include <nlohmann/json.hpp>

#include "errors/Error.h"
#include "inference/ModelCatalog.h"
#include "io/AtomicFile.h"
#include "io/mri/MriContrasts.h"
#include "models/ModelDescription.h"
#include "models/ModelFile.h"
#include "roc/RocModel.h"
#include "wizard/PlaneImage.h"
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
  QString key;
  QList<PreviewItem> items;
  QString error;
};

namespace {

QString qs(const std::string& s) { return QString::fromStdString(s); }

std::vector<std::string> stdPaths(const QStringList& list) {
  std::vector<std::string> out;
  for (const auto& s : list) out.push_back(s.toStdString());
  return out;
}

// Marks a run folder the wizard made (and may remove whole).
constexpr const char* kRunMarker = ".anomalylens-wizard-run";

}  // namespace

TrainingWizardModel::TrainingWizardModel(QObject* parent) : QObject(parent), roc_(new RocModel(this)) {
  connect(&dataWatcher_, &QFutureWatcher<std::shared_ptr<DataResult>>::finished, this, &TrainingWizardModel::onDataChecked);
  connect(&previewWatcher_, &QFutureWatcher<std::shared_ptr<PreviewResult>>::finished, this,
          &TrainingWizardModel::onPreviewReady);
  connect(&saveWatcher_, &QFutureWatcher<std::pair<QString, QString>>::finished, this, &TrainingWizardModel::onSaved);
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
  *cancel_ = true;
  dataWatcher_.waitForFinished();
  saveWatcher_.waitForFinished();
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
  const models::ModelDescription d = models::describeModel(kind, config_.toStdString());
  input_ = d.input;
  stages_ = d.stages;
  configValues_ = d.config;
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

// As the engine will prepare the data: the modality comes from the healthy data (an MRI set
// for a GAN is one MR contrast, DICOM CR/DX a radiograph), not from the method alone.
training::Pipeline TrainingWizardModel::pipeline() const {
  const std::string key = spec_.healthy + "\n" + spec_.healthyClass + "\n" + spec_.preprocessing.dump() + "\n" +
                          std::to_string(input_.channels) + input_.modality + std::to_string(input_.height);
  if (!pipelineCache_ || key != pipelineKey_) {
    pipelineCache_ = training::trainingPipeline(spec_, input_);
    pipelineKey_ = key;
  }
  return *pipelineCache_;
}

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
  // Named by the series and its files: the same series again reuses its folder, and a folder
  // a source already names is never changed.
  auto linkFolder = [&](const DicomSeriesEntry& s) {
    std::string key = s.seriesInstanceUid;
    for (const auto& f : s.files) key += '|' + f.path;
    char hash[20];
    std::snprintf(hash, sizeof hash, "%016zx", std::hash<std::string>{}(key));
    const fs::path dir = root / (safe(s.seriesInstanceUid.empty() ? s.seriesNumber : s.seriesInstanceUid) + "-" + hash);
    if (fs::is_directory(dir)) return dir;
    const fs::path tmp = dir.string() + ".tmp";
    std::error_code ec;
    fs::remove_all(tmp, ec);
    fs::create_directories(tmp);
    int n = 0;
    for (const auto& f : s.files) {
      char name[32];
      std::snprintf(name, sizeof name, "%05d.dcm", ++n);
      fs::create_symlink(fs::absolute(f.path), tmp / name);
    }
    fs::rename(tmp, dir);
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
      std::string contrasts;
      for (const auto& [name, folder] : c.contrasts) contrasts += name + folder;
      char hash[20];
      std::snprintf(hash, sizeof hash, "%016zx", std::hash<std::string>{}(contrasts));
      const std::string manifest = (root / (safe(uid) + "-" + hash + ".json")).string();
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
  QString key = method_ + QLatin1Char('/') + config_ + QLatin1Char('/') + healthyClass();
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
  auto cancel = cancel_;
  const std::string healthyClass = spec_.healthyClass;
  dataWatcher_.setFuture(QtConcurrent::run([p, wanted, key, cancel, healthyClass] {
    auto result = std::make_shared<DataResult>();
    result->key = key;
    for (const auto& [role, list] : wanted) {
      training::DataReport& r = result->reports[role];
      r.role = role;
      if (list.isEmpty()) {
        r.problems.push_back("no " + training::roleName(role) + " chosen");
        continue;
      }
      try {
        const training::DataSet ds =
            training::combineDataSets(stdPaths(list), training::splitFor(role), training::defaultLabelFor(role), healthyClass);
        training::DataCheckOptions options;
        options.progress = [cancel](int, int) { return !cancel->load(); };
        r = training::checkTrainingData(ds, role, p, options);
      } catch (const models::Cancelled&) {
        return result;  // the wizard is closing
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
    out.push_back({qs(t.id), greyImage(planeOf(t.image, 0), static_cast<int>(s.x), static_cast<int>(s.y), 0.f, 1.f)});
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

QString TrainingWizardModel::previewKey() const {
  return method_ + QLatin1Char('/') + config_ + QLatin1Char('/') + healthyClass() + QLatin1Char('|') +
         sources(Role::Healthy).join(QLatin1Char(';'));
}

void TrainingWizardModel::preparePreview() {
  if (isPreparingPreview()) {
    repreview_ = true;  // what is being prepared may be stale: again once it ends
    return;
  }
  repreview_ = false;
  const training::Pipeline p = pipeline();
  const models::InputSpec in = input_;
  const std::vector<std::string> paths = stdPaths(sources(Role::Healthy));
  const QString key = previewKey();
  auto cancel = cancel_;
  const std::string healthyClass = spec_.healthyClass;
  previewWatcher_.setFuture(QtConcurrent::run([p, in, paths, key, cancel, healthyClass] {
    auto result = std::make_shared<PreviewResult>();
    result->key = key;
    try {
      training::DataSet ds = training::combineDataSets(paths, "train", 0, healthyClass);
      training::keepHealthyImages(ds);  // a class-folder set: its healthy class, as training takes it
      for (std::size_t i = 0; i < ds.cases.size() && result->items.size() < 3 && !cancel->load(); ++i) {
        const training::Prepared prep = p.prepare(ds.cases[i], true);
        const Size3 ps = prep.images.size();
        if (ps.z == 0) continue;
        const std::int64_t k = ps.z / 2;
        PreviewItem item;
        item.id = qs(prep.id);
        // The scan's image as read, at the slice the prepared image came from.
        const Volume& scan = *prep.displayScan;
        const std::int64_t z = std::clamp<std::int64_t>(prep.sliceIndex[static_cast<std::size_t>(k)], 0, scan.size().z - 1);
        const auto raw = planeOf(scan, z);
        const auto [lo, hi] = percentileWindow(raw);
        item.original = greyImage(raw, static_cast<int>(scan.size().x), static_cast<int>(scan.size().y), lo, hi);
        // What the model sees: [-1, 1] for the GANs, z-scores for ADM.
        const auto prepared = planeOf(prep.images, k);
        const float plo = in.zScored ? -3.f : -1.f, phi = in.zScored ? 3.f : 1.f;
        QImage img = greyImage(prepared, static_cast<int>(ps.x), static_cast<int>(ps.y), plo, phi);
        // The valid region's edge (retina band / brain) in green.
        const auto valid = planeOf(prep.valid, k);
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
  if (repreview_ || !r || r->key != previewKey()) {
    repreview_ = false;
    preparePreview();
    return;
  }
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
  const models::ModelKind kind = models::modelKindFromString(method_.toStdString());
  const json paper = models::describeModel(kind, "paper").config, lite = models::describeModel(kind, "lite").config;
  const std::string paperName = models::methodInfo(kind).paper;
  for (const auto& [key, value] : configValues_.items()) {
    HyperParameter h;
    h.key = qs(key);
    json v = spec_.overrides.contains(key) ? spec_.overrides[key] : value;
    h.value = qs(v.dump());
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
    (void)models::describeModel(models::modelKindFromString(method_.toStdString()), config_.toStdString(), overrides);
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
  writeFileAtomically((fs::path(dir.toStdString()) / kRunMarker).string(), "made by the training wizard\n");
  auto manifest = [&](Role role, const char* file) {
    const QStringList list = sources(role);
    if (list.size() < 2) return;
    training::writeManifest(QDir(runDir_).filePath(QLatin1String(file)).toStdString(),
                            training::combineDataSets(stdPaths(list), training::splitFor(role), training::defaultLabelFor(role),
                                                      spec_.healthyClass));
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
  const models::ModelDescription d = models::describeModel(kind, run.spec.config, run.spec.overrides);
  input_ = d.input;
  stages_ = d.stages;
  configValues_ = d.config;
  runDir_ = QFileInfo(qs(run.checkpoint)).absolutePath();
  resumed_ = true;
  outcome_ = {};
  saved_ = false;
  thresholdMethod_ = "healthy-percentile";
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
  if (method == QLatin1String("manual") && thresholdMethod_ != "manual") manualThreshold_ = threshold();  // kept until dragged
  thresholdMethod_ = method.toStdString();
  recomputeThreshold();
}

void TrainingWizardModel::setHealthyClass(const QString& name) {
  const QString trimmed = name.trimmed();
  const std::string wanted = trimmed.isEmpty() ? std::string(training::kDefaultHealthyClass) : trimmed.toStdString();
  if (wanted == spec_.healthyClass) return;
  spec_.healthyClass = wanted;
  emit sourcesChanged();  // the labels of class-folder data change: check them again
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

// What Save needs, copied, so that it can run in a worker.
struct TrainingWizardModel::SaveJob {
  std::string trained, out, name, description;
  training::Scored validation;
  training::Threshold threshold;
  nlohmann::json history;
};

TrainingWizardModel::SaveJob TrainingWizardModel::saveJob() const {
  if (!outcome_.finished) throw Error("wizard", "the training has not finished");
  const QString problem = settingsProblem();
  if (!problem.isEmpty()) throw Error("wizard", problem.toStdString());
  SaveJob job;
  if (thresholdMethod_ == "manual") job.threshold = {manualThreshold_, "chosen on the validation ROC"};
  else job.threshold = training::chooseThreshold(outcome_.validation, thresholdMethod_, 0.9, healthyPercentile_);
  job.trained = outcome_.modelPath;
  job.out = (fs::path(inference::userModelDir()) / spec_.name).string();
  job.name = spec_.name;
  job.description = spec_.description;
  job.validation = outcome_.validation;
  job.history = outcome_.history;
  return job;
}

// Returns the card path; throws al::Error. The model and card are written first (temporary
// files and rename); the loss log beside them is a convenience and never fails the save.
QString TrainingWizardModel::runSave(const SaveJob& job) {
  const std::string dir = fs::path(job.out).parent_path().string();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw FileError(dir, "cannot create the models folder: " + ec.message());
  training::saveWithThreshold(job.trained, job.out, job.validation, job.threshold, job.name, job.description);
  try {
    if (!job.history.empty()) training::writeLossHistory(job.out + ".losses.csv", job.history);
  } catch (const std::exception&) {
  }
  return QString::fromStdString(models::modelCardPath(job.out));
}

void TrainingWizardModel::savedModel() {
  saved_ = true;
  // The trained copy in the run's folder is now in the models folder; the specification and
  // the manifests stay, since the card's specification points at them.
  std::error_code ec;
  fs::remove(models::modelCardPath(outcome_.modelPath), ec);
  fs::remove(fs::path(models::modelCardPath(outcome_.modelPath)).replace_extension(".safetensors"), ec);
}

QString TrainingWizardModel::save() {
  const QString card = runSave(saveJob());
  savedModel();
  return card;
}

void TrainingWizardModel::saveInBackground() {
  if (saveWatcher_.isRunning()) return;
  SaveJob job;
  try {
    job = saveJob();
  } catch (const std::exception& e) {
    emit saveFailed(QString::fromUtf8(e.what()));
    return;
  }
  saveWatcher_.setFuture(QtConcurrent::run([job]() -> std::pair<QString, QString> {
    try {
      return {runSave(job), QString()};
    } catch (const std::exception& e) {
      return {QString(), QString::fromUtf8(e.what())};
    }
  }));
}

void TrainingWizardModel::onSaved() {
  const auto [card, error] = saveWatcher_.result();
  if (!error.isEmpty()) {
    emit saveFailed(error);
    return;
  }
  savedModel();
  emit saved(card);
}

void TrainingWizardModel::discardRun() {
  std::error_code ec;
  if (runDir_.isEmpty()) return;
  // Only a folder the wizard made is removed whole; a run the command line left elsewhere
  // loses its checkpoint only.
  if (fs::exists(fs::path(runDir_.toStdString()) / kRunMarker)) fs::remove_all(runDir_.toStdString(), ec);
  else if (!spec_.out.empty()) training::discardCheckpoint(training::checkpointPathFor(spec_.out));
}

bool TrainingWizardModel::hasUnsavedModel() const { return outcome_.finished && !saved_; }

}  // namespace al::ui
