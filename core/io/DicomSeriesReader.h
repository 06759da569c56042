#pragma once
// DICOM folders: index the files by reading their headers only (never the pixel data), group
// them into series, and assemble a series into one volume with its slices ordered by their
// position along the slice normal (never by file name).

#include <string>
#include <utility>
#include <vector>

#include "image/Volume.h"
#include "io/DicomPixels.h"

namespace al {

struct DicomFileHeader {
  std::string path;
  std::string sopClassUid, sopInstanceUid, seriesInstanceUid, studyInstanceUid;
  std::string modality, seriesDescription, seriesNumber, transferSyntax;
  std::string patientName, patientId, studyDate, studyDescription;
  std::string patientBirthDate, patientSex, accessionNumber, laterality;
  // MR acquisition, for telling contrasts apart (0 / empty when absent).
  std::string protocolName, scanningSequence, contrastAgent;
  double echoTime = 0, repetitionTime = 0, inversionTime = 0, diffusionBValue = 0;
  int rows = 0, columns = 0, frames = 1, instanceNumber = 0;
  bool hasPosition = false, hasOrientation = false;
  double position[3] = {0, 0, 0};
  double orientation[6] = {1, 0, 0, 0, 1, 0};
  DicomPixelLayout layout;  // valid when rows and columns are non-zero
};

struct DicomSeriesEntry {
  std::string seriesInstanceUid;
  std::string modality, seriesNumber, seriesDescription;
  std::string patientName, patientId, studyInstanceUid, studyDate, studyDescription;
  std::string patientBirthDate, patientSex, accessionNumber, laterality;
  std::vector<DicomFileHeader> files;
};

struct DicomFolderIndex {
  std::vector<DicomSeriesEntry> series;
  std::vector<std::pair<std::string, std::string>> errors;  // (file, reason) of unreadable files
};

// True when `path` is a DICOMDIR (a DICOM media directory, not an image).
bool isDicomDir(const std::string& path);

// The files a DICOMDIR references, grouped by series like indexDicomFolder. References that do
// not resolve to a file are listed in `errors`. Throws FileError for an unreadable DICOMDIR.
DicomFolderIndex indexDicomDir(const std::string& dicomdir);

// Reads the header of one file (stops before the pixel data). Throws FileError.
DicomFileHeader readDicomHeader(const std::string& path);

// Every DICOM file under `folder` (recursively), grouped by series. Files that are not DICOM
// are skipped, and so are valid DICOM objects without an image (DICOMDIR, SR); files that claim
// to be DICOM but cannot be parsed, or carry no SOP Class UID, are listed in `errors`.
DicomFolderIndex indexDicomFolder(const std::string& folder);

// One consistent stack of a series: same size, orientation and pixel format, one slice per
// position, evenly spaced. A series that is not one such stack (mixed sizes or orientations,
// two images per position as in multi-echo, a gap) is split into several, with notes saying why.
struct DicomStack {
  std::vector<DicomFileHeader> files;  // in slice order (along the normal)
  double spacing = 0.0;                // between slices, mm (0 for a single image)
  double tiltDegrees = 0.0;            // angle between the slice normal and the stacking direction
  std::string label;                   // e.g. "stack 2 of 3: 20 images, 3 mm"
};

struct DicomSeriesPlan {
  std::vector<DicomStack> stacks;
  std::vector<std::string> notes;  // why the series was split, what was found
};

DicomSeriesPlan planDicomSeries(const DicomSeriesEntry& series);

// Decodes a stack into one volume: slices decoded in parallel straight into the volume's buffer.
// Throws FileError naming the file that failed.
Volume readDicomStack(const DicomStack& stack);

// The series as one volume when it is one consistent stack; otherwise a FileError naming the
// series' first file and listing the stacks (read them with planDicomSeries/readDicomStack).
Volume readDicomSeries(const DicomSeriesEntry& series);

}  // namespace al
