#pragma once
// Sending files the viewer wrote (a report's DICOM objects) to a configured PACS node with
// C-STORE, for a dialog's worker: plain results, no widgets, progress through a callback.

#include <QString>
#include <QStringList>

#include <atomic>
#include <functional>

#include "pacs/PacsNodes.h"

namespace al::ui {

struct PacsSendResult {
  QString node;          // pacsNodeLabel() of the node
  int total = 0;         // .dcm files offered
  int stored = 0;        // accepted by the PACS
  QStringList failures;  // "file: reason", one per file not stored
  QString error;         // "NAME: AET@HOST:PORT: reason": the association could not be opened or broke
  bool cancelled = false;
  bool ok() const { return error.isEmpty() && failures.isEmpty() && !cancelled && stored == total; }
  // One line for a status bar: how many were stored, or which failed and why.
  QString summary() const;
};

// C-STORE of the .dcm files among `files` (others, a PDF or a JSON, are skipped) to `node`.
// `cancel` is read between files; `progress` gets (done, total, "Sending to NAME").
PacsSendResult sendToPacs(const QStringList& files, const ConfiguredPacsNode& node, const std::atomic<bool>* cancel = nullptr,
                          const std::function<void(int, int, const QString&)>& progress = {});

}  // namespace al::ui
