#pragma once
// DICOM folders: index the files by reading their headers only (never the pixel data), group
// them into series, and assemble a series into one volume with its slices ordered by their
// position along the slice normal (never by file name).

#include <string>
#include <utility>
#include <vector>

#include "image/Volume.h"

namespace al {

struct DicomFileHeader {
  std::string path;
  std::string sopClassUid, sopInstanceUid, seriesInstanceUid, studyInstanceUid;
  std::string modality, seriesDescription, seriesNumber, transferSyntax;
  std::string patientName, patientId, studyDate, studyDescription;
  int rows = 0, columns = 0, frames = 1, instanceNumber = 0;
  bool hasPosition = false, hasOrientation = false;
  double position[3] = {0, 0, 0};
  double orientation[6] = {1, 0, 0, 0, 1, 0};
};

struct DicomSeriesEntry {
  std::string seriesInstanceUid;
  std::string modality, seriesNumber, seriesDescription;
  std::string patientName, patientId, studyInstanceUid, studyDate, studyDescription;
  std::vector<DicomFileHeader> files;
};

struct DicomFolderIndex {
  std::vector<DicomSeriesEntry> series;
  std::vector<std::pair<std::string, std::string>> errors;  // (file, reason) of unreadable files
};

// Reads the header of one file (stops before the pixel data). Throws FileError.
DicomFileHeader readDicomHeader(const std::string& path);

// Every DICOM file under `folder` (recursively), grouped by series. Files that are not DICOM
// are skipped, and so are valid DICOM objects without an image (DICOMDIR, SR); files that claim
// to be DICOM but cannot be parsed, or carry no SOP Class UID, are listed in `errors`.
DicomFolderIndex indexDicomFolder(const std::string& folder);

// Assembles one series. Throws FileError (naming the series' first file) for inconsistent
// series: mixed sizes or orientations, duplicate positions, uneven spacing.
Volume readDicomSeries(const DicomSeriesEntry& series);

}  // namespace al
