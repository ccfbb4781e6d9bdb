#include "argv_secrets.hpp"

#include <algorithm>
#include <vector>

#include "framering/ingest/redact.hpp"

namespace framering::cli {

namespace {

std::vector<std::string>& secrets() {
  static std::vector<std::string> all;
  return all;
}

}  // namespace

void take_argv_secrets(int argc, char** argv) {
  std::vector<std::string>& all = secrets();
  for (int i = 1; i < argc; ++i) {
    for (std::string& s : ingest::secrets_in_text(argv[i])) all.push_back(std::move(s));
    ingest::mask_secrets_in_place(argv[i]);
  }
  // Longest first, so a secret that contains another is masked whole.
  std::sort(all.begin(), all.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

std::string redacted(std::string_view message) {
  return ingest::redact_text(ingest::redact_urls(message), secrets());
}

}  // namespace framering::cli
