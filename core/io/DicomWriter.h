#pragma once
// Writes volumes as DICOM with DCMTK: an MR Image Storage series (one file per slice) and an
// Ophthalmic Tomography Image Storage object (one multi-frame file of B-scans with its
// functional groups). Files are written atomically; UIDs are fresh unless given.

#include <string>
#include <vector>

#include "image/Volume.h"

namespace al {

// Patient and study: shared by every series of one study.
struct DicomStudy {
  std::string patientName = "ANONYMOUS";
  std::string patientId = "UNKNOWN";
  std::string patientBirthDate;  // YYYYMMDD or empty
  std::string patientSex;        // M, F, O or empty
  std::string studyInstanceUid;  // generated when empty
  std::string studyDate;         // YYYYMMDD; today when empty
  std::string studyTime;         // HHMMSS; now when empty
  std::string studyDescription;
  std::string accessionNumber;
  std::string studyId = "1";
  std::string frameOfReferenceUid;  // generated when empty; series of one scan share it
  // Fills the generated fields once, so that several series agree.
  void complete();
};

struct DicomSeries {
  std::string seriesInstanceUid;  // generated when empty
  int seriesNumber = 1;
  std::string seriesDescription;
  std::string laterality;  // OCT: R or L
  // MR acquisition (ms); ignored for OCT.
  double repetitionTime = 0, echoTime = 0, inversionTime = 0;
  bool contrastAgent = false;
};

std::string newDicomUid();

// One file per z slice (IM00001.dcm, ...) in `folder`, int16 voxels of `channel`, with the
// volume's geometry (ImagePositionPatient per slice, ImageOrientationPatient from its direction
// cosines). Returns the files written. Throws FileError.
std::vector<std::string> writeDicomMrSeries(const Volume& volume, int channel, const std::string& folder,
                                            DicomStudy study, const DicomSeries& series);

// A uint8 OCT volume (x lateral, y axial, z B-scan) as one Ophthalmic Tomography multi-frame
// file. Throws FileError.
void writeDicomOphthalmicTomography(const Volume& volume, const std::string& path, DicomStudy study,
                                    const DicomSeries& series);

}  // namespace al
