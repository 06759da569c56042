#pragma once
// The viewer's recovery files: the reading session (annotations, image marks, view) autosaved
// while a scan is read, so that a crash or a kill loses at most one autosave interval. Each
// viewer process writes its own file, <user data>/recovery/reading-<pid>.alsession, and removes
// it when it closes normally; a file whose process is gone is an orphan to offer back.

#include <string>
#include <vector>

#include "session/Session.h"

namespace al {

// <userDataDir()>/recovery
std::string recoveryDir();
// This process's recovery file (`pid` 0: this process).
std::string recoveryFileFor(long pid = 0);

// A session is worth recovering when it holds the reader's work: annotations or image marks.
bool worthRecovering(const Session& s);

struct OrphanedReading {
  std::string path;
  long pid = 0;
  Session session;
};

// Recovery files of processes that no longer run, newest first. Files that cannot be read are
// skipped (and named in the log); files of running viewers are left to them.
std::vector<OrphanedReading> findOrphanedReadings();

}  // namespace al
