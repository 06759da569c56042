#include "pacs/PacsClient.h"

#include <dcmtk/config/osconfig.h>  // must come first
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmnet/assoc.h>
#include <dcmtk/dcmnet/diutil.h>
#include <dcmtk/dcmnet/scu.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <tuple>

#include <stdlib.h>

#include "errors/Error.h"
#include "io/AtomicFile.h"
#include "io/DicomFileReader.h"
#include "io/DicomGuard.h"

namespace al::pacs {

namespace fs = std::filesystem;

namespace {

// What AnomalyLens decodes (core/io): a retrieve accepts exactly these, so that every file it
// writes can be opened. Uncompressed first: a PACS that honours the proposer's order then sends
// the pixels as they are stored, or decompressed, rather than recompressed.
const char* const kReadableTransferSyntaxes[] = {
    UID_LittleEndianExplicitTransferSyntax,  UID_LittleEndianImplicitTransferSyntax,
    UID_BigEndianExplicitTransferSyntax,     UID_DeflatedExplicitVRLittleEndianTransferSyntax,
    UID_JPEGProcess14SV1TransferSyntax,      UID_JPEGProcess14TransferSyntax,
    UID_JPEGLSLosslessTransferSyntax,        UID_JPEG2000LosslessOnlyTransferSyntax,
    UID_RLELosslessTransferSyntax,           UID_JPEGProcess1TransferSyntax,
    UID_JPEGProcess2_4TransferSyntax,        UID_JPEGLSLossyTransferSyntax,
    UID_JPEG2000TransferSyntax,
};

// An association carries at most 128 presentation contexts (IDs 1, 3, ... 255).
constexpr int kMaxPresentationContexts = 128;

std::string trimmed(const std::string& s) {
  const auto first = s.find_first_not_of(' ');
  if (first == std::string::npos) return {};
  return s.substr(first, s.find_last_not_of(' ') - first + 1);
}

// PS3.5: AE titles are 1..16 characters of the default repertoire, no backslash or control
// characters; leading and trailing spaces are not significant.
std::string checkedAeTitle(const std::string& context, const std::string& raw, const std::string& role) {
  const std::string ae = trimmed(raw);
  if (ae.empty()) throw Error(context, role + " AE title is empty");
  if (ae.size() > 16) throw Error(context, role + " AE title \"" + ae + "\" is longer than 16 characters");
  for (unsigned char c : ae) {
    if (c < 0x20 || c >= 0x7f || c == '\\') throw Error(context, role + " AE title \"" + ae + "\" has a character AE titles cannot hold");
  }
  return ae;
}

// DCMTK's condition chain ("0006:031b Failed to establish association\n0006:031c TCP
// Initialization Error: Connection refused") as one line without the codes.
std::string conditionText(const OFCondition& cond) {
  OFString dump;
  DimseCondition::dump(dump, cond);
  std::string out, line;
  std::istringstream lines(dump.c_str());
  while (std::getline(lines, line)) {
    const auto space = line.find(' ');
    if (space != std::string::npos && space == 9 && line[4] == ':') line = line.substr(space + 1);
    if (line.empty()) continue;
    if (!out.empty()) out += ": ";
    out += line;
  }
  return out.empty() ? std::string(cond.text()) : out;
}

bool contains(const std::string& haystack, const char* needle) {
  std::string h = haystack, n = needle;
  std::transform(h.begin(), h.end(), h.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return h.find(n) != std::string::npos;
}

std::string rejectReasonText(const T_ASC_RejectParameters& rej, const PacsNode& node) {
  std::string why;
  switch (rej.reason) {
    case ASC_REASON_SU_CALLINGAETITLENOTRECOGNIZED:
      why = "calling AE title \"" + node.callingAeTitle + "\" not recognized; the PACS must know this AE title";
      break;
    case ASC_REASON_SU_CALLEDAETITLENOTRECOGNIZED:
      why = "called AE title \"" + node.aeTitle + "\" not recognized";
      break;
    case ASC_REASON_SU_APPCONTEXTNAMENOTSUPPORTED: why = "application context not supported"; break;
    case ASC_REASON_SP_ACSE_PROTOCOLVERSIONNOTSUPPORTED: why = "protocol version not supported"; break;
    case ASC_REASON_SP_PRES_TEMPORARYCONGESTION: why = "temporary congestion"; break;
    case ASC_REASON_SP_PRES_LOCALLIMITEXCEEDED: why = "local limit exceeded (too many associations)"; break;
    default: why = "no reason given"; break;
  }
  return std::string("association rejected") + (rej.result == ASC_RESULT_REJECTEDTRANSIENT ? " for now" : "") + " (" + why + ")";
}

// DcmSCU keeps the rejection parameters to itself, so a rejection is asked again with a bare
// Verification association, whose answer carries the reason (the AE titles are the same).
std::string rejectionReason(const PacsNode& node) {
  T_ASC_Network* net = nullptr;
  T_ASC_Parameters* params = nullptr;
  T_ASC_Association* assoc = nullptr;
  std::string reason = "association rejected";
  if (ASC_initializeNetwork(NET_REQUESTOR, 0, node.timeoutSeconds, &net).bad()) return reason;
  if (ASC_createAssociationParameters(&params, ASC_DEFAULTMAXPDU).good()) {
    ASC_setAPTitles(params, node.callingAeTitle.c_str(), node.aeTitle.c_str(), nullptr);
    const std::string peer = node.host + ":" + std::to_string(node.port);
    ASC_setPresentationAddresses(params, OFStandard::getHostName().c_str(), peer.c_str());
    const char* syntaxes[] = {UID_LittleEndianImplicitTransferSyntax};
    ASC_addPresentationContext(params, 1, UID_VerificationSOPClass, syntaxes, 1);
    const OFCondition cond = ASC_requestAssociation(net, params, &assoc);
    if (cond == DUL_ASSOCIATIONREJECTED) {
      T_ASC_RejectParameters rej;
      ASC_getRejectParameters(params, &rej);
      reason = rejectReasonText(rej, node);
    } else if (cond.good()) {
      ASC_abortAssociation(assoc);
    }
    if (assoc) {
      ASC_destroyAssociation(&assoc);  // also frees params
    } else {
      ASC_destroyAssociationParameters(&params);
    }
  }
  ASC_dropNetwork(&net);
  return reason;
}

// A network failure in words a user can act on; `service` names what was asked, for the hint
// when the PACS hangs up on it.
std::string networkFailure(const PacsNode& node, const OFCondition& cond, const char* service = nullptr) {
  if (cond == DUL_READTIMEOUT || cond == DIMSE_NODATAAVAILABLE) {
    return "no answer within " + std::to_string(node.timeoutSeconds) + " s";
  }
  const std::string text = conditionText(cond);
  if (contains(text, "connection refused")) return "connection refused (no DICOM service on port " + std::to_string(node.port) + ")";
  if (contains(text, "timed out") || contains(text, "timeout")) {
    return "no connection within " + std::to_string(node.timeoutSeconds) + " s (" + text + ")";
  }
  if (contains(text, "unknown host") || contains(text, "name or service not known")) return "unknown host \"" + node.host + "\"";
  if (contains(text, "unrecognized pdu type")) return "not a DICOM service: the peer answered with something else (" + text + ")";
  if (cond == DUL_PEERABORTEDASSOCIATION) {
    // Orthanc, among others, accepts the association and then aborts a request it does not allow.
    return std::string("the PACS aborted the association") +
           (service ? std::string(" (does it allow ") + service + " from AE title \"" + node.callingAeTitle + "\"?)" : "");
  }
  if (cond == DUL_PEERREQUESTEDRELEASE) return "the PACS closed the association";
  return text;
}

std::string statusComment(DcmDataset* statusDetail) {
  OFString comment;
  if (statusDetail && statusDetail->findAndGetOFString(DCM_ErrorComment, comment).good() && !comment.empty()) {
    return std::string(": ") + comment.c_str();
  }
  return {};
}

std::string hex4(Uint16 v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04X", static_cast<unsigned>(v));
  return buf;
}

// PS3.5 9.1: UIDs are digits and dots, at most 64 characters. Checked before one becomes a path
// component, so that a PACS cannot write outside the output folder.
bool isUid(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; }) && s.front() != '.';
}

bool isSuccessOrWarning(Uint16 status) {
  return status == STATUS_Success || (status & 0xF000) == 0xB000 || status == 0x0107 || status == 0x0116;
}

std::string getString(DcmItem& item, const DcmTagKey& key) {
  OFString value;
  if (item.findAndGetOFStringArray(key, value).good()) return value.c_str();
  return {};
}

int getInt(DcmItem& item, const DcmTagKey& key) {
  const std::string s = trimmed(getString(item, key));
  if (s.empty()) return -1;
  try {
    return std::stoi(s);
  } catch (const std::exception&) {
    return -1;
  }
}

bool isAscii(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x80; });
}

// One association with a node, opened with the node's timeouts. Also the C-GET session handler:
// DcmSCU's own one neither reads the failed-instances data set a C-GET response may carry nor
// writes files atomically, nor can it report progress or cancel.
class Association : public DcmSCU {
 public:
  explicit Association(const PacsNode& node) : node_(node) {
    initDcmtk();  // quiets DCMTK's console logger: errors here carry the node and the reason
    static std::once_flag once;
    std::call_once(once, [] {
      // DCMTK 3.6.7 leaves Nagle's algorithm on unless TCP_NODELAY is set (its documented
      // runtime switch): each small PDU then waits for the peer's delayed ACK, and every
      // instance of a C-STORE or C-GET cost ~90 ms even on loopback. A user's own value wins.
      ::setenv("TCP_NODELAY", "1", 0);
    });
    setAETitle(node.callingAeTitle.c_str());
    setPeerAETitle(node.aeTitle.c_str());
    setPeerHostName(node.host.c_str());
    setPeerPort(static_cast<Uint16>(node.port));
    const auto t = static_cast<Uint32>(std::max(1, node.timeoutSeconds));
    setACSETimeout(t);
    setDIMSETimeout(t);
    // Blocking DIMSE reads ignore the timeout; non-blocking ones wait at most t per message.
    setDIMSEBlockingMode(DIMSE_NONBLOCKING);
    setConnectionTimeout(static_cast<Sint32>(t));
    setMaxReceivePDULength(65536);
    setProgressNotificationMode(OFFalse);
  }
  std::string context() const { return toString(node_); }

  void open() {
    OFCondition cond = initNetwork();
    if (cond.bad()) throw Error(context(), "cannot prepare the association: " + conditionText(cond));
    cond = negotiateAssociation();
    if (cond == DUL_ASSOCIATIONREJECTED) throw Error(context(), rejectionReason(node_));
    if (cond == NET_EC_NoAcceptablePresentationContexts) {
      throw Error(context(), "the PACS accepted none of the proposed services");
    }
    if (cond.bad()) throw Error(context(), networkFailure(node_, cond));
  }

  // Orderly release; an error path leaves the association to DcmSCU's destructor, which aborts.
  void close() {
    if (isConnected()) releaseAssociation();
  }

  // Whether the last C-GET ended with its final response (rather than a timeout after a cancel).
  bool getFinished() const { return getStatus_ != 0xFFFF; }

  T_ASC_PresentationContextID requireContext(const char* sopClass, const std::string& service) {
    const T_ASC_PresentationContextID id = findAnyPresentationContextID(sopClass, "");
    if (id == 0) throw Error(context(), "the PACS does not offer " + service);
    return id;
  }

  // --- C-FIND: the matches' data sets, or throws.
  std::vector<std::unique_ptr<DcmDataset>> find(DcmDataset& keys) {
    const T_ASC_PresentationContextID id = requireContext(UID_FINDStudyRootQueryRetrieveInformationModel, "Study Root C-FIND");
    OFList<QRResponse*> responses;
    const OFCondition cond = sendFINDRequest(id, &keys, &responses);
    std::vector<std::unique_ptr<DcmDataset>> out;
    Uint16 finalStatus = STATUS_Success;
    std::string comment;
    for (QRResponse* r : responses) {
      if (r->m_dataset && DICOM_PENDING_STATUS(r->m_status)) {
        out.emplace_back(r->m_dataset);
        r->m_dataset = nullptr;
      } else if (!DICOM_PENDING_STATUS(r->m_status)) {
        finalStatus = r->m_status;
        comment = statusComment(r->m_statusDetail);
      }
      delete r;
    }
    if (cond.bad()) throw Error(context(), "C-FIND failed: " + networkFailure(node_, cond, "C-FIND"));
    if (finalStatus != STATUS_Success && finalStatus != STATUS_FIND_Cancel_MatchingTerminatedDueToCancelRequest) {
      throw Error(context(), std::string("C-FIND failed: ") + DU_cfindStatusString(finalStatus) + " (0x" + hex4(finalStatus) + ")" + comment);
    }
    for (auto& ds : out) ds->convertToUTF8();  // names in the PACS's character set; ignored when it cannot convert
    return out;
  }

  // --- C-GET with the sub-operations' C-STOREs on this association.
  RetrieveResult get(DcmDataset& keys, const std::string& outDir, const Progress& progress) {
    const T_ASC_PresentationContextID id = requireContext(UID_GETStudyRootQueryRetrieveInformationModel, "Study Root C-GET");
    outDir_ = outDir;
    progress_ = progress;
    result_ = RetrieveResult();
    getStatus_ = 0xFFFF;
    total_ = -1;
    writeError_.reset();
    const OFCondition cond = sendCGETRequest(id, &keys, nullptr);
    if (writeError_) throw *writeError_;
    if (cond.bad()) {
      if (result_.cancelled) return result_;  // the PACS did not finish its cancel in time; what we have is on disk
      throw Error(context(), "C-GET failed after " + std::to_string(result_.files.size()) + " files: " + networkFailure(node_, cond, "C-GET"));
    }
    const bool cancelled = getStatus_ == STATUS_GET_Cancel_SubOperationsTerminatedDueToCancelIndication;
    if (!isSuccessOrWarning(getStatus_) && !cancelled && result_.files.empty()) {
      throw Error(context(), std::string("C-GET failed: ") + DU_cgetStatusString(getStatus_) + " (0x" + hex4(getStatus_) + ")" + getComment_);
    }
    return result_;
  }

 protected:
  OFCondition handleCGETSession(const T_ASC_PresentationContextID getId, DcmDataset*, OFList<RetrieveResponse*>*) override {
    for (;;) {
      T_DIMSE_Message msg;
      std::memset(&msg, 0, sizeof msg);
      DcmDataset* detail = nullptr;
      T_ASC_PresentationContextID pcid = 0;
      OFCondition cond = receiveDIMSECommand(&pcid, &msg, &detail);
      std::unique_ptr<DcmDataset> detailOwner(detail);
      if (cond.bad()) return cond;

      if (msg.CommandField == DIMSE_C_GET_RSP) {
        const T_DIMSE_C_GetRSP& rsp = msg.msg.CGetRSP;
        if (rsp.DataSetType != DIMSE_DATASET_NULL) {
          DcmDataset* failedList = nullptr;  // Failed SOP Instance UID List: the counts say enough
          cond = receiveDIMSEDataset(&pcid, &failedList);
          delete failedList;
          if (cond.bad()) return cond;
        }
        // The counts are optional in a final response: keep the last ones a PACS gave.
        if (rsp.opts & O_GET_NUMBEROFCOMPLETEDSUBOPERATIONS) result_.completed = rsp.NumberOfCompletedSubOperations;
        if (rsp.opts & O_GET_NUMBEROFFAILEDSUBOPERATIONS) result_.failed = rsp.NumberOfFailedSubOperations;
        if (rsp.opts & O_GET_NUMBEROFWARNINGSUBOPERATIONS) result_.warnings = rsp.NumberOfWarningSubOperations;
        if (DICOM_PENDING_STATUS(rsp.DimseStatus)) {
          if (rsp.opts & O_GET_NUMBEROFREMAININGSUBOPERATIONS) {
            total_ = result_.completed + result_.failed + result_.warnings + rsp.NumberOfRemainingSubOperations;
          }
          report(getId, result_.completed + result_.failed + result_.warnings, "");
          continue;
        }
        getStatus_ = rsp.DimseStatus;
        getComment_ = statusComment(detail);
        if (getStatus_ == STATUS_GET_Cancel_SubOperationsTerminatedDueToCancelIndication) result_.cancelled = true;
        return EC_Normal;
      }

      if (msg.CommandField == DIMSE_C_STORE_RQ) {
        DcmDataset* dataset = nullptr;
        cond = receiveDIMSEDataset(&pcid, &dataset);
        std::unique_ptr<DcmDataset> owner(dataset);
        if (cond.bad()) return cond;
        // After a cancel, objects still in flight are not written: the user asked for no more.
        const Uint16 status = result_.cancelled || writeError_ ? Uint16(STATUS_STORE_Refused_OutOfResources)
                                                               : storeIncoming(pcid, std::move(owner));
        cond = sendSTOREResponse(pcid, status, msg.msg.CStoreRQ);
        if (cond.bad()) return cond;
        if (writeError_ && !result_.cancelled) {
          result_.cancelled = true;  // stop the PACS sending what cannot be written
          sendCANCELRequest(getId);
        } else if (status == STATUS_Success) {
          // The PACS's counts lag by this object (they come with the response that follows it).
          report(getId, std::max<int>(static_cast<int>(result_.files.size()), result_.completed + result_.failed + result_.warnings + 1),
                 result_.files.back());
        }
        continue;
      }
      return DIMSE_BADCOMMANDTYPE;
    }
  }

 private:
  void report(T_ASC_PresentationContextID getId, int done, const std::string& what) {
    if (!progress_ || result_.cancelled) return;
    if (!progress_(done, total_, what)) {
      result_.cancelled = true;
      sendCANCELRequest(getId);
    }
  }

  // Writes one received object to outDir/<study>/<series>/<instance>.dcm; returns the C-STORE
  // status to answer with.
  Uint16 storeIncoming(T_ASC_PresentationContextID pcid, std::unique_ptr<DcmDataset> dataset) {
    const std::string study = trimmed(getString(*dataset, DCM_StudyInstanceUID));
    const std::string series = trimmed(getString(*dataset, DCM_SeriesInstanceUID));
    const std::string instance = trimmed(getString(*dataset, DCM_SOPInstanceUID));
    if (!isUid(study) || !isUid(series) || !isUid(instance)) return STATUS_STORE_Error_DataSetDoesNotMatchSOPClass;
    OFString abstractSyntax, transferSyntax;
    findPresentationContext(pcid, abstractSyntax, transferSyntax);
    const E_TransferSyntax xfer = DcmXfer(transferSyntax.c_str()).getXfer();
    const fs::path folder = fs::path(outDir_) / study / series;
    const std::string path = (folder / (instance + ".dcm")).string();
    try {
      std::error_code ec;
      fs::create_directories(folder, ec);
      if (ec) throw FileError(folder.string(), "cannot create the folder: " + ec.message());
      DcmFileFormat file(dataset.release(), OFFalse);  // takes the data set over
      writeAtomically(path, [&](const std::string& tmp) {
        const OFCondition cond = file.saveFile(tmp.c_str(), xfer == EXS_Unknown ? EXS_LittleEndianExplicit : xfer);
        if (cond.bad()) throw FileError(path, std::string("cannot write: ") + cond.text());
      });
    } catch (const Error& e) {
      writeError_ = std::make_unique<Error>(e);
      return STATUS_STORE_Refused_OutOfResources;
    }
    result_.files.push_back(path);
    return STATUS_Success;
  }

  PacsNode node_;
  std::string outDir_;
  Progress progress_;
  RetrieveResult result_;
  Uint16 getStatus_ = 0xFFFF;
  std::string getComment_;
  int total_ = -1;
  std::unique_ptr<Error> writeError_;
};

OFList<OFString> syntaxList(std::initializer_list<const char*> uids) {
  OFList<OFString> list;
  for (const char* uid : uids) list.push_back(uid);
  return list;
}

void validateNode(const PacsNode& node) {
  const std::string context = toString(node);
  checkedAeTitle(context, node.aeTitle, "called");
  checkedAeTitle(context, node.callingAeTitle, "calling");
  if (node.host.empty()) throw Error(context, "no host");
  if (node.port < 1 || node.port > 65535) throw Error(context, "port " + std::to_string(node.port) + " is not 1..65535");
}

PacsNode normalized(PacsNode node) {
  validateNode(node);
  node.aeTitle = trimmed(node.aeTitle);
  node.callingAeTitle = trimmed(node.callingAeTitle);
  return node;
}

void checkDate(const std::string& date, const char* what) {
  if (date.empty()) return;
  if (date.size() != 8 || !std::all_of(date.begin(), date.end(), [](unsigned char c) { return std::isdigit(c); })) {
    throw Error(std::string(what) + " " + date, "expected a date as YYYYMMDD");
  }
}

// Files to send: named files as they are, folders searched for files with the DICM preamble.
std::vector<std::string> collectFiles(const std::vector<std::string>& paths, StoreResult& result) {
  std::vector<std::string> files;
  for (const auto& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> found;
      for (auto it = fs::recursive_directory_iterator(p, fs::directory_options::skip_permission_denied, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (!it->is_regular_file(ec)) continue;
        std::ifstream in(it->path(), std::ios::binary);
        char head[132] = {};
        if (in.read(head, sizeof head) && std::memcmp(head + 128, "DICM", 4) == 0) found.push_back(it->path().string());
      }
      if (ec) result.failed.emplace_back(p, "cannot list the folder: " + ec.message());
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::exists(p, ec)) {
      files.push_back(p);
    } else {
      result.failed.emplace_back(p, "no such file or folder");
    }
  }
  return files;
}

struct OutgoingFile {
  std::string path, sopClass, transferSyntax;
};

bool isUncompressed(const std::string& ts) {
  return ts == UID_LittleEndianExplicitTransferSyntax || ts == UID_LittleEndianImplicitTransferSyntax ||
         ts == UID_BigEndianExplicitTransferSyntax || ts == UID_DeflatedExplicitVRLittleEndianTransferSyntax;
}

// One Study Root C-FIND on its own association: the matches' identifiers.
std::vector<std::unique_ptr<DcmDataset>> studyRootFind(const PacsNode& node, DcmDataset& query) {
  Association a(node);
  a.addPresentationContext(UID_FINDStudyRootQueryRetrieveInformationModel,
                           syntaxList({UID_LittleEndianExplicitTransferSyntax, UID_LittleEndianImplicitTransferSyntax}));
  a.open();
  auto datasets = a.find(query);
  a.close();
  return datasets;
}

}  // namespace

PacsNode parseNode(const std::string& spec) {
  PacsNode node;
  const auto at = spec.rfind('@');
  if (at == std::string::npos) throw Error(spec, "expected AET@HOST:PORT");
  node.aeTitle = checkedAeTitle(spec, spec.substr(0, at), "called");
  std::string hostPort = spec.substr(at + 1);
  const auto colon = hostPort.rfind(':');
  if (colon != std::string::npos) {
    const std::string port = hostPort.substr(colon + 1);
    hostPort = hostPort.substr(0, colon);
    if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); }) ||
        std::stoi(port) < 1 || std::stoi(port) > 65535) {
      throw Error(spec, "port \"" + port + "\" is not a number from 1 to 65535");
    }
    node.port = std::stoi(port);
  }
  if (hostPort.empty()) throw Error(spec, "no host after '@'");
  if (std::any_of(hostPort.begin(), hostPort.end(), [](unsigned char c) { return std::isspace(c) || c == '/' || c == '@' || c == ':'; })) {
    throw Error(spec, "\"" + hostPort + "\" is not a host name or IPv4 address");
  }
  node.host = hostPort;
  return node;
}

std::string toString(const PacsNode& node) {
  return trimmed(node.aeTitle) + "@" + node.host + ":" + std::to_string(node.port);
}

void echo(const PacsNode& rawNode) {
  const PacsNode node = normalized(rawNode);
  Association a(node);
  a.addPresentationContext(UID_VerificationSOPClass,
                           syntaxList({UID_LittleEndianExplicitTransferSyntax, UID_LittleEndianImplicitTransferSyntax}));
  a.open();
  const OFCondition cond = a.sendECHORequest(0);
  if (cond.bad()) throw Error(a.context(), "C-ECHO failed: " + networkFailure(node, cond));
  a.close();
}

std::vector<StudyMatch> findStudies(const PacsNode& rawNode, const QueryKeys& keys) {
  const PacsNode node = normalized(rawNode);
  checkDate(keys.studyDateFrom, "study date from");
  checkDate(keys.studyDateTo, "study date to");
  DcmDataset q;
  q.putAndInsertString(DCM_QueryRetrieveLevel, "STUDY");
  const std::vector<const std::string*> values = {&keys.patientName, &keys.patientId, &keys.modality, &keys.accessionNumber};
  if (std::any_of(values.begin(), values.end(), [](const std::string* v) { return !isAscii(*v); })) {
    q.putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 192");  // UTF-8 query values
  }
  q.putAndInsertString(DCM_PatientName, keys.patientName.c_str());
  q.putAndInsertString(DCM_PatientID, keys.patientId.c_str());
  q.putAndInsertString(DCM_PatientBirthDate, "");
  q.putAndInsertString(DCM_StudyInstanceUID, keys.studyInstanceUid.c_str());
  std::string range;
  if (!keys.studyDateFrom.empty() || !keys.studyDateTo.empty()) {
    range = keys.studyDateFrom == keys.studyDateTo ? keys.studyDateFrom : keys.studyDateFrom + "-" + keys.studyDateTo;
  }
  q.putAndInsertString(DCM_StudyDate, range.c_str());
  q.putAndInsertString(DCM_StudyTime, "");
  q.putAndInsertString(DCM_StudyDescription, "");
  q.putAndInsertString(DCM_AccessionNumber, keys.accessionNumber.c_str());
  q.putAndInsertString(DCM_ModalitiesInStudy, keys.modality.c_str());
  q.putAndInsertString(DCM_NumberOfStudyRelatedSeries, "");
  q.putAndInsertString(DCM_NumberOfStudyRelatedInstances, "");

  const auto datasets = studyRootFind(node, q);

  std::vector<StudyMatch> out;
  for (const auto& ds : datasets) {
    StudyMatch m;
    m.patientName = getString(*ds, DCM_PatientName);
    m.patientId = getString(*ds, DCM_PatientID);
    m.patientBirthDate = getString(*ds, DCM_PatientBirthDate);
    m.studyInstanceUid = trimmed(getString(*ds, DCM_StudyInstanceUID));
    m.studyDate = getString(*ds, DCM_StudyDate);
    m.studyTime = getString(*ds, DCM_StudyTime);
    m.studyDescription = getString(*ds, DCM_StudyDescription);
    m.accessionNumber = getString(*ds, DCM_AccessionNumber);
    m.modalitiesInStudy = getString(*ds, DCM_ModalitiesInStudy);
    m.numberOfSeries = getInt(*ds, DCM_NumberOfStudyRelatedSeries);
    m.numberOfInstances = getInt(*ds, DCM_NumberOfStudyRelatedInstances);
    out.push_back(std::move(m));
  }
  std::stable_sort(out.begin(), out.end(), [](const StudyMatch& x, const StudyMatch& y) {
    return std::tie(x.studyDate, x.studyTime, x.studyInstanceUid) < std::tie(y.studyDate, y.studyTime, y.studyInstanceUid);
  });
  return out;
}

std::vector<SeriesMatch> findSeries(const PacsNode& rawNode, const std::string& studyUid, const std::string& modality) {
  const PacsNode node = normalized(rawNode);
  if (!isUid(trimmed(studyUid))) throw Error("study " + studyUid, "not a DICOM UID (digits and dots)");
  DcmDataset q;
  q.putAndInsertString(DCM_QueryRetrieveLevel, "SERIES");
  q.putAndInsertString(DCM_StudyInstanceUID, trimmed(studyUid).c_str());
  q.putAndInsertString(DCM_SeriesInstanceUID, "");
  q.putAndInsertString(DCM_Modality, modality.c_str());
  q.putAndInsertString(DCM_SeriesNumber, "");
  q.putAndInsertString(DCM_SeriesDescription, "");
  q.putAndInsertString(DCM_NumberOfSeriesRelatedInstances, "");

  const auto datasets = studyRootFind(node, q);

  std::vector<SeriesMatch> out;
  for (const auto& ds : datasets) {
    SeriesMatch m;
    m.studyInstanceUid = trimmed(getString(*ds, DCM_StudyInstanceUID));
    if (m.studyInstanceUid.empty()) m.studyInstanceUid = trimmed(studyUid);
    m.seriesInstanceUid = trimmed(getString(*ds, DCM_SeriesInstanceUID));
    m.modality = getString(*ds, DCM_Modality);
    m.seriesNumber = trimmed(getString(*ds, DCM_SeriesNumber));
    m.seriesDescription = getString(*ds, DCM_SeriesDescription);
    m.numberOfInstances = getInt(*ds, DCM_NumberOfSeriesRelatedInstances);
    out.push_back(std::move(m));
  }
  std::stable_sort(out.begin(), out.end(), [](const SeriesMatch& x, const SeriesMatch& y) {
    const auto number = [](const std::string& s) {
      try {
        return std::stol(s);
      } catch (const std::exception&) {
        return 0L;
      }
    };
    return std::make_pair(number(x.seriesNumber), x.seriesInstanceUid) < std::make_pair(number(y.seriesNumber), y.seriesInstanceUid);
  });
  return out;
}

RetrieveResult retrieve(const PacsNode& rawNode, const std::string& studyUid, const std::string& seriesUid,
                        const std::string& outDir, const Progress& progress) {
  const PacsNode node = normalized(rawNode);
  const std::string study = trimmed(studyUid), series = trimmed(seriesUid);
  if (!isUid(study)) throw Error("study " + studyUid, "not a DICOM UID (digits and dots)");
  if (!series.empty() && !isUid(series)) throw Error("series " + seriesUid, "not a DICOM UID (digits and dots)");
  std::error_code ec;
  fs::create_directories(outDir, ec);
  if (ec || !fs::is_directory(outDir, ec)) throw FileError(outDir, "cannot create the output folder" + (ec ? ": " + ec.message() : std::string()));

  DcmDataset keys;
  keys.putAndInsertString(DCM_QueryRetrieveLevel, series.empty() ? "STUDY" : "SERIES");
  keys.putAndInsertString(DCM_StudyInstanceUID, study.c_str());
  if (!series.empty()) keys.putAndInsertString(DCM_SeriesInstanceUID, series.c_str());

  // The study's own SOP classes go first: a C-GET can only bring back classes the association
  // accepted, and the long list below has no room for newer ones (Parametric Map, ...). A PACS
  // that does not answer SOP Classes in Study keeps the default lists.
  std::vector<std::string> studyClasses;
  try {
    DcmDataset q;
    q.putAndInsertString(DCM_QueryRetrieveLevel, "STUDY");
    q.putAndInsertString(DCM_StudyInstanceUID, study.c_str());
    q.putAndInsertString(DCM_SOPClassesInStudy, "");
    for (const auto& ds : studyRootFind(node, q)) {
      OFString uid;
      for (unsigned long i = 0; ds->findAndGetOFString(DCM_SOPClassesInStudy, uid, i).good(); ++i)
        if (!uid.empty()) studyClasses.emplace_back(uid.c_str());
    }
  } catch (const Error&) {
    studyClasses.clear();
  }

  Association a(node);
  a.addPresentationContext(UID_GETStudyRootQueryRetrieveInformationModel,
                           syntaxList({UID_LittleEndianExplicitTransferSyntax, UID_LittleEndianImplicitTransferSyntax}));
  // We are the storage SCP for the sub-operations: the study's classes, then the long list
  // (what DCMTK's own tools propose), then the rest of the storage classes while contexts remain.
  OFList<OFString> syntaxes;
  for (const char* ts : kReadableTransferSyntaxes) syntaxes.push_back(ts);
  std::set<std::string> proposed;
  const auto propose = [&](const char* sopClass) {
    if (static_cast<int>(proposed.size()) + 1 >= kMaxPresentationContexts || !proposed.insert(sopClass).second) return;
    a.addPresentationContext(sopClass, syntaxes, ASC_SC_ROLE_SCP);
  };
  for (const auto& c : studyClasses) propose(c.c_str());
  for (int i = 0; i < numberOfDcmLongSCUStorageSOPClassUIDs; ++i) propose(dcmLongSCUStorageSOPClassUIDs[i]);
  for (int i = 0; i < numberOfDcmAllStorageSOPClassUIDs; ++i) propose(dcmAllStorageSOPClassUIDs[i]);
  a.open();
  RetrieveResult result = a.get(keys, outDir, progress);
  if (a.getFinished()) {
    a.close();
  } else {
    a.abortAssociation();  // cancelled and the PACS never confirmed: nothing more to say to it
  }
  return result;
}

StoreResult store(const PacsNode& rawNode, const std::vector<std::string>& paths, const Progress& progress) {
  const PacsNode node = normalized(rawNode);
  initDcmtk();
  StoreResult result;
  const std::vector<std::string> candidates = collectFiles(paths, result);

  // Headers only (values over 1 KiB, the pixels, are not loaded): SOP class and transfer syntax.
  std::vector<OutgoingFile> files;
  for (const auto& path : candidates) {
    DcmFileFormat ff;
    try {
      checkDicomNesting(path);
    } catch (const FileError& e) {
      result.failed.emplace_back(path, e.reason());
      continue;
    }
    const OFCondition cond = ff.loadFile(path.c_str(), EXS_Unknown, EGL_noChange, 1024);
    if (cond.bad()) {
      result.failed.emplace_back(path, std::string("not a readable DICOM file: ") + cond.text());
      continue;
    }
    OutgoingFile f;
    f.path = path;
    f.sopClass = trimmed(getString(*ff.getDataset(), DCM_SOPClassUID));
    if (f.sopClass.empty()) f.sopClass = trimmed(getString(*ff.getMetaInfo(), DCM_MediaStorageSOPClassUID));
    const std::string instance = trimmed(getString(*ff.getDataset(), DCM_SOPInstanceUID));
    if (f.sopClass == UID_MediaStorageDirectoryStorage) {
      result.failed.emplace_back(path, "a DICOMDIR (an index of files, not an image): send the files it lists");
      continue;
    }
    if (f.sopClass.empty() || instance.empty()) {
      result.failed.emplace_back(path, "no SOP Class UID or SOP Instance UID: not a storable DICOM object");
      continue;
    }
    f.transferSyntax = DcmXfer(ff.getDataset()->getOriginalXfer()).getXferID();
    files.push_back(std::move(f));
  }

  // One presentation context per (SOP class, transfer syntax) pair; more pairs than one
  // association can carry go out over several associations, one after the other.
  std::map<std::pair<std::string, std::string>, std::vector<const OutgoingFile*>> byPair;
  for (const auto& f : files) byPair[{f.sopClass, f.transferSyntax}].push_back(&f);
  std::vector<std::vector<std::pair<std::string, std::string>>> batches(1);
  for (const auto& [pair, list] : byPair) {
    if (static_cast<int>(batches.back().size()) >= kMaxPresentationContexts - 8) batches.emplace_back();
    batches.back().push_back(pair);
  }

  const int total = static_cast<int>(files.size());
  int done = 0;
  for (const auto& batch : batches) {
    if (batch.empty() || result.cancelled) continue;
    Association a(node);
    // Converting between uncompressed syntaxes needs no codec and loses nothing, so those files
    // also offer implicit VR little endian, the one syntax every PACS must take.
    a.setDatasetConversionMode(OFTrue);
    for (const auto& [sopClass, ts] : batch) {
      OFList<OFString> syntaxes = syntaxList({ts.c_str()});
      if (isUncompressed(ts) && ts != UID_LittleEndianImplicitTransferSyntax) syntaxes.push_back(UID_LittleEndianImplicitTransferSyntax);
      a.addPresentationContext(sopClass.c_str(), syntaxes);
    }
    a.open();
    for (const auto& pair : batch) {
      for (const OutgoingFile* f : byPair[pair]) {
        if (result.cancelled) break;
        T_ASC_PresentationContextID id = a.findPresentationContextID(f->sopClass.c_str(), f->transferSyntax.c_str());
        if (id == 0 && isUncompressed(f->transferSyntax)) {
          id = a.findPresentationContextID(f->sopClass.c_str(), UID_LittleEndianImplicitTransferSyntax);
        }
        if (id == 0) {
          result.failed.emplace_back(f->path, std::string("the PACS does not accept ") + dcmFindNameOfUID(f->sopClass.c_str(), f->sopClass.c_str()) +
                                                  " in " + DcmXfer(f->transferSyntax.c_str()).getXferName());
        } else {
          Uint16 status = 0;
          const OFCondition cond = a.sendSTORERequest(id, f->path.c_str(), nullptr, status);
          if (cond.bad()) {
            // A file DCMTK could not load or convert is that file's failure; anything else is the
            // association's, and it is gone.
            if (cond.module() == OFM_dcmdata || cond == DIMSE_NOVALIDPRESENTATIONCONTEXTID) {
              result.failed.emplace_back(f->path, std::string("cannot send: ") + cond.text());
            } else {
              throw Error(a.context(), "C-STORE failed after " + std::to_string(result.stored) + " of " + std::to_string(total) +
                                           " files (at " + f->path + "): " + networkFailure(node, cond, "C-STORE"));
            }
          } else if (isSuccessOrWarning(status)) {
            ++result.stored;
          } else {
            result.failed.emplace_back(f->path, std::string("refused by the PACS: ") + DU_cstoreStatusString(status) + " (0x" + hex4(status) + ")");
          }
        }
        ++done;
        if (progress && !progress(done, total, f->path)) result.cancelled = true;
      }
    }
    a.close();
  }
  return result;
}

}  // namespace al::pacs
