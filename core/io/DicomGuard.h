#pragma once
// What is checked about a DICOM file before DCMTK parses or a decoder allocates, so that no file
// can crash the process or make it allocate what its header claims:
// - sequence nesting: DCMTK's parser (and its destructors) recurse once per sequence level, so a
//   file of a few kilobytes nested thousands of levels deep exhausts the stack. A separate walk
//   over the element stream, iterative and reading only headers, refuses files that nest deeper
//   than kMaxSequenceDepth before DCMTK sees them;
// - image sizes: rows x columns x frames x samples x bytes is checked against the file for
//   uncompressed pixel data and against the memory budget for everything (runtime/MemoryBudget.h).

#include <cstdint>
#include <string>

class DcmFileFormat;
class DcmTagKey;

namespace al {

// Real data nests a handful of levels (an enhanced multi-frame file about 4, an SR tree about
// 10); the limit leaves a wide margin and keeps DCMTK's recursion far from any stack limit.
constexpr int kMaxSequenceDepth = 128;

// The deepest sequence nesting in the file at `path` (0: no sequences). Reads element headers
// only, seeking over values; a deflated dataset is inflated within the memory budget first.
// Stops quietly where the stream stops making sense (DCMTK then reports the damage).
int dicomSequenceDepth(const std::string& path);

// Throws FileError naming the file when its sequences nest deeper than kMaxSequenceDepth.
void checkDicomNesting(const std::string& path);

// Loads `path` into `file` with DCMTK (up to `stopTag` when given) after refusing files nested
// deeper than kMaxSequenceDepth. Throws FileError naming the file for a refused or unreadable
// file.
void loadDicomFile(DcmFileFormat& file, const std::string& path);
void loadDicomFile(DcmFileFormat& file, const std::string& path, const DcmTagKey& stopTag);

// The same, without throwing for unreadable files: false when DCMTK cannot read it (nesting
// still throws: such a file is hostile, not merely not DICOM).
bool tryLoadDicomFile(DcmFileFormat& file, const std::string& path);
bool tryLoadDicomFile(DcmFileFormat& file, const std::string& path, const DcmTagKey& stopTag);

}  // namespace al
