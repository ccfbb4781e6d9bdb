// Errors from creating or attaching a ring. Each carries the CLI exit code it maps to
// (docs/design.md: 2 usage/config, 4 ring error) and a message that says what to do next.
#pragma once

#include <stdexcept>
#include <string>

namespace framering::ring {

enum class ErrorKind {
  kInvalidArgument,  // bad name, geometry or slot count: exit 2
  kNotFound,         // no segment under that name (yet)
  kLiveWriter,       // another writer holds the ring
  kBadHeader,        // the segment is not a valid ring
  kPermission,       // mode/owner forbids access
  kNoSpace,          // /dev/shm too small
  kSystem,           // any other syscall failure
};

class RingError : public std::runtime_error {
 public:
  RingError(ErrorKind kind, const std::string& message)
      : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const noexcept { return kind_; }
  int exit_code() const noexcept { return kind_ == ErrorKind::kInvalidArgument ? 2 : 4; }

 private:
  ErrorKind kind_;
};

}  // namespace framering::ring
