// Credentials never leave the process: every source string that reaches a log line, an error
// message, a metric or `framering stat` goes through redact_source() first.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace framering::ingest {

// "rtsp://user:pw@host/x?token=abc" -> "rtsp://user:***@host/x?token=***". Strings without a
// scheme (file paths, testsrc:, npy:) are returned unchanged.
std::string redact_source(std::string_view source);

// The secret substrings of `source` (password, a bare userinfo token, secret query values),
// percent-decoded too, so free text (e.g. a libav log line) can be scrubbed with redact_text().
std::vector<std::string> source_secrets(std::string_view source);

// Replaces every occurrence of each secret in `text` with "***".
std::string redact_text(std::string text, const std::vector<std::string>& secrets);

// Overwrites the secrets of a source URL in a NUL-terminated argument with '*', in place and at
// the same length. main() runs it over argv (after keeping a copy to parse) because other local
// users can read a process's arguments from /proc/<pid>/cmdline.
void mask_secrets_in_place(char* arg);

}  // namespace framering::ingest
