#pragma once
// De-identification on export: the DICOM PS3.15 Basic Application Level Confidentiality Profile
// (Annex E), with its Retain Longitudinal Temporal Information with Full Dates option ("keep
// dates") and its Retain UIDs option ("keep UIDs"). One Anonymiser serves one export: the PDF,
// the report's JSON and every DICOM object take their names, IDs, dates and UIDs from it, so they
// agree with each other and say nothing the profile removes.
//
// Replaced UIDs and the pseudonymous patient ID are keyed hashes of the originals (HMAC-SHA-256
// with a secret kept in the user's data folder), not random: exporting the same study twice gives
// the same new study UID and patient ID, so follow-up exports stay linkable without the originals
// leaving the site. The secret never leaves the machine; without it the originals cannot be
// recovered from the hashes.

#include <string>
#include <vector>

#include "image/Volume.h"

class DcmItem;

namespace al::report {

struct AnonymiseOptions {
  bool enabled = false;
  bool keepDates = false;  // Retain Longitudinal Temporal Information with Full Dates Option
  bool keepUids = false;   // Retain UIDs Option
};

class Anonymiser {
 public:
  // `secret`: the key of the UID and ID hashes; empty reads (or creates) the user's key file.
  explicit Anonymiser(AnonymiseOptions options, std::string secret = {});

  const AnonymiseOptions& options() const { return options_; }
  bool enabled() const { return options_.enabled; }

  // The metadata as the export states it: identity replaced, dates kept or removed, UIDs mapped.
  // Unchanged when anonymisation is off.
  VolumeMetadata apply(const VolumeMetadata& m) const;
  // A UID of the source (study, series, instance, frame of reference) as the export writes it.
  std::string uid(const std::string& original) const;
  std::string patientId(const std::string& original) const;
  // A date (DA) or date-time as the export writes it: kept, or empty.
  std::string date(const std::string& original) const;

  // The profile applied to a dataset the export built (recursively, into sequences): identifying
  // attributes removed or emptied, dates emptied (or, where a value is required, a dummy), private
  // elements removed, and Patient Identity Removed / De-identification Method (Code Sequence)
  // set. UIDs are left as they are: the export already wrote them through uid().
  void applyTo(DcmItem& dataset) const;

  // "PS3.15 Basic Application Level Confidentiality Profile; dates kept", for reports.
  std::string methodDescription() const;
  // The CID 7050 codes of the profile and its options, for De-identification Method Code Sequence.
  struct Code {
    std::string value, scheme, meaning;
  };
  std::vector<Code> methodCodes() const;

 private:
  std::string hash(const std::string& what, const std::string& value) const;

  AnonymiseOptions options_;
  std::string secret_;
};

// The user's anonymisation key: a random 32-byte key in the user's data folder, created once
// (atomically) with owner-only permissions.
std::string anonymisationKey();

}  // namespace al::report
