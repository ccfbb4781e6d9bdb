// Redaction works on the URL's structure (userinfo, query values), not on a regex over free
// text, so it cannot miss a password containing '@', ':' or '/' (those are percent-encoded in a
// valid URL; the last '@' before the path ends the userinfo).
#include "framering/ingest/redact.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>

namespace framering::ingest {

namespace {

constexpr std::string_view kMask = "***";

// Query keys whose values are credentials (lower case; matched as substrings of the key, so
// "access_token", "X-Amz-Signature", "apikey", "passwd", "sessionid" are covered). Masking a
// harmless value by mistake costs a log line's detail; missing a secret costs the camera.
constexpr std::array<std::string_view, 9> kSecretKeys = {
    "pass", "pwd", "token", "secret", "auth", "key", "sig", "credential", "session"};

struct UrlParts {
  std::size_t authority_begin = std::string_view::npos;  // after "scheme://"
  std::size_t authority_end = 0;                         // first '/', '?' or '#' after it
  std::size_t at = std::string_view::npos;               // last '@' in the authority
  std::size_t query_begin = std::string_view::npos;      // after '?'
  std::size_t query_end = 0;                             // '#' or end
};

UrlParts split_url(std::string_view url) {
  UrlParts p;
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos || scheme_end == 0) return p;
  for (std::size_t i = 0; i < scheme_end; ++i) {
    const unsigned char c = static_cast<unsigned char>(url[i]);
    if (!std::isalnum(c) && c != '+' && c != '-' && c != '.') return p;
  }
  p.authority_begin = scheme_end + 3;
  p.authority_end = url.find_first_of("/?#", p.authority_begin);
  if (p.authority_end == std::string_view::npos) p.authority_end = url.size();
  const std::size_t at = url.rfind('@', p.authority_end == 0 ? 0 : p.authority_end - 1);
  if (at != std::string_view::npos && at >= p.authority_begin) p.at = at;
  const std::size_t q = url.find('?', p.authority_end);
  if (q != std::string_view::npos) {
    p.query_begin = q + 1;
    p.query_end = url.find('#', p.query_begin);
    if (p.query_end == std::string_view::npos) p.query_end = url.size();
  }
  return p;
}

bool is_secret_key(std::string_view key) {
  std::string lower(key);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::any_of(kSecretKeys.begin(), kSecretKeys.end(),
                     [&](std::string_view k) { return lower.find(k) != std::string::npos; });
}

// Calls fn(value_begin, value_end) for every secret query value in [begin, end).
template <typename Fn>
void for_each_secret_value(std::string_view url, std::size_t begin, std::size_t end, Fn fn) {
  std::size_t pos = begin;
  while (pos < end) {
    std::size_t amp = url.find('&', pos);
    if (amp == std::string_view::npos || amp > end) amp = end;
    const std::size_t eq = url.find('=', pos);
    if (eq != std::string_view::npos && eq < amp && is_secret_key(url.substr(pos, eq - pos)) &&
        eq + 1 < amp) {
      fn(eq + 1, amp);
    }
    pos = amp + 1;
  }
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      const int hi = hex_value(text[i + 1]);
      const int lo = hex_value(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

bool is_scheme_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
}

bool ends_url(char c) {
  return std::isspace(static_cast<unsigned char>(c)) ||
         std::iscntrl(static_cast<unsigned char>(c)) || c == '"' || c == '\'' || c == '<' ||
         c == '>' || c == '`';
}

// Calls fn(begin, end) for every URL inside `text`, in order, without overlaps.
template <typename Fn>
void for_each_url(std::string_view text, Fn fn) {
  std::size_t pos = 0;
  for (std::size_t sep; (sep = text.find("://", pos)) != std::string_view::npos;) {
    std::size_t begin = sep;
    while (begin > pos && is_scheme_char(text[begin - 1])) --begin;
    // "--source=rtsp" stops at '='; "--rtsp" and "9rtsp" lose what cannot start a scheme.
    while (begin < sep && !std::isalpha(static_cast<unsigned char>(text[begin]))) ++begin;
    if (begin == sep) {
      pos = sep + 3;
      continue;
    }
    std::size_t end = sep + 3;
    while (end < text.size() && !ends_url(text[end])) ++end;
    fn(begin, end);
    pos = end;
  }
}

}  // namespace

std::string redact_urls(std::string_view text) {
  std::string out;
  std::size_t copied = 0;
  for_each_url(text, [&](std::size_t b, std::size_t e) {
    out += text.substr(copied, b - copied);
    out += redact_source(text.substr(b, e - b));
    copied = e;
  });
  out += text.substr(copied);
  return out;
}

std::vector<std::string> secrets_in_text(std::string_view text) {
  std::vector<std::string> secrets;
  for_each_url(text, [&](std::size_t b, std::size_t e) {
    for (std::string& s : source_secrets(text.substr(b, e - b))) secrets.push_back(std::move(s));
  });
  std::sort(secrets.begin(), secrets.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  return secrets;
}

std::string redact_source(std::string_view source) {
  const UrlParts p = split_url(source);
  if (p.authority_begin == std::string_view::npos) return std::string(source);
  std::string out(source.substr(0, p.authority_begin));
  if (p.at != std::string_view::npos) {
    const std::string_view userinfo = source.substr(p.authority_begin, p.at - p.authority_begin);
    const std::size_t colon = userinfo.find(':');
    // user:password keeps the user; a lone token (no ':') is itself the credential.
    if (colon != std::string_view::npos) {
      out += userinfo.substr(0, colon);
      out += ':';
    }
    out += kMask;
    out += source.substr(p.at, p.authority_end - p.at);
  } else {
    out += source.substr(p.authority_begin, p.authority_end - p.authority_begin);
  }
  std::size_t copied = p.authority_end;
  if (p.query_begin != std::string_view::npos) {
    for_each_secret_value(source, p.query_begin, p.query_end, [&](std::size_t b, std::size_t e) {
      out += source.substr(copied, b - copied);
      out += kMask;
      copied = e;
    });
  }
  out += source.substr(copied);
  return out;
}

std::vector<std::string> source_secrets(std::string_view source) {
  std::vector<std::string> secrets;
  const UrlParts p = split_url(source);
  if (p.authority_begin == std::string_view::npos) return secrets;
  auto add = [&](std::string_view s) {
    if (s.empty()) return;
    secrets.emplace_back(s);
    std::string decoded = percent_decode(s);
    if (decoded != s && !decoded.empty()) secrets.push_back(std::move(decoded));
  };
  if (p.at != std::string_view::npos) {
    const std::string_view userinfo = source.substr(p.authority_begin, p.at - p.authority_begin);
    const std::size_t colon = userinfo.find(':');
    add(colon == std::string_view::npos ? userinfo : userinfo.substr(colon + 1));
  }
  if (p.query_begin != std::string_view::npos) {
    for_each_secret_value(source, p.query_begin, p.query_end,
                          [&](std::size_t b, std::size_t e) { add(source.substr(b, e - b)); });
  }
  // Longest first, so a secret that contains another is masked whole.
  std::sort(secrets.begin(), secrets.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  return secrets;
}

std::string redact_text(std::string text, const std::vector<std::string>& secrets) {
  for (const std::string& secret : secrets) {
    if (secret.empty()) continue;
    for (std::size_t pos = text.find(secret); pos != std::string::npos;
         pos = text.find(secret, pos + kMask.size())) {
      text.replace(pos, secret.size(), kMask);
    }
  }
  return text;
}

void mask_secrets_in_place(char* arg) {
  const std::string_view text(arg);
  for (const std::string& secret : secrets_in_text(text)) {
    for (std::size_t pos = text.find(secret); pos != std::string_view::npos;
         pos = text.find(secret, pos + secret.size())) {
      std::memset(arg + pos, '*', secret.size());
    }
  }
}

}  // namespace framering::ingest
