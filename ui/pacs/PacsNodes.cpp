#include "pacs/PacsNodes.h"

#include <QDialogButtonBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>
#include <memory>
#include <set>

#include "errors/Error.h"

namespace al::ui {

namespace {

std::unique_ptr<QSettings> openSettings(const QString& settingsFile) {
  QString file = settingsFile;
  if (file.isEmpty()) file = qEnvironmentVariable("ANOMALYLENS_SETTINGS");
  return file.isEmpty() ? std::make_unique<QSettings>(QStringLiteral("AnomalyLens"), QStringLiteral("AnomalyLens"))
                        : std::make_unique<QSettings>(file, QSettings::IniFormat);
}

constexpr int kMaxTimeoutSeconds = 3600;

}  // namespace

QString validatePacsNode(const ConfiguredPacsNode& n) {
  if (n.name.trimmed().isEmpty()) return QObject::tr("the node has no name");
  // parseNode's rules for the called side; the same rules for our own AE title.
  const std::string spec = n.node.aeTitle + "@" + n.node.host + ":" + std::to_string(n.node.port);
  try {
    pacs::parseNode(spec);
  } catch (const Error& e) {
    return QString::fromStdString(e.reason());
  }
  try {
    pacs::parseNode(n.node.callingAeTitle + "@localhost");
  } catch (const Error& e) {
    return QString::fromStdString(e.reason()).replace(QStringLiteral("called AE title"), QStringLiteral("calling AE title"));
  }
  if (n.node.timeoutSeconds < 1 || n.node.timeoutSeconds > kMaxTimeoutSeconds)
    return QObject::tr("timeout %1 s is not 1 to %2 s").arg(n.node.timeoutSeconds).arg(kMaxTimeoutSeconds);
  return {};
}

QString pacsNodeLabel(const ConfiguredPacsNode& n) {
  return QStringLiteral("%1 (%2)").arg(n.name, QString::fromStdString(pacs::toString(n.node)));
}

QList<ConfiguredPacsNode> loadPacsNodes(const QString& settingsFile) {
  auto settings = openSettings(settingsFile);
  QList<ConfiguredPacsNode> out;
  settings->beginGroup(QStringLiteral("pacs"));
  const int count = settings->beginReadArray(QStringLiteral("nodes"));
  for (int i = 0; i < count; ++i) {
    settings->setArrayIndex(i);
    ConfiguredPacsNode n;
    n.name = settings->value(QStringLiteral("name")).toString();
    n.node.aeTitle = settings->value(QStringLiteral("aeTitle")).toString().toStdString();
    n.node.host = settings->value(QStringLiteral("host")).toString().toStdString();
    n.node.port = settings->value(QStringLiteral("port"), 104).toInt();
    n.node.callingAeTitle = settings->value(QStringLiteral("callingAeTitle"), QStringLiteral("ANOMALYLENS")).toString().toStdString();
    n.node.timeoutSeconds = settings->value(QStringLiteral("timeout"), 30).toInt();
    // A hand-edited settings file must not put a node the client refuses into the lists.
    if (validatePacsNode(n).isEmpty()) out << n;
  }
  settings->endArray();
  settings->endGroup();
  return out;
}

void savePacsNodes(const QList<ConfiguredPacsNode>& nodes, const QString& settingsFile) {
  auto settings = openSettings(settingsFile);
  settings->beginGroup(QStringLiteral("pacs"));
  settings->remove(QStringLiteral("nodes"));
  settings->beginWriteArray(QStringLiteral("nodes"), static_cast<int>(nodes.size()));
  for (int i = 0; i < nodes.size(); ++i) {
    settings->setArrayIndex(i);
    const auto& n = nodes[i];
    settings->setValue(QStringLiteral("name"), n.name);
    settings->setValue(QStringLiteral("aeTitle"), QString::fromStdString(n.node.aeTitle));
    settings->setValue(QStringLiteral("host"), QString::fromStdString(n.node.host));
    settings->setValue(QStringLiteral("port"), n.node.port);
    settings->setValue(QStringLiteral("callingAeTitle"), QString::fromStdString(n.node.callingAeTitle));
    settings->setValue(QStringLiteral("timeout"), n.node.timeoutSeconds);
  }
  settings->endArray();
  settings->endGroup();
  settings->sync();
}

// ---- PacsNodesDialog -----------------------------------------------------------------------

PacsNodesDialog::PacsNodesDialog(QList<ConfiguredPacsNode> nodes, QWidget* parent) : QDialog(parent), nodes_(std::move(nodes)) {
  setWindowTitle(tr("PACS nodes"));
  setObjectName(QStringLiteral("pacsNodesDialog"));
  auto* layout = new QVBoxLayout(this);
  auto* columns = new QHBoxLayout;
  auto* left = new QVBoxLayout;
  list_ = new QListWidget;
  list_->setObjectName(QStringLiteral("nodeList"));
  left->addWidget(list_, 1);
  auto* add = new QPushButton(tr("Add"));
  add->setObjectName(QStringLiteral("addNode"));
  remove_ = new QPushButton(tr("Remove"));
  remove_->setObjectName(QStringLiteral("removeNode"));
  auto* listButtons = new QHBoxLayout;
  listButtons->addWidget(add);
  listButtons->addWidget(remove_);
  left->addLayout(listButtons);
  columns->addLayout(left, 1);

  auto* form = new QFormLayout;
  name_ = new QLineEdit;
  name_->setObjectName(QStringLiteral("nodeName"));
  aeTitle_ = new QLineEdit;
  aeTitle_->setObjectName(QStringLiteral("nodeAeTitle"));
  aeTitle_->setMaxLength(16);
  host_ = new QLineEdit;
  host_->setObjectName(QStringLiteral("nodeHost"));
  host_->setPlaceholderText(tr("host name or IPv4 address"));
  port_ = new QSpinBox;
  port_->setObjectName(QStringLiteral("nodePort"));
  port_->setRange(1, 65535);
  callingAeTitle_ = new QLineEdit;
  callingAeTitle_->setObjectName(QStringLiteral("nodeCallingAeTitle"));
  callingAeTitle_->setMaxLength(16);
  callingAeTitle_->setToolTip(tr("Our own AE title: the PACS has to know it if it checks who calls"));
  timeout_ = new QSpinBox;
  timeout_->setObjectName(QStringLiteral("nodeTimeout"));
  timeout_->setRange(1, kMaxTimeoutSeconds);
  timeout_->setSuffix(tr(" s"));
  form->addRow(tr("Name"), name_);
  form->addRow(tr("AE title"), aeTitle_);
  form->addRow(tr("Host"), host_);
  form->addRow(tr("Port"), port_);
  form->addRow(tr("Calling AE title"), callingAeTitle_);
  form->addRow(tr("Timeout"), timeout_);
  test_ = new QPushButton(tr("Test (C-ECHO)"));
  test_->setObjectName(QStringLiteral("testNode"));
  form->addRow(QString(), test_);
  columns->addLayout(form, 2);
  layout->addLayout(columns, 1);

  status_ = new QLabel;
  status_->setObjectName(QStringLiteral("nodeStatus"));
  status_->setWordWrap(true);
  status_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  layout->addWidget(status_);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
  layout->addWidget(buttons);
  connect(buttons, &QDialogButtonBox::accepted, this, &PacsNodesDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, this, &PacsNodesDialog::reject);
  connect(add, &QPushButton::clicked, this, &PacsNodesDialog::addNode);
  connect(remove_, &QPushButton::clicked, this, &PacsNodesDialog::removeSelected);
  connect(test_, &QPushButton::clicked, this, &PacsNodesDialog::testSelected);
  connect(list_, &QListWidget::currentRowChanged, this, &PacsNodesDialog::select);
  for (QLineEdit* e : {name_, aeTitle_, host_, callingAeTitle_}) connect(e, &QLineEdit::textEdited, this, &PacsNodesDialog::formEdited);
  for (QSpinBox* s : {port_, timeout_}) connect(s, &QSpinBox::valueChanged, this, &PacsNodesDialog::formEdited);
  connect(&echo_, &QFutureWatcher<QString>::finished, this, [this] {
    const QString error = echo_.result();
    test_->setEnabled(current_ >= 0);
    status_->setText(error.isEmpty() ? tr("OK: the node answered the C-ECHO.") : error);
    emit echoFinished(error.isEmpty(), status_->text());
  });
  refreshList();
  select(nodes_.isEmpty() ? -1 : 0);
  resize(560, 320);
}

// A running C-ECHO copies its node and touches nothing here; it ends within the node's timeout.
PacsNodesDialog::~PacsNodesDialog() = default;

void PacsNodesDialog::refreshList() {
  const QSignalBlocker block(list_);
  list_->clear();
  for (const auto& n : nodes_) list_->addItem(pacsNodeLabel(n));
  list_->setCurrentRow(current_);
}

void PacsNodesDialog::select(int row) {
  current_ = row >= 0 && row < nodes_.size() ? row : -1;
  const bool have = current_ >= 0;
  for (QWidget* w : std::initializer_list<QWidget*>{name_, aeTitle_, host_, port_, callingAeTitle_, timeout_, remove_}) w->setEnabled(have);
  test_->setEnabled(have && !echo_.isRunning());
  loading_ = true;
  const ConfiguredPacsNode n = have ? nodes_[current_] : ConfiguredPacsNode{};
  name_->setText(n.name);
  aeTitle_->setText(QString::fromStdString(n.node.aeTitle));
  host_->setText(QString::fromStdString(n.node.host));
  port_->setValue(n.node.port);
  callingAeTitle_->setText(QString::fromStdString(n.node.callingAeTitle));
  timeout_->setValue(n.node.timeoutSeconds);
  loading_ = false;
  if (list_->currentRow() != current_) {
    const QSignalBlocker block(list_);
    list_->setCurrentRow(current_);
  }
  status_->setText(have ? validatePacsNode(n) : tr("No node yet: Add one."));
}

void PacsNodesDialog::formEdited() {
  if (loading_ || current_ < 0) return;
  ConfiguredPacsNode& n = nodes_[current_];
  n.name = name_->text().trimmed();
  n.node.aeTitle = aeTitle_->text().trimmed().toStdString();
  n.node.host = host_->text().trimmed().toStdString();
  n.node.port = port_->value();
  n.node.callingAeTitle = callingAeTitle_->text().trimmed().toStdString();
  n.node.timeoutSeconds = timeout_->value();
  if (QListWidgetItem* item = list_->item(current_)) item->setText(pacsNodeLabel(n));
  status_->setText(validatePacsNode(n));
}

void PacsNodesDialog::addNode() {
  ConfiguredPacsNode n;
  QString name = tr("PACS");
  for (int i = 2; std::any_of(nodes_.begin(), nodes_.end(), [&](const auto& o) { return o.name == name; }); ++i) name = tr("PACS %1").arg(i);
  n.name = name;
  n.node.aeTitle = "PACS";
  n.node.host = "localhost";
  nodes_ << n;
  current_ = static_cast<int>(nodes_.size()) - 1;
  refreshList();
  select(current_);
  aeTitle_->setFocus();
}

void PacsNodesDialog::removeSelected() {
  if (current_ < 0) return;
  nodes_.removeAt(current_);
  current_ = std::min(current_, static_cast<int>(nodes_.size()) - 1);
  refreshList();
  select(current_);
}

void PacsNodesDialog::testSelected() {
  if (current_ < 0 || echo_.isRunning()) return;
  const ConfiguredPacsNode n = nodes_[current_];
  if (const QString why = validatePacsNode(n); !why.isEmpty()) {
    status_->setText(why);
    emit echoFinished(false, why);
    return;
  }
  test_->setEnabled(false);
  status_->setText(tr("Testing %1...").arg(pacsNodeLabel(n)));
  echo_.setFuture(QtConcurrent::run([n]() -> QString {
    try {
      pacs::echo(n.node);
      return {};
    } catch (const std::exception& e) {
      return QStringLiteral("%1: %2").arg(n.name, QString::fromUtf8(e.what()));
    }
  }));
}

void PacsNodesDialog::accept() {
  std::set<QString> names;
  for (const auto& n : nodes_) {
    if (const QString why = validatePacsNode(n); !why.isEmpty()) {
      status_->setText(tr("%1: %2").arg(n.name.isEmpty() ? tr("(no name)") : n.name, why));
      return;
    }
    if (!names.insert(n.name).second) {
      status_->setText(tr("Two nodes are called %1: give each its own name.").arg(n.name));
      return;
    }
  }
  QDialog::accept();
}

}  // namespace al::ui
