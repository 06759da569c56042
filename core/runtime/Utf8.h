#pragma once
// Text shown, printed or exported is always valid UTF-8: bytes that are not (a legacy character
// set the file did not declare, or damage) are replaced by U+FFFD, the replacement character,
// so the reader sees where text was lost and JSON, Qt, the PDF and DICOM SR never fail on it.

#include <string>
#include <string_view>

namespace al {

// `text` with every byte sequence that is not valid UTF-8 (overlong forms, surrogates and code
// points above U+10FFFF included) replaced by U+FFFD; `replaced` says whether any was.
std::string validUtf8(std::string_view text, bool* replaced = nullptr);

}  // namespace al
