// A strict parser for the one dict literal numpy.lib.format writes. It accepts exactly the
// three keys numpy writes ('descr', 'fortran_order', 'shape'), in any order, with either quote
// style, and rejects everything else with a message naming what it found.
#include "framering/ingest/npy_header.hpp"

#include <array>
#include <cstring>
#include <optional>
#include <string_view>

namespace framering::ingest {

namespace {

constexpr std::array<unsigned char, 6> kMagic = {0x93, 'N', 'U', 'M', 'P', 'Y'};
constexpr std::size_t kMaxDimsInFile = 32;  // numpy's own limit (NPY_MAXDIMS)

[[noreturn]] void fail(const std::string& what) {
  throw NpyError("invalid .npy header: " + what);
}

class DictParser {
 public:
  explicit DictParser(std::string_view text) : text_(text) {}

  void parse(NpyHeader& out) {
    bool have_descr = false, have_order = false, have_shape = false;
    skip_ws();
    expect('{');
    for (;;) {
      skip_ws();
      if (peek() == '}') break;
      const std::string key = parse_string("a key");
      skip_ws();
      expect(':');
      skip_ws();
      if (key == "descr") {
        if (peek() == '[') fail("structured dtypes (a list 'descr') are not supported");
        out.descr = parse_string("'descr'");
        have_descr = true;
      } else if (key == "fortran_order") {
        out.fortran_order = parse_bool();
        have_order = true;
      } else if (key == "shape") {
        out.shape = parse_shape();
        have_shape = true;
      } else {
        fail("unexpected key '" + key + "' (expected descr, fortran_order, shape)");
      }
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != '}') fail(std::string("expected ',' or '}' at offset ") + std::to_string(pos_));
    }
    ++pos_;  // '}'
    for (; pos_ < text_.size(); ++pos_) {
      const char c = text_[pos_];
      if (c != ' ' && c != '\n' && c != '\t' && c != '\r' && c != '\0') {
        fail("trailing bytes after the header dict");
      }
    }
    if (!have_descr || !have_order || !have_shape) {
      fail("missing key(s):" + std::string(have_descr ? "" : " descr") +
           (have_order ? "" : " fortran_order") + (have_shape ? "" : " shape"));
    }
  }

 private:
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  void skip_ws() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  void expect(char c) {
    if (peek() != c) {
      fail(std::string("expected '") + c + "' at offset " + std::to_string(pos_));
    }
    ++pos_;
  }

  std::string parse_string(const char* what) {
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail(std::string("expected a quoted string for ") + what);
    ++pos_;
    const std::size_t end = text_.find(quote, pos_);
    if (end == std::string_view::npos) fail(std::string("unterminated string for ") + what);
    std::string value(text_.substr(pos_, end - pos_));
    if (value.find('\\') != std::string::npos) fail(std::string("escapes in ") + what);
    pos_ = end + 1;
    return value;
  }

  bool parse_bool() {
    if (text_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (text_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    fail("'fortran_order' must be True or False");
  }

  std::uint64_t parse_uint() {
    if (peek() < '0' || peek() > '9') fail("shape entries must be non-negative integers");
    std::uint64_t value = 0;
    while (peek() >= '0' && peek() <= '9') {
      const auto digit = static_cast<std::uint64_t>(peek() - '0');
      if (value > (UINT64_MAX - digit) / 10) fail("shape entry too large");
      value = value * 10 + digit;
      ++pos_;
    }
    if (peek() == 'L') ++pos_;  // Python 2 longs
    return value;
  }

  std::vector<std::uint64_t> parse_shape() {
    std::vector<std::uint64_t> shape;
    expect('(');
    skip_ws();
    while (peek() != ')') {
      if (shape.size() == kMaxDimsInFile) fail("more than 32 dimensions");
      shape.push_back(parse_uint());
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        skip_ws();
      } else if (peek() != ')') {
        fail("expected ',' or ')' in 'shape'");
      }
    }
    ++pos_;
    return shape;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

// "<u2" -> "<u2", "|u1" / "<u1" -> "|u1"; nullopt for anything the ring cannot describe.
std::optional<std::pair<std::string, std::uint64_t>> ring_typestr(const std::string& descr) {
  if (descr.size() != 3) return std::nullopt;
  const char order = descr[0], kind = descr[1], size = descr[2];
  if (order != '<' && order != '|' && order != '=') return std::nullopt;
  if (kind != 'u' && kind != 'i' && kind != 'f') return std::nullopt;
  switch (size) {
    case '1':
      if (kind == 'f') return std::nullopt;
      return std::make_pair(std::string("|") + kind + '1', 1);
    case '2':
      if (kind == 'f' || order == '|') return std::nullopt;
      return std::make_pair(std::string("<") + kind + '2', 2);
    case '4':
    case '8':
      if (order == '|') return std::nullopt;
      return std::make_pair(std::string("<") + kind + size, static_cast<std::uint64_t>(size - '0'));
    default:
      return std::nullopt;
  }
}

}  // namespace

NpyHeader parse_npy_header(std::span<const std::byte> bytes) {
  const auto* raw = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < 10) fail("file shorter than the 10-byte preamble");
  if (std::memcmp(raw, kMagic.data(), kMagic.size()) != 0) {
    fail("missing the \\x93NUMPY magic (not a .npy file)");
  }
  NpyHeader h;
  h.major = raw[6];
  h.minor = raw[7];
  std::size_t prefix = 0, header_len = 0;
  if (h.major == 1) {
    prefix = 10;
    header_len = static_cast<std::size_t>(raw[8]) | static_cast<std::size_t>(raw[9]) << 8;
  } else if (h.major == 2 || h.major == 3) {
    prefix = 12;
    if (bytes.size() < prefix) fail("file shorter than the 12-byte version 2 preamble");
    header_len = static_cast<std::size_t>(raw[8]) | static_cast<std::size_t>(raw[9]) << 8 |
                 static_cast<std::size_t>(raw[10]) << 16 | static_cast<std::size_t>(raw[11]) << 24;
  } else {
    fail("unsupported format version " + std::to_string(h.major) + "." + std::to_string(h.minor) +
         " (expected 1.x, 2.x or 3.x)");
  }
  if (header_len > kMaxNpyHeaderBytes) {
    fail("header length " + std::to_string(header_len) + " exceeds " +
         std::to_string(kMaxNpyHeaderBytes) + " bytes");
  }
  if (bytes.size() - prefix < header_len) {
    fail("truncated: header says " + std::to_string(header_len) + " bytes, file has " +
         std::to_string(bytes.size() - prefix));
  }
  const std::string_view text(reinterpret_cast<const char*>(raw + prefix), header_len);
  DictParser(text).parse(h);

  const auto typestr = ring_typestr(h.descr);
  if (!typestr) {
    fail("dtype '" + h.descr +
         "' is not supported (use little-endian u1 i1 u2 i2 u4 i4 u8 i8 f4 f8)");
  }
  h.typestr = typestr->first;
  h.item_bytes = typestr->second;
  std::uint64_t total = h.item_bytes;
  for (std::uint64_t dim : h.shape) {
    if (__builtin_mul_overflow(total, dim, &total)) fail("array size overflows 64 bits");
  }
  h.data_bytes = total;
  h.data_offset = prefix + header_len;
  return h;
}

}  // namespace framering::ingest
