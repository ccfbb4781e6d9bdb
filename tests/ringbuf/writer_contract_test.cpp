// The Writer's claim/publish/abort contract, checked by the Writer itself: one claim at a time,
// only the writer's own outstanding Slot can be published or aborted, and a Slot dropped
// unpublished aborts visibly (counted; readers never see its frame, a holder of the slot's
// previous frame sees TORN).
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "framering/ringbuf/reader.hpp"
#include "framering/ringbuf/writer.hpp"
#include "stamp.hpp"
#include "test_util.hpp"

namespace framering::ring {
namespace {

using framering::testing::RingCleanup;
using framering::testing::small_geometry;
using framering::testing::unique_ring;
using framering::testing::verify_stamp;
using framering::testing::write_stamp;

struct WriterContract : ::testing::Test {
  std::string name = unique_ring("wc");
  RingCleanup cleanup{name};
  Writer make_writer(const std::string& ring_name, std::uint32_t slots = 4) {
    return Writer::create({.name = ring_name, .geometry = small_geometry(), .slots = slots});
  }
  static void publish_stamped(Writer& w) {
    auto slot = w.claim();
    write_stamp(slot.payload().data(), slot.payload().size(), slot.frame_no());
    w.publish(std::move(slot));
  }
};

TEST_F(WriterContract, SecondClaimWhileOneIsOutstandingIsRejected) {
  Writer w = make_writer(name);
  auto first = w.claim();
  EXPECT_THROW((void)w.claim(), std::logic_error);
  // The rejected claim changed nothing: the first is still the one to publish.
  EXPECT_TRUE(first.outstanding());
  EXPECT_EQ(first.frame_no(), 0u);
  write_stamp(first.payload().data(), first.payload().size(), 0);
  w.publish(std::move(first));
  EXPECT_EQ(w.cursor(), 1u);
  EXPECT_FALSE(first.outstanding());  // NOLINT(bugprone-use-after-move): checking the moved-from
  auto second = w.claim();            // allowed again once the first is published
  EXPECT_EQ(second.frame_no(), 1u);
  w.abort(std::move(second));
  EXPECT_EQ(w.frames_aborted(), 1u);
}

TEST_F(WriterContract, PublishingAnotherWritersSlotIsRejected) {
  const std::string other_name = unique_ring("wc2");
  RingCleanup other_cleanup{other_name};
  Writer w = make_writer(name);
  Writer other = make_writer(other_name);
  auto foreign = other.claim();
  EXPECT_THROW(w.publish(std::move(foreign)), std::logic_error);
  EXPECT_THROW(w.abort(std::move(foreign)), std::logic_error);
  EXPECT_EQ(w.cursor(), 0u);
  EXPECT_TRUE(foreign.outstanding());  // still the other writer's claim
  other.publish(std::move(foreign));
  EXPECT_EQ(other.cursor(), 1u);
  EXPECT_EQ(w.frames_aborted(), 0u);
  EXPECT_EQ(other.frames_aborted(), 0u);
}

TEST_F(WriterContract, PublishingTwiceOrAMovedFromSlotIsRejected) {
  Writer w = make_writer(name);
  auto slot = w.claim();
  auto moved = std::move(slot);                                // ownership follows the move
  EXPECT_THROW(w.publish(std::move(slot)), std::logic_error);  // NOLINT(bugprone-use-after-move)
  w.publish(std::move(moved));
  EXPECT_THROW(w.publish(std::move(moved)), std::logic_error);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(w.cursor(), 1u);
}

TEST_F(WriterContract, DroppedSlotAbortsVisiblyAndReadersNeverSeeIt) {
  Writer w = make_writer(name, 4);
  Reader r = Reader::attach(name);
  for (int i = 0; i < 4; ++i) publish_stamped(w);  // frames 0..3 fill the ring
  ReadResult held = r.read(0);                     // frame 0 lives in slot 0
  ASSERT_EQ(held.status, ReadStatus::kOk);
  ASSERT_TRUE(r.valid(held.frame));
  {
    auto slot = w.claim();  // frame 4 starts overwriting slot 0 ...
    ASSERT_EQ(slot.frame_no(), 4u);
    std::fill(slot.payload().begin(), slot.payload().end(), std::byte{0xAB});  // half a frame
  }  // ... and is dropped unpublished
  EXPECT_EQ(w.frames_aborted(), 1u);
  EXPECT_EQ(w.cursor(), 4u);
  EXPECT_EQ(r.cursor(), 4u);
  EXPECT_FALSE(r.valid(held.frame)) << "the holder of frame 0 must see TORN";
  EXPECT_EQ(r.read(4).status, ReadStatus::kNotYet) << "the aborted frame is never offered";
  EXPECT_EQ(r.read(0).status, ReadStatus::kLapped);
  // The next claim reuses frame number 4 and publishes a whole frame.
  publish_stamped(w);
  ReadResult res = r.read(4);
  ASSERT_EQ(res.status, ReadStatus::kOk);
  EXPECT_TRUE(verify_stamp(res.frame.data, res.frame.bytes, 4));
  EXPECT_EQ(w.frames_aborted(), 1u);
}

TEST_F(WriterContract, ExplicitAbortIsCountedAndFreesTheClaim) {
  Writer w = make_writer(name);
  Reader r = Reader::attach(name);
  publish_stamped(w);
  auto slot = w.claim();
  w.abort(std::move(slot));
  EXPECT_FALSE(slot.outstanding());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(w.frames_aborted(), 1u);
  EXPECT_EQ(r.read(1).status, ReadStatus::kNotYet);
  publish_stamped(w);
  EXPECT_EQ(w.frames_aborted(), 1u);  // publishing counts nothing
  EXPECT_EQ(r.read(1).status, ReadStatus::kOk);
}

TEST_F(WriterContract, SlotOutlivingTheWritersCloseIsDetachedAndCounted) {
  std::optional<Writer::Slot> late;
  {
    Writer w = make_writer(name);
    late.emplace(w.claim());
    w.close();
    EXPECT_EQ(w.frames_aborted(), 1u);
    EXPECT_FALSE(late->outstanding());
    EXPECT_THROW((void)w.claim(), std::logic_error);
  }
  late.reset();  // must not reach back into the destroyed writer (ASan would report it)
}

}  // namespace
}  // namespace framering::ring
