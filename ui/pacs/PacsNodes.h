#pragma once
// The PACS nodes the user configured (a name, the node's AE title, host and port, our calling
// AE title and the timeout), kept in the settings under "pacs/nodes" so the PACS panel and the
// export dialog offer the same list. Validation follows al::pacs::parseNode's rules, so a node
// the viewer accepts is one the command line accepts too; PacsNodesDialog edits the list and
// checks a node with C-ECHO in a worker.

#include <QDialog>
#include <QFutureWatcher>
#include <QList>
#include <QString>

#include "pacs/PacsClient.h"

class QLabel;
class QLineEdit;
class QListWidget;
class QPushButton;
class QSpinBox;

namespace al::ui {

struct ConfiguredPacsNode {
  QString name;  // what the user calls it ("Hospital PACS"); unique in the list
  pacs::PacsNode node;
};

// "" when the node can be used, else why not ("port 0 is not a number from 1 to 65535", ...).
QString validatePacsNode(const ConfiguredPacsNode& node);
// "Hospital PACS (ORTHANC@pacs.example.org:4242)": how panels and errors name a node.
QString pacsNodeLabel(const ConfiguredPacsNode& node);

// The list in the settings: `settingsFile` an INI file (tests); empty: $ANOMALYLENS_SETTINGS,
// else the user's AnomalyLens settings. Invalid entries are dropped on load.
QList<ConfiguredPacsNode> loadPacsNodes(const QString& settingsFile = {});
void savePacsNodes(const QList<ConfiguredPacsNode>& nodes, const QString& settingsFile = {});

// Add, edit, remove and test (C-ECHO, in a worker) the nodes. Editing works on a copy: the list
// is returned by nodes() and saved by whoever opened the dialog once it is accepted.
class PacsNodesDialog : public QDialog {
  Q_OBJECT
 public:
  explicit PacsNodesDialog(QList<ConfiguredPacsNode> nodes, QWidget* parent = nullptr);
  ~PacsNodesDialog() override;

  QList<ConfiguredPacsNode> nodes() const { return nodes_; }
  bool isTesting() const { return echo_.isRunning(); }

 public slots:
  void addNode();
  void removeSelected();
  void testSelected();  // C-ECHO to the node as the form shows it
  void accept() override;  // refuses (saying why) while a node is invalid or two share a name

 signals:
  void echoFinished(bool ok, const QString& message);

 private:
  void select(int row);
  void formEdited();
  void refreshList();

  QList<ConfiguredPacsNode> nodes_;
  int current_ = -1;
  bool loading_ = false;
  QListWidget* list_;
  QLineEdit* name_;
  QLineEdit* aeTitle_;
  QLineEdit* host_;
  QSpinBox* port_;
  QLineEdit* callingAeTitle_;
  QSpinBox* timeout_;
  QPushButton* remove_;
  QPushButton* test_;
  QLabel* status_;
  QFutureWatcher<QString> echo_;  // "" when the node answered, else the reason
};

}  // namespace al::ui
