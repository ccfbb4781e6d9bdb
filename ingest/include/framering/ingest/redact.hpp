// The project's one credential redaction. Every source string that reaches a log line, an error
// message, a metric or `framering stat` goes through redact_source(); free text that may contain
// a URL somewhere (argv, a child's command line, a parse error) goes through redact_urls().
// The supervisor, the CLI and the ingest all use these functions and no other.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace framering::ingest {

// "rtsp://user:pw@host/x?token=abc" -> "rtsp://user:***@host/x?token=***". Strings without a
// scheme (file paths, testsrc:, npy:) are returned unchanged.
std::string redact_source(std::string_view source);

// Every URL inside `text` ("--source=rtsp://u:pw@h/x", "cannot open rtsp://t0k@h: 401") passed
// through redact_source(); the text around them is kept. A URL starts at its scheme (letters,
// digits, '+', '-', '.' before "://") and ends at whitespace, a quote, '<', '>' or the end.
std::string redact_urls(std::string_view text);

// The secret substrings of every URL inside `text` (see redact_urls), as source_secrets().
std::vector<std::string> secrets_in_text(std::string_view text);

// The secret substrings of `source` (password, a bare userinfo token, secret query values),
// percent-decoded too, so free text (e.g. a libav log line) can be scrubbed with redact_text().
std::vector<std::string> source_secrets(std::string_view source);

// Replaces every occurrence of each secret in `text` with "***".
std::string redact_text(std::string text, const std::vector<std::string>& secrets);

// Overwrites the secrets of every URL in a NUL-terminated argument with '*', in place and at the
// same length; the URL may be the whole argument or follow "--source=" (or anything else). main()
// runs it over argv (after keeping a copy to parse) because other local users can read a process's
// arguments from /proc/<pid>/cmdline.
void mask_secrets_in_place(char* arg);

}  // namespace framering::ingest
