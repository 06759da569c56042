#include "report/Anonymiser.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcvr.h>

#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "errors/Error.h"
#include "runtime/Logging.h"

namespace al::report {

namespace {

namespace fs = std::filesystem;

std::string hex(const unsigned char* bytes, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < n; ++i) {
    s += digits[bytes[i] >> 4];
    s += digits[bytes[i] & 15];
  }
  return s;
}

// Attributes the Basic Profile removes (X) that a source or an export may carry. Descriptions
// of the source (study, series, protocol) go too: they are free text and may name the patient.
const std::set<DcmTagKey>& removedTags() {
  static const std::set<DcmTagKey> tags = {
      DCM_InstitutionName, DCM_InstitutionAddress, DCM_InstitutionalDepartmentName, DCM_StationName,
      DCM_ReferringPhysicianAddress, DCM_ReferringPhysicianTelephoneNumbers, DCM_PhysiciansOfRecord,
      DCM_PerformingPhysicianName, DCM_NameOfPhysiciansReadingStudy, DCM_OperatorsName, DCM_RequestingPhysician,
      DCM_AdmittingDiagnosesDescription, DCM_OtherPatientIDsSequence, DCM_OtherPatientNames,
      DCM_PatientBirthName, DCM_PatientBirthTime, DCM_PatientAge, DCM_PatientSize, DCM_PatientWeight,
      DCM_RETIRED_MedicalRecordLocator, DCM_EthnicGroup, DCM_Occupation, DCM_AdditionalPatientHistory, DCM_PatientComments,
      DCM_PatientAddress, DCM_PatientMotherBirthName, DCM_PatientTelephoneNumbers, DCM_MilitaryRank,
      DCM_BranchOfService, DCM_CountryOfResidence, DCM_RegionOfResidence, DCM_IssuerOfPatientID,
      DCM_PatientInsurancePlanCodeSequence, DCM_ResponsiblePerson, DCM_ResponsibleOrganization,
      DCM_ProtocolName, DCM_ImageComments, DCM_RETIRED_StudyComments, DCM_RequestAttributesSequence,
      DCM_PerformedProcedureStepID, DCM_PerformedProcedureStepDescription, DCM_ScheduledProcedureStepDescription,
      DCM_StudyDescription, DCM_RequestedProcedureDescription, DCM_ReasonForTheRequestedProcedure,
      DCM_RETIRED_AcquisitionComments, DCM_DerivationDescription, DCM_ReferencedPatientSequence, DCM_ReferencedStudySequence,
      DCM_OriginalAttributesSequence, DCM_PersonName, DCM_VerifyingObserverName,
      DCM_CurrentPatientLocation, DCM_PatientState,
      DCM_PregnancyStatus, DCM_SmokingStatus, DCM_MedicalAlerts, DCM_Allergies, DCM_SpecialNeeds};
  return tags;
}

// Attributes the profile empties (Z) where they are required (Type 2): kept present, no value.
const std::set<DcmTagKey>& emptiedTags() {
  static const std::set<DcmTagKey> tags = {DCM_PatientBirthDate, DCM_PatientSex, DCM_ReferringPhysicianName,
                                           DCM_StudyID, DCM_AccessionNumber, DCM_StudyDate, DCM_StudyTime,
                                           DCM_ContentCreatorName, DCM_ReferencedPerformedProcedureStepSequence};
  return tags;
}

// Identifying attributes some objects require (Type 1): a dummy value replaces them.
const std::set<DcmTagKey>& dummiedTags() {
  static const std::set<DcmTagKey> tags = {DCM_DeviceSerialNumber};
  return tags;
}

// Dates and times an object cannot be valid without (Type 1): a dummy value replaces them.
const std::set<DcmTagKey>& requiredDates() {
  static const std::set<DcmTagKey> tags = {DCM_ContentDate, DCM_ContentTime};
  return tags;
}

bool isDateOrTime(DcmEVR vr) { return vr == EVR_DA || vr == EVR_DT || vr == EVR_TM; }

void sweep(DcmItem& item, bool keepDates) {
  // Collect first: removing while iterating invalidates the walk.
  std::vector<DcmTagKey> remove, empty, dummy;
  for (unsigned long i = 0; i < item.card(); ++i) {
    DcmElement* e = item.getElement(i);
    const DcmTagKey key = e->getTag();
    if (key.isPrivate()) {
      remove.push_back(key);
    } else if (removedTags().count(key)) {
      remove.push_back(key);
    } else if (dummiedTags().count(key)) {
      dummy.push_back(key);
    } else if (emptiedTags().count(key) && !(keepDates && isDateOrTime(e->ident()))) {
      empty.push_back(key);
    } else if (!keepDates && isDateOrTime(e->ident())) {
      (requiredDates().count(key) ? dummy : remove).push_back(key);
    } else if (e->ident() == EVR_SQ) {
      auto* seq = static_cast<DcmSequenceOfItems*>(e);
      for (unsigned long j = 0; j < seq->card(); ++j) sweep(*seq->getItem(j), keepDates);
    }
  }
  for (const auto& k : remove) item.findAndDeleteElement(k);
  for (const auto& k : empty) {
    item.findAndDeleteElement(k);
    item.insertEmptyElement(k);
  }
  for (const auto& k : dummy) {
    const char* value = k == DCM_ContentTime ? "000000" : k == DCM_ContentDate ? "19000101" : "ANONYMISED";
    item.putAndInsertString(k, value);
  }
}

}  // namespace

std::string anonymisationKey() {
  const fs::path path = fs::path(userDataDir()) / "anonymisation.key";
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    fs::create_directories(path.parent_path(), ec);
    unsigned char key[32];
    if (RAND_bytes(key, sizeof key) != 1) throw FileError(path.string(), "no random source for a new anonymisation key (OpenSSL)");
    const std::string tmp = path.string() + ".new-" + std::to_string(::getpid());
    {
      const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (fd < 0) throw FileError(tmp, "cannot create the anonymisation key");
      const std::string text = hex(key, sizeof key) + '\n';
      const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
      ::close(fd);
      if (!ok) {
        ::unlink(tmp.c_str());
        throw FileError(tmp, "cannot write the anonymisation key");
      }
    }
    // link() fails when another process created the key meanwhile: then its key is the one.
    (void)::link(tmp.c_str(), path.c_str());
    ::unlink(tmp.c_str());
  }
  std::ifstream in(path);
  std::string key;
  in >> key;
  if (key.size() != 64) {
    if (!fs::exists(path, ec)) throw FileError(path.string(), "cannot create the anonymisation key here (no hard links on this file system?)");
    throw FileError(path.string(), "not an anonymisation key (expected 64 hex digits); remove it to make a new one");
  }
  return key;
}

Anonymiser::Anonymiser(AnonymiseOptions options, std::string secret) : options_(options), secret_(std::move(secret)) {
  if (options_.enabled && secret_.empty()) secret_ = anonymisationKey();
}

std::string Anonymiser::hash(const std::string& what, const std::string& value) const {
  const std::string message = what + '\n' + value;
  unsigned char digest[32];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()), reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), digest, &length);
  return std::string(reinterpret_cast<const char*>(digest), 32);
}

std::string Anonymiser::uid(const std::string& original) const {
  if (!options_.enabled || options_.keepUids || original.empty()) return original;
  // 2.25.<128-bit integer>: the UUID-derived root of PS3.5 B.2, here from the keyed hash.
  const std::string h = hash("uid", original);
  __extension__ typedef unsigned __int128 uint128;  // GCC and Clang: 128-bit arithmetic for the decimal form
  uint128 n = 0;
  for (int i = 0; i < 16; ++i) n = (n << 8) | static_cast<unsigned char>(h[static_cast<std::size_t>(i)]);
  n >>= 1;  // 127 bits: "2.25." plus at most 39 digits stays within the 64-character limit
  std::string digits;
  do {
    digits += static_cast<char>('0' + static_cast<int>(n % 10));
    n /= 10;
  } while (n != 0);
  std::reverse(digits.begin(), digits.end());
  return "2.25." + digits;
}

std::string Anonymiser::patientId(const std::string& original) const {
  if (!options_.enabled) return original;
  const std::string h = hash("patient", original);
  return "AL" + hex(reinterpret_cast<const unsigned char*>(h.data()), 6);
}

std::string Anonymiser::date(const std::string& original) const {
  return !options_.enabled || options_.keepDates ? original : std::string();
}

VolumeMetadata Anonymiser::apply(const VolumeMetadata& m) const {
  if (!options_.enabled) return m;
  VolumeMetadata a;
  // Without an ID (NIfTI, or DICOM's empty Type 2 ID) the pseudonym comes from the study, else the
  // file: one shared pseudonym would file unrelated patients together.
  a.patientId = patientId(!m.patientId.empty() ? m.patientId
                          : !m.studyInstanceUid.empty() ? "study " + m.studyInstanceUid
                                                        : "source " + m.sourcePath);
  a.patientName = "ANONYMISED^" + a.patientId;
  a.studyInstanceUid = uid(m.studyInstanceUid);
  a.seriesInstanceUid = uid(m.seriesInstanceUid);
  a.frameOfReferenceUid = uid(m.frameOfReferenceUid);
  a.studyDate = date(m.studyDate);
  a.studyTime = options_.keepDates ? m.studyTime : std::string();
  a.seriesNumber = m.seriesNumber;
  a.modality = m.modality;
  a.laterality = m.laterality;
  a.bodyPartExamined = m.bodyPartExamined;
  a.sopClassUid = m.sopClassUid;
  for (const auto& s : m.sourceImages) a.sourceImages.push_back({uid(s.sopInstanceUid), s.frame});
  a.sourceFormat = m.sourceFormat;
  a.warnings = m.warnings;
  // Not carried: names, birth date, sex, accession number, study ID, descriptions, the referring
  // physician and the source's path (a folder name is often the patient's).
  return a;
}

void Anonymiser::applyTo(DcmItem& dataset) const {
  if (!options_.enabled) return;
  sweep(dataset, options_.keepDates);
  dataset.putAndInsertString(DCM_PatientIdentityRemoved, "YES");
  dataset.putAndInsertString(DCM_DeidentificationMethod, methodDescription().substr(0, 64).c_str());
  dataset.findAndDeleteElement(DCM_DeidentificationMethodCodeSequence);
  for (const auto& c : methodCodes()) {
    DcmItem* item = nullptr;
    if (dataset.findOrCreateSequenceItem(DCM_DeidentificationMethodCodeSequence, item, -2).good()) {
      item->putAndInsertString(DCM_CodeValue, c.value.c_str());
      item->putAndInsertString(DCM_CodingSchemeDesignator, c.scheme.c_str());
      item->putAndInsertString(DCM_CodeMeaning, c.meaning.c_str());
    }
  }
}

std::string Anonymiser::methodDescription() const {
  if (!options_.enabled) return {};
  std::string s = "PS3.15 Basic Profile";
  if (options_.keepDates) s += ", dates kept";
  if (options_.keepUids) s += ", UIDs kept";
  return s;
}

std::vector<Anonymiser::Code> Anonymiser::methodCodes() const {
  std::vector<Code> codes;
  if (!options_.enabled) return codes;
  codes.push_back({"113100", "DCM", "Basic Application Confidentiality Profile"});
  if (options_.keepDates) codes.push_back({"113106", "DCM", "Retain Longitudinal Temporal Information Full Dates Option"});
  if (options_.keepUids) codes.push_back({"113110", "DCM", "Retain UIDs Option"});
  return codes;
}

}  // namespace al::report
