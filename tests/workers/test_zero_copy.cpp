// The frame a worker analyses is the ring slot itself: the cv::Mat's pixels lie inside the
// reader's read-only mapping, and that memory is mapped without write permission.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "framering/ringbuf/reader.hpp"
#include "framering/workers/frame_mat.hpp"
#include "ring_fixture.hpp"

namespace framering::workers::test {
namespace {

// Permissions ("r--p", ...) of the /proc/self/maps region holding `addr`.
std::string mapping_permissions(const void* addr) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  const auto a = reinterpret_cast<std::uintptr_t>(addr);
  while (std::getline(maps, line)) {
    std::istringstream ls(line);
    std::string range, perms;
    ls >> range >> perms;
    const auto dash = range.find('-');
    const auto lo = std::stoull(range.substr(0, dash), nullptr, 16);
    const auto hi = std::stoull(range.substr(dash + 1), nullptr, 16);
    if (a >= lo && a < hi) return perms;
  }
  return "";
}

TEST(ZeroCopy, MatPixelsLieInsideTheReadOnlyMapping) {
  const cv::Mat frame = vtest_frames(1)[0];
  const std::string name = unique_ring_name();
  RingCleanup cleanup{name};
  ring::Writer writer = make_writer(name, frame.size(), 4);
  publish(writer, frame);

  ring::Reader reader = ring::Reader::attach(name);
  const ring::ReadResult r = reader.read(0);
  ASSERT_EQ(r.status, ring::ReadStatus::kOk);
  const cv::Mat view = view_frame(r.frame, mat_layout(reader.info().geometry));

  const std::span<const std::byte> map = reader.mapping();
  const auto* begin = reinterpret_cast<const unsigned char*>(map.data());
  const auto* end = begin + map.size();
  EXPECT_GE(view.data, begin);
  EXPECT_LE(view.dataend, end);
  EXPECT_EQ(static_cast<const void*>(view.data), static_cast<const void*>(r.frame.data));
  EXPECT_EQ(view.size(), frame.size());
  EXPECT_EQ(view.type(), CV_8UC3);
  // Not a copy that happens to match: the same bytes, at the slot's address, mapped read-only.
  EXPECT_EQ(cv::norm(view, frame, cv::NORM_INF), 0.0);
  EXPECT_EQ(mapping_permissions(view.data).substr(0, 2), "r-");
  EXPECT_TRUE(reader.valid(r.frame));
}

TEST(ZeroCopy, TileBandIsARegionOfTheSameSlot) {
  const cv::Mat frame = vtest_frames(1)[0];
  const std::string name = unique_ring_name();
  RingCleanup cleanup{name};
  ring::Writer writer = make_writer(name, frame.size(), 4);
  publish(writer, frame);
  ring::Reader reader = ring::Reader::attach(name);
  const ring::ReadResult r = reader.read(0);
  ASSERT_EQ(r.status, ring::ReadStatus::kOk);
  const cv::Mat full = view_frame(r.frame, mat_layout(reader.info().geometry));
  const cv::Rect band = band_rect(full.size(), 2, 3);
  const cv::Mat tile = full(band);
  EXPECT_EQ(tile.data, full.data + static_cast<std::size_t>(band.y) * full.step);
  EXPECT_TRUE(tile.isContinuous());
  EXPECT_EQ(band.y, 384);
  EXPECT_EQ(band.height, 192);
}

}  // namespace
}  // namespace framering::workers::test
