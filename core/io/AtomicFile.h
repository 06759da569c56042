#pragma once
// Nothing the user made is ever half-written: writers produce a temporary file next to the
// target (same folder, so the rename is atomic on one file system) and rename it into place.

#include <functional>
#include <string>

namespace al {

// Calls write(tmpPath) with a fresh temporary path in the target's folder that ends with the
// target's file name (so extension-sniffing writers such as ITK's pick the same format), then
// renames it onto `path`. On any exception the temporary file is removed and the exception
// rethrown; an existing file at `path` is untouched until the rename.
void writeAtomically(const std::string& path, const std::function<void(const std::string& tmpPath)>& write);

// Writes bytes to path atomically; throws FileError.
void writeFileAtomically(const std::string& path, const std::string& bytes);

}  // namespace al
