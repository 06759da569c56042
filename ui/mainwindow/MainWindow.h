#pragma once
// The viewer's main window. Loading runs in a worker thread (QtConcurrent + QFutureWatcher,
// the pattern every long job in ui/ follows); the window stays responsive meanwhile.

#include <QFutureWatcher>
#include <QMainWindow>
#include <QPointer>
#include <QString>
#include <functional>
#include <map>
#include <memory>
#include <optional>

#include "image/Volume.h"
#include "io/DicomSeriesReader.h"
#include "io/oct/HeidelbergVolReader.h"
#include "session/Session.h"

class QAction;
class QStackedWidget;
class QLabel;
class QTimer;

namespace al::ui {

class SliceView;
class SliceViewModel;
class StudyBrowser;
class EnFaceModel;
class AnnotationModel;
class OrthoView;
class OrthoViewModel;
class VolumeRenderView;
class AnnotationsPanel;
class ModelsModel;
class ModelsPanel;
class OverlayModel;
class RocModel;
class RocPanel;
class RecentStudies;
class SliceScrollBar;
class TrainingWizard;
class ExportReportDialog;
class PacsPanel;
class SessionRecovery;
struct ReportInputs;

struct LoadResult {
  std::shared_ptr<const Volume> volume;
  std::shared_ptr<const Volume> fundus;  // OCT: the device's fundus image, when the file has one
  std::vector<OctBScanInfo> bscanLines;  // OCT: each B-scan's line on the fundus
  QString error;  // the user message when loading failed
  QString path;
  QString label;  // what to call it in the title and status bar (a series' number and description)
  QString lesionMask, brainMask;  // what a manifest beside the scan names for it (read in the worker)
  std::map<int, int> imageLabels;  // its image labels (a class folder's B-scan, a manifest's labels)
};

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  SliceViewModel* sliceModel() const { return sliceModel_; }
  StudyBrowser* studyBrowser() const { return studyBrowser_; }
  EnFaceModel* enFaceModel() const { return enFaceModel_; }
  QWidget* enFacePanel() const;
  SliceView* sliceView() const { return sliceView_; }
  ModelsModel* modelsModel() const { return modelsModel_; }
  ModelsPanel* modelsPanel() const { return modelsPanel_; }
  OverlayModel* overlayModel() const { return overlay_; }
  RocModel* rocModel() const { return roc_; }
  RocPanel* rocPanel() const { return rocPanel_; }
  PacsPanel* pacsPanel() const { return pacsPanel_; }
  AnnotationModel* annotationModel() const { return annotations_; }
  OrthoViewModel* orthoModel() const { return ortho_; }
  VolumeRenderView* volumeRenderView() const { return render3d_; }
  TrainingWizard* trainingWizard() const;  // the open wizard, or null
  // "single" (the slice view) or "orthogonal" (three planes and 3D).
  QString layoutName() const;
  void setLayoutName(const QString& name);
  // The reading as it stands (scan, view, heatmap, labels, annotations), and saving it.
  Session currentSession() const;
  // Writes the session atomically; false (with the reason in the status bar and
  // sessionFailed) when it cannot be written.
  bool saveSessionTo(const QString& path);
  // Opens a session: its scan, then its view, annotations and labels; its model runs again and
  // the heatmap settings are restored (sessionRestored once all is back).
  void openSession(const QString& path);
  // The reading's autosave (every minute to a recovery file, removed on a normal close).
  SessionRecovery* sessionRecovery() const { return recovery_; }
  // After a crash or a kill: offers the newest orphaned reading back (Restore or Discard).
  void offerRecovery();
  bool isLoading() const;
  // The path of the scan on screen ("" before one is open).
  QString currentPath() const { return currentPath_; }
  // Runs a model (card name or path) on the open scan; when none is open yet, on the next scan
  // that opens. "" picks the best model that can take the scan. `showTopSlice` goes to the slice
  // with the highest score when the run ends.
  void runModel(const QString& nameOrPath, bool showTopSlice = false);
  // The keyboard shortcuts, as Help > Keyboard shortcuts lists them.
  static QString shortcutsText();
  // The About box's text: version, the LibTorch in use and whether CUDA is usable (or why not).
  static QString aboutText();
  // The demo study's volume: $ANOMALYLENS_DEMO_DIR, the installed share/anomalylens/demo, or
  // the build tree's demo/ folder; empty when none is found.
  static QString demoStudyPath();
  // What a report on the scan on screen would hold: the scan, the heatmap's run and its model
  // card, the annotations and the user's slice marks.
  ReportInputs reportInputs() const;

 public slots:
  // A scan file opens at once; a folder or DICOMDIR goes to the study browser (and opens
  // directly when it holds a single series).
  void openFile(const QString& path);
  void openSeries(const al::DicomSeriesEntry& series);
  void showOpenDialog();
  void showOpenFolderDialog();
  void openDemoStudy();
  // The real MRI demo (a multiple-sclerosis patient of the open-ms set), with the bundled model
  // trained on real brains when `runItsModel` and that model is installed.
  void openDemoMriStudy(bool runItsModel);
  void showAbout();
  // File > Export report...: the dialog over the scan on screen, its model run and annotations.
  void showExportReportDialog();
  // File > Query PACS...: the PACS panel (a dock, hidden until asked for).
  void showPacsPanel();
  // A Parametric Map (e.g. one this viewer exported) over the scan on screen, as its overlay.
  void importParametricMap(const QString& path);
  void showShortcuts();
  void showSaveSessionDialog();
  void showOpenSessionDialog();
  void toggleCine();
  // Labels the current slice for the ROC panel: 1 abnormal, 0 normal, -1 clears the mark.
  void markSlice(int label);
  // Training > New model: the wizard (one at a time; a second call raises it).
  void showTrainingWizard();
  // Training runs stopped or interrupted, found in the training folder: offered for resuming
  // (at start-up, without blocking; from the Training menu).
  void offerInterruptedTraining(bool quiet = false);
  void resumeTraining(const QString& checkpoint);

 signals:
  void volumeLoaded(const QString& path);
  void loadFailed(const QString& message);
  void analysisFinished(const QString& model);
  void analysisFailed(const QString& message);
  void sessionRestored(const QString& path);
  void sessionFailed(const QString& message);
  void trainingWizardOpened(al::ui::TrainingWizard* wizard);
  void exportDialogOpened(al::ui::ExportReportDialog* dialog);
  void interruptedTrainingFound(int count);
  // A recovery file of a viewer that did not close normally was found and offered.
  void recoveryOffered(const QString& scan);

 protected:
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dropEvent(QDropEvent* event) override;
  void closeEvent(QCloseEvent* event) override;

 private:
  void buildMenus();
  void startLoad(const QString& label, std::function<LoadResult()> job);
  void onLoadFinished();
  void applyWindowPresets(const Volume& volume);
  void applySessionView(const Session& s);
  void applySessionOverlay();

  SliceViewModel* sliceModel_;
  SliceView* sliceView_;
  StudyBrowser* studyBrowser_;
  EnFaceModel* enFaceModel_;
  class QDockWidget* enFaceDock_;
  bool openSingleSeries_ = false;
  QLabel* probeLabel_;
  OverlayModel* overlay_;
  ModelsModel* modelsModel_;
  RocModel* roc_;
  ModelsPanel* modelsPanel_;
  RocPanel* rocPanel_;
  SliceScrollBar* scrollBar_;
  QTimer* cine_;
  class QMenu* presetsMenu_ = nullptr;
  QAction* heatmapAction_ = nullptr;
  QAction* compareAction_ = nullptr;
  QString currentPath_;
  class QDockWidget* studiesDock_ = nullptr;
  PacsPanel* pacsPanel_ = nullptr;
  class QDockWidget* pacsDock_ = nullptr;
  bool jumpToTopSlice_ = false;
  std::optional<QString> pendingModel_;
  AnnotationModel* annotations_;
  OrthoViewModel* ortho_;
  VolumeRenderView* render3d_;
  OrthoView* orthoView_;
  QStackedWidget* layouts_;
  std::unique_ptr<RecentStudies> recent_;
  AnnotationsPanel* annotationsPanel_;
  QString currentLabel_;
  QString sessionPath_;
  SessionRecovery* recovery_ = nullptr;
  std::optional<Session> pendingSession_;   // opened, waiting for its scan
  std::optional<Session> pendingOverlay_;   // waiting for its model run
  std::map<int, int> orphanLabels_;         // a session's labels while no model has run
  QFutureWatcher<LoadResult> loadWatcher_;
  QString lastFolder_;
  QPointer<TrainingWizard> wizard_;
};

}  // namespace al::ui
