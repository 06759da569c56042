#include "io/VolumeInfo.h"

#include <nlohmann/json.hpp>

namespace al {

nlohmann::json describeVolume(const Volume& volume) {
  using nlohmann::json;
  const auto& s = volume.size();
  const auto range = volume.valueRange();
  const auto& m = volume.metadata();
  json j;
  j["path"] = m.sourcePath;
  j["format"] = m.sourceFormat;
  j["size"] = {s.x, s.y, s.z};
  j["channels"] = volume.channels();
  j["spacing"] = volume.spacing();
  j["origin"] = volume.origin();
  j["direction"] = volume.direction();
  j["pixel_type"] = pixelTypeName(volume.pixelType());
  j["value_range"] = {range.min, range.max};
  bool named = false;
  for (const auto& n : volume.channelNames()) named = named || !n.empty();
  if (named) j["channel_names"] = volume.channelNames();
  if (!m.transferSyntax.empty()) j["transfer_syntax"] = m.transferSyntax;
  json meta = json::object();
  auto put = [&](const char* key, const std::string& v) {
    if (!v.empty()) meta[key] = v;
  };
  put("patient_name", m.patientName);
  put("patient_id", m.patientId);
  put("patient_birth_date", m.patientBirthDate);
  put("patient_sex", m.patientSex);
  put("study_instance_uid", m.studyInstanceUid);
  put("study_date", m.studyDate);
  put("study_description", m.studyDescription);
  put("accession_number", m.accessionNumber);
  put("series_instance_uid", m.seriesInstanceUid);
  put("series_number", m.seriesNumber);
  put("series_description", m.seriesDescription);
  put("modality", m.modality);
  put("laterality", m.laterality);
  j["metadata"] = meta;
  if (!m.warnings.empty()) j["warnings"] = m.warnings;
  return j;
}

}  // namespace al
