#pragma once
// Talking to a PACS over DICOM networking (DCMTK's dcmnet): C-ECHO to check a node, C-FIND to
// list studies and series, C-GET to retrieve them into a folder, C-STORE to send files.
//
// Retrieval uses C-GET rather than C-MOVE: the images come back on the association we opened,
// so the PACS needs no route back to us (no AE title, host and port configured on its side, no
// port opened on ours). Every call opens its own association and closes it before returning;
// every network wait is bounded by the node's timeout, so nothing hangs on a silent peer.
// Plain C++, no Qt: the CLI and the viewer's workers call these alike.

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace al::pacs {

// A remote DICOM application entity, and who we say we are to it.
struct PacsNode {
  std::string aeTitle;  // called AE title, 1 to 16 characters
  std::string host;     // host name or IPv4 address
  int port = 104;
  std::string callingAeTitle = "ANOMALYLENS";
  int timeoutSeconds = 30;  // connection, association (ACSE) and each message (DIMSE)
};

// "AET@HOST:PORT" (":PORT" may be left out for 104). Throws al::Error naming the spec and what
// is wrong with it (empty or over-long AE title, no host, a port that is not 1..65535).
PacsNode parseNode(const std::string& spec);
std::string toString(const PacsNode& node);  // "AET@HOST:PORT", the context of every error

// Reports progress of a retrieve or a store: `done` of `total` objects (total < 0 while the PACS
// has not yet said how many), `what` the file just written or sent (may be empty). Returning
// false cancels: the call then stops early and returns normally with `cancelled` set (no
// exception); a retrieve sends C-CANCEL to the PACS first.
using Progress = std::function<bool(int done, int total, const std::string& what)>;

// C-ECHO. Returns when the node answered; throws al::Error(toString(node), reason) otherwise
// (connection refused, association rejected and why, no answer within the timeout...).
void echo(const PacsNode& node);

// Study-level matching keys; empty ones match everything.
struct QueryKeys {
  std::string patientName;    // DICOM wildcards: * and ?, e.g. "DOE^*"
  std::string patientId;
  std::string studyDateFrom;  // YYYYMMDD; either end of the range may be empty
  std::string studyDateTo;    // YYYYMMDD
  std::string modality;       // matched against ModalitiesInStudy, e.g. "MR"
  std::string studyInstanceUid;
  std::string accessionNumber;
};

struct StudyMatch {
  std::string patientName, patientId, patientBirthDate;
  std::string studyInstanceUid, studyDate, studyTime, studyDescription, accessionNumber;
  std::string modalitiesInStudy;  // as the PACS lists them, backslash-separated ("MR\SR")
  int numberOfSeries = -1;        // -1: the PACS did not say
  int numberOfInstances = -1;
};

struct SeriesMatch {
  std::string studyInstanceUid, seriesInstanceUid, modality, seriesNumber, seriesDescription;
  int numberOfInstances = -1;  // -1: the PACS did not say
};

// Study Root C-FIND at STUDY level, sorted by study date and time. Throws al::Error naming the
// node (or the key, for a malformed date) and the reason.
std::vector<StudyMatch> findStudies(const PacsNode& node, const QueryKeys& keys);

// Study Root C-FIND at SERIES level within one study, optionally of one modality, sorted by
// series number.
std::vector<SeriesMatch> findSeries(const PacsNode& node, const std::string& studyUid, const std::string& modality = "");

struct RetrieveResult {
  std::vector<std::string> files;  // written, in arrival order
  int completed = 0, failed = 0, warnings = 0;  // the PACS's sub-operation counts
  bool cancelled = false;
};

// C-GET of a whole study (seriesUid empty) or of one series into
// outDir/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm, each file written
// atomically, in the transfer syntax it arrived in. Storage is offered for DCMTK's list of
// storage SOP classes (the 127 a single association can carry), each in the transfer syntaxes
// AnomalyLens reads; instances of other classes count as failed. Objects the PACS could not
// send are counted in `failed`; throws al::Error naming the node when nothing could be
// retrieved (no association, C-GET refused) or the connection broke.
RetrieveResult retrieve(const PacsNode& node, const std::string& studyUid, const std::string& seriesUid,
                        const std::string& outDir, const Progress& progress = {});

struct StoreResult {
  int stored = 0;  // accepted by the PACS (warnings included)
  std::vector<std::pair<std::string, std::string>> failed;  // file, reason
  bool cancelled = false;
};

// C-STORE of files and folders (searched recursively; in folders only files with the DICM
// preamble count, DICOMDIRs are skipped). Exactly the SOP classes and transfer syntaxes of the
// files are proposed (uncompressed ones also in implicit VR little endian, which every PACS
// takes). A file that cannot be read, has no accepted presentation context or is refused is
// listed in `failed` with its reason; throws al::Error naming the node only when the
// association cannot be opened or breaks.
StoreResult store(const PacsNode& node, const std::vector<std::string>& paths, const Progress& progress = {});

}  // namespace al::pacs
