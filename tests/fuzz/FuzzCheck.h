#pragma once
// What every fuzz target asserts besides "no crash": an input that is refused is refused with an
// al::Error whose message names the file, and no other exception escapes (libFuzzer reports an
// escaped exception as a crash: std::terminate aborts).

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "errors/Error.h"

namespace al::fuzz {

inline void requireNamesFile(const al::Error& e, const std::string& path) {
  const std::string name = std::filesystem::path(path).filename().string();
  if (e.message().find(name) == std::string::npos) {
    std::fprintf(stderr, "error does not name the file %s: %s\n", name.c_str(), e.message().c_str());
    std::abort();
  }
}

}  // namespace al::fuzz

// Leaks that are not the project's, left alone here (a few kilobytes per refused file):
// ITK 5.2's image IO does not free what it allocated when a header is malformed. Found so far:
// NrrdImageIO (the Nrrd and its gzip stream: ReadImageInformation throws without nrrdNuke) and
// MetaImageIO (MetaImage::ReadStream). Any ITK IO module is suppressed, since fuzzing finds the
// next one by chance and would fail CI on a leak that is not ours.
// DCMTK 3.6.7 is not exception-safe: when its parser throws (std::out_of_range from a malformed
// directory record, now caught and refused), the objects it had built leak. Our own DCMTK objects
// are held by value or unique_ptr; this suppression would also hide a leak of ours that DCMTK
// allocated, which review has to catch instead.
// Defined once per fuzz target (each target includes this header from its one source file).
extern "C" const char* __lsan_default_suppressions() { return "leak:libITK\nleak:libdcmdata\n"; }
