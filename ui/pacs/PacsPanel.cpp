#include "pacs/PacsPanel.h"

#include <QComboBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QRegularExpressionValidator>
#include <QStandardItemModel>
#include <QTreeView>
#include <QVBoxLayout>

#include "pacs/PacsNodes.h"
#include "pacs/PacsQueryModel.h"

namespace al::ui {

namespace {

QLineEdit* dateEdit(const QString& objectName, const QString& placeholder, QWidget* parent) {
  auto* e = new QLineEdit(parent);
  e->setObjectName(objectName);
  e->setPlaceholderText(placeholder);
  e->setValidator(new QRegularExpressionValidator(QRegularExpression(QStringLiteral("[0-9-]{0,10}")), e));
  e->setToolTip(QObject::tr("YYYYMMDD; empty matches any date"));
  return e;
}

}  // namespace

PacsPanel::PacsPanel(QWidget* parent) : QWidget(parent), model_(new PacsQueryModel(this)) {
  setObjectName(QStringLiteral("pacsPanel"));
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);

  auto* nodeRow = new QHBoxLayout;
  node_ = new QComboBox;
  node_->setObjectName(QStringLiteral("pacsNode"));
  node_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
  node_->setMinimumContentsLength(12);
  auto* nodes = new QPushButton(tr("Nodes..."));
  nodes->setObjectName(QStringLiteral("pacsNodes"));
  nodeRow->addWidget(node_, 1);
  nodeRow->addWidget(nodes);
  layout->addLayout(nodeRow);

  auto* form = new QFormLayout;
  form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
  patientName_ = new QLineEdit;
  patientName_->setObjectName(QStringLiteral("pacsPatientName"));
  patientName_->setPlaceholderText(tr("e.g. DOE^* (wildcards * and ?)"));
  patientId_ = new QLineEdit;
  patientId_->setObjectName(QStringLiteral("pacsPatientId"));
  dateFrom_ = dateEdit(QStringLiteral("pacsDateFrom"), tr("from (any)"), this);
  dateTo_ = dateEdit(QStringLiteral("pacsDateTo"), tr("to (any)"), this);
  auto* dates = new QHBoxLayout;
  dates->addWidget(dateFrom_);
  dates->addWidget(new QLabel(QStringLiteral("–")));
  dates->addWidget(dateTo_);
  modality_ = new QComboBox;
  modality_->setObjectName(QStringLiteral("pacsModality"));
  modality_->setEditable(true);
  modality_->addItems({QString(), QStringLiteral("MR"), QStringLiteral("CT"), QStringLiteral("OPT"), QStringLiteral("OP"),
                       QStringLiteral("US"), QStringLiteral("PT"), QStringLiteral("CR"), QStringLiteral("DX")});
  modality_->setToolTip(tr("Matched against the modalities in the study; empty matches any"));
  form->addRow(tr("Patient name"), patientName_);
  form->addRow(tr("Patient ID"), patientId_);
  form->addRow(tr("Study date"), dates);
  form->addRow(tr("Modality"), modality_);
  layout->addLayout(form);
  find_ = new QPushButton(tr("Find"));
  find_->setObjectName(QStringLiteral("pacsFind"));
  layout->addWidget(find_);

  view_ = new QTreeView;
  view_->setObjectName(QStringLiteral("pacsResults"));
  view_->setModel(model_->results());
  view_->setSelectionMode(QAbstractItemView::SingleSelection);
  view_->setSelectionBehavior(QAbstractItemView::SelectRows);
  view_->setUniformRowHeights(true);
  view_->setAllColumnsShowFocus(true);
  view_->header()->setStretchLastSection(false);
  view_->header()->setSectionResizeMode(QHeaderView::Interactive);
  layout->addWidget(view_, 1);

  auto* retrieveRow = new QHBoxLayout;
  retrieve_ = new QPushButton(tr("Retrieve"));
  retrieve_->setObjectName(QStringLiteral("pacsRetrieve"));
  retrieve_->setToolTip(tr("Copies the selected study or series from the PACS (C-GET) and opens it in the study browser"));
  cancel_ = new QPushButton(tr("Cancel"));
  cancel_->setObjectName(QStringLiteral("pacsCancel"));
  retrieveRow->addWidget(retrieve_, 1);
  retrieveRow->addWidget(cancel_);
  layout->addLayout(retrieveRow);
  progress_ = new QProgressBar;
  progress_->setObjectName(QStringLiteral("pacsProgress"));
  progress_->setVisible(false);
  layout->addWidget(progress_);
  status_ = new QLabel;
  status_->setObjectName(QStringLiteral("pacsStatus"));
  status_->setWordWrap(true);
  status_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  layout->addWidget(status_);

  connect(nodes, &QPushButton::clicked, this, &PacsPanel::showNodesDialog);
  connect(node_, &QComboBox::currentIndexChanged, model_, &PacsQueryModel::setCurrentNode);
  connect(find_, &QPushButton::clicked, this, &PacsPanel::find);
  for (QLineEdit* e : {patientName_, patientId_, dateFrom_, dateTo_}) connect(e, &QLineEdit::returnPressed, this, &PacsPanel::find);
  connect(retrieve_, &QPushButton::clicked, this, &PacsPanel::retrieveSelected);
  connect(cancel_, &QPushButton::clicked, this, &PacsPanel::cancelRetrieve);
  connect(view_, &QTreeView::expanded, model_, &PacsQueryModel::fetchSeries);
  connect(view_->selectionModel(), &QItemSelectionModel::selectionChanged, this, &PacsPanel::updateButtons);
  connect(model_, &PacsQueryModel::nodesChanged, this, &PacsPanel::refreshNodes);
  connect(model_, &PacsQueryModel::busyChanged, this, &PacsPanel::updateButtons);
  connect(model_, &PacsQueryModel::findFinished, this, [this] {
    for (int c = 0; c < PacsQueryModel::ColumnCount; ++c) view_->resizeColumnToContents(c);
  });
  connect(model_, &PacsQueryModel::statusChanged, this, [this](const QString& message, bool error) {
    status_->setStyleSheet(error ? QStringLiteral("color: #b00020;") : QString());
    status_->setText(message);
  });
  connect(model_, &PacsQueryModel::retrieveProgress, this, [this](int done, int total, const QString&) {
    if (total > 0) {
      progress_->setRange(0, total);
      progress_->setValue(done);
    } else {
      progress_->setRange(0, 0);
    }
  });
  connect(model_, &PacsQueryModel::retrieveFinished, this, [this](const PacsQueryModel::RetrieveOutcome& out) {
    if (!out.result.cancelled && !out.result.files.empty()) emit retrieved(out.folder);
  });
  refreshNodes();
  updateButtons();
}

PacsPanel::~PacsPanel() = default;

void PacsPanel::refreshNodes() {
  const QSignalBlocker block(node_);
  node_->clear();
  for (const auto& n : model_->nodes()) node_->addItem(pacsNodeLabel(n));
  if (model_->nodes().isEmpty()) node_->setPlaceholderText(tr("no node: add one with Nodes..."));
  node_->setCurrentIndex(model_->currentNodeIndex());
  updateButtons();
}

void PacsPanel::updateButtons() {
  const bool haveNode = model_->currentNodeIndex() >= 0;
  find_->setEnabled(haveNode);
  find_->setText(model_->isFinding() ? tr("Searching...") : tr("Find"));
  const QModelIndex selected = view_->selectionModel()->currentIndex();
  const int level = selected.isValid() ? selected.siblingAtColumn(0).data(PacsQueryModel::kLevelRole).toInt() : 0;
  const bool retrievable = level == PacsQueryModel::StudyLevel || level == PacsQueryModel::SeriesLevel;
  retrieve_->setEnabled(haveNode && retrievable && !model_->isRetrieving());
  retrieve_->setText(level == PacsQueryModel::SeriesLevel ? tr("Retrieve series") : tr("Retrieve study"));
  cancel_->setEnabled(model_->isRetrieving());
  progress_->setVisible(model_->isRetrieving());
}

pacs::QueryKeys PacsPanel::keys() const {
  const auto date = [](const QLineEdit* e) {
    QString d = e->text().trimmed();
    d.remove(QLatin1Char('-'));
    return d.toStdString();
  };
  pacs::QueryKeys k;
  k.patientName = patientName_->text().trimmed().toStdString();
  k.patientId = patientId_->text().trimmed().toStdString();
  k.studyDateFrom = date(dateFrom_);
  k.studyDateTo = date(dateTo_);
  k.modality = modality_->currentText().trimmed().toUpper().toStdString();
  return k;
}

QString PacsPanel::statusText() const { return status_->text(); }

void PacsPanel::find() { model_->find(keys()); }

void PacsPanel::retrieveSelected() {
  if (model_->retrieve(view_->selectionModel()->currentIndex())) {
    progress_->setRange(0, 0);  // busy until the PACS says how many
    updateButtons();
  }
}

void PacsPanel::cancelRetrieve() {
  model_->cancelRetrieve();
  if (model_->isRetrieving()) status_->setText(tr("Cancelling..."));
}

void PacsPanel::showNodesDialog() {
  if (nodesDialog_) {
    nodesDialog_->raise();
    return;
  }
  nodesDialog_ = new PacsNodesDialog(model_->nodes(), this);
  nodesDialog_->setAttribute(Qt::WA_DeleteOnClose);
  connect(nodesDialog_, &QDialog::accepted, this, [this] { model_->setNodes(nodesDialog_->nodes()); });
  connect(nodesDialog_, &QObject::destroyed, this, [this] { nodesDialog_ = nullptr; });
  nodesDialog_->open();  // not exec(): retrieves and queries go on meanwhile
}

}  // namespace al::ui
