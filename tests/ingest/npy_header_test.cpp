#include "framering/ingest/npy_header.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace framering::ingest {
namespace {

// A file as numpy.lib.format writes it: preamble, dict, space padding to 64 B, '\n'.
std::vector<std::byte> npy(const std::string& dict, int major = 1) {
  const std::size_t prefix = major == 1 ? 10 : 12;
  std::string header = dict;
  while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string file = "\x93NUMPY";
  file += static_cast<char>(major);
  file += '\0';
  const std::size_t n = header.size();
  file += static_cast<char>(n & 0xff);
  file += static_cast<char>((n >> 8) & 0xff);
  if (major != 1) {
    file += static_cast<char>((n >> 16) & 0xff);
    file += static_cast<char>((n >> 24) & 0xff);
  }
  file += header;
  std::vector<std::byte> out(file.size());
  std::memcpy(out.data(), file.data(), file.size());
  return out;
}

TEST(NpyHeader, ParsesAnImage) {
  const auto bytes = npy("{'descr': '|u1', 'fortran_order': False, 'shape': (480, 640, 3), }");
  const NpyHeader h = parse_npy_header(bytes);
  EXPECT_EQ(h.major, 1);
  EXPECT_EQ(h.typestr, "|u1");
  EXPECT_FALSE(h.fortran_order);
  EXPECT_EQ(h.shape, (std::vector<std::uint64_t>{480, 640, 3}));
  EXPECT_EQ(h.data_bytes, 480u * 640u * 3u);
  EXPECT_EQ(h.data_offset, 128u);
  EXPECT_EQ(h.data_offset % 64, 0u);
}

TEST(NpyHeader, Version2AndOtherDtypesAndKeyOrder) {
  const auto bytes = npy("{\"shape\": (7,), \"fortran_order\": True, \"descr\": \"<f8\"}", 2);
  const NpyHeader h = parse_npy_header(bytes);
  EXPECT_EQ(h.major, 2);
  EXPECT_EQ(h.typestr, "<f8");
  EXPECT_TRUE(h.fortran_order);
  EXPECT_EQ(h.shape, (std::vector<std::uint64_t>{7}));
  EXPECT_EQ(h.data_bytes, 56u);
  EXPECT_EQ(
      parse_npy_header(npy("{'descr': '<u1', 'fortran_order': False, 'shape': (2, 2)}")).typestr,
      "|u1");
  EXPECT_EQ(parse_npy_header(npy("{'descr': '<u2', 'fortran_order': False, 'shape': (3L, 4L)}"))
                .data_bytes,
            24u);
}

TEST(NpyHeader, ZeroDimensionalAndEmpty) {
  EXPECT_TRUE(
      parse_npy_header(npy("{'descr': '<i4', 'fortran_order': False, 'shape': ()}")).shape.empty());
  EXPECT_EQ(
      parse_npy_header(npy("{'descr': '<i4', 'fortran_order': False, 'shape': (0, 5)}")).data_bytes,
      0u);
}

void expect_error(const std::vector<std::byte>& bytes, const std::string& fragment) {
  try {
    (void)parse_npy_header(bytes);
    ADD_FAILURE() << "accepted; expected an error containing '" << fragment << "'";
  } catch (const NpyError& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(NpyHeader, RejectsWhatTheRingCannotHold) {
  expect_error(npy("{'descr': '>u2', 'fortran_order': False, 'shape': (2,)}"), "'>u2'");
  expect_error(npy("{'descr': '<c8', 'fortran_order': False, 'shape': (2,)}"), "'<c8'");
  expect_error(npy("{'descr': '|O', 'fortran_order': False, 'shape': (2,)}"), "'|O'");
  expect_error(npy("{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (2,)}"),
               "structured");
}

TEST(NpyHeader, RejectsMalformedHeaders) {
  expect_error({}, "shorter");
  auto bad_magic = npy("{'descr': '|u1', 'fortran_order': False, 'shape': (1,)}");
  bad_magic[1] = std::byte{'X'};
  expect_error(bad_magic, "magic");
  auto bad_version = npy("{'descr': '|u1', 'fortran_order': False, 'shape': (1,)}");
  bad_version[6] = std::byte{9};
  expect_error(bad_version, "version 9");
  auto truncated = npy("{'descr': '|u1', 'fortran_order': False, 'shape': (1,)}");
  truncated.resize(40);
  expect_error(truncated, "truncated");
  expect_error(npy("{'descr': '|u1', 'shape': (1,)}"), "fortran_order");
  expect_error(npy("{'descr': '|u1', 'fortran_order': False, 'shape': (1,), 'x': 1}"), "'x'");
  expect_error(npy("{'descr': '|u1', 'fortran_order': Maybe, 'shape': (1,)}"), "True or False");
  expect_error(npy("{'descr': '|u1', 'fortran_order': False, 'shape': (-1,)}"), "non-negative");
  expect_error(npy("{'descr': '|u1', 'fortran_order': False, 'shape': (1,)} junk"), "trailing");
  expect_error(npy("{'descr': '|u1, 'fortran_order': False, 'shape': (1,)}"), "expected");
  expect_error(npy("{'descr': '<f8', 'fortran_order': False, "
                   "'shape': (4294967296, 4294967296)}"),
               "overflows");
  expect_error(npy("{'descr': '|u1', 'fortran_order': False, 'shape': (99999999999999999999,)}"),
               "too large");
}

TEST(NpyHeader, HeaderLengthBeyondTheLimit) {
  std::vector<std::byte> bytes(12, std::byte{0});
  const char magic[] = "\x93NUMPY";
  std::memcpy(bytes.data(), magic, 6);
  bytes[6] = std::byte{2};
  bytes[10] = std::byte{0x10};  // 1 MiB header
  expect_error(bytes, "exceeds");
}

}  // namespace
}  // namespace framering::ingest
