#pragma once
// The one error type that crosses layers. Every failure the user can cause (a bad file, a
// mismatched model) is an al::Error carrying its context (usually the file) and the reason;
// message() is what the CLI prints and the viewer shows, so there is one place where errors
// become user messages.

#include <stdexcept>
#include <string>

namespace al {

class Error : public std::runtime_error {
 public:
  Error(std::string context, std::string reason)
      : std::runtime_error(context.empty() ? reason : context + ": " + reason),
        context_(std::move(context)),
        reason_(std::move(reason)) {}

  // What the error is about, usually a file path; may be empty.
  const std::string& context() const { return context_; }
  const std::string& reason() const { return reason_; }
  std::string message() const { return what(); }

 private:
  std::string context_;
  std::string reason_;
};

// A file that cannot be read or written: the path and why.
class FileError : public Error {
 public:
  FileError(const std::string& path, std::string reason) : Error(path, std::move(reason)) {}
  const std::string& path() const { return context(); }
};

}  // namespace al
