// Packet ring: records in place, padding at the wrap, lapped readers, lifecycle (0600, read-only
// mapping, live-writer refusal, takeover with a new epoch, CLOSED), header validation.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <thread>
#include <vector>

#include "framering/ringbuf/error.hpp"
#include "framering/ringbuf/names.hpp"
#include "framering/ringbuf/packet_ring.hpp"
#include "test_util.hpp"

using namespace framering::ring;
using namespace std::chrono_literals;

namespace {

PacketStreamInfo h264_stream() {
  PacketStreamInfo s;
  s.codec_id = 27;
  s.codec_name = "h264";
  s.width = 320;
  s.height = 240;
  s.time_base_num = 1;
  s.time_base_den = 90000;
  s.rate_num = 25;
  s.rate_den = 1;
  s.extradata = {std::byte{1}, std::byte{0x64}, std::byte{0}, std::byte{0x1f}};
  return s;
}

// Packet i: (i * 37) % 4000 + 1 bytes, each byte (i + k) & 0xff; every 10th a keyframe.
std::vector<std::byte> packet_bytes(std::uint64_t i) {
  std::vector<std::byte> v((i * 37) % 4000 + 1);
  for (std::size_t k = 0; k < v.size(); ++k) v[k] = static_cast<std::byte>((i + k) & 0xff);
  return v;
}

PacketMeta meta_for(std::uint64_t i) {
  PacketMeta m;
  m.pts = static_cast<std::int64_t>(i * 3600);
  m.dts = m.pts;
  m.duration = 3600;
  m.flags = i % 10 == 0 ? pkt::kFlagKeyframe : 0;
  return m;
}

bool same_bytes(std::span<const std::byte> a, const std::vector<std::byte>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), b.size()) == 0;
}

class PacketRingTest : public ::testing::Test {
 protected:
  std::string name = framering::testing::unique_ring("pkt");
  framering::testing::RingCleanup cleanup{name};

  PacketWriter make_writer(std::uint64_t capacity = 64 * 1024) {
    PacketWriterOptions o;
    o.name = name;
    o.stream = h264_stream();
    o.capacity = capacity;
    return PacketWriter::create(o);
  }
};

TEST_F(PacketRingTest, HeaderCarriesWhatAMuxerNeeds) {
  PacketWriter w = make_writer(100'000);
  EXPECT_EQ(w.info().capacity, 128u * 1024);  // rounded up to a power of two
  PacketReader r = PacketReader::attach(name);
  const PacketStreamInfo& s = r.info().stream;
  EXPECT_EQ(s.codec_name, "h264");
  EXPECT_EQ(s.codec_id, 27u);
  EXPECT_EQ(s.width, 320u);
  EXPECT_EQ(s.height, 240u);
  EXPECT_EQ(s.time_base_den, 90000u);
  EXPECT_EQ(s.rate_num, 25u);
  EXPECT_EQ(s.extradata, h264_stream().extradata);
  EXPECT_EQ(r.info().epoch, w.info().epoch);
  EXPECT_EQ(r.info().name, name);
}

TEST_F(PacketRingTest, RecordsReadInPlaceInOrderAcrossTheWrap) {
  PacketWriter w = make_writer();
  PacketReader r = PacketReader::attach(name);
  EXPECT_EQ(r.read(0).status, ReadStatus::kNotYet);
  std::uint64_t pos = 0;
  bool saw_wrap = false;
  // Read each packet right after it is written: ~200 packets of up to 4 KB wrap 64 KiB often.
  for (std::uint64_t i = 0; i < 200; ++i) {
    const auto bytes = packet_bytes(i);
    ASSERT_TRUE(w.publish(meta_for(i), bytes));
    PacketReadResult res = r.read(pos);
    ASSERT_EQ(res.status, ReadStatus::kOk) << "packet " << i;
    EXPECT_EQ(res.packet.packet_no, i);
    EXPECT_EQ(res.packet.pts, static_cast<std::int64_t>(i * 3600));
    EXPECT_EQ(res.packet.keyframe(), i % 10 == 0);
    EXPECT_EQ(res.missed, 0u);
    EXPECT_TRUE(same_bytes(res.packet.data, bytes)) << "packet " << i;
    EXPECT_TRUE(r.valid(res.packet));
    // In place: the bytes live inside the mapping, right after the record header.
    EXPECT_EQ(res.packet.position % 8, 0u);
    if (res.packet.position != pos) saw_wrap = true;  // a padding record was skipped
    pos = res.next;
  }
  EXPECT_TRUE(saw_wrap);
  EXPECT_GT(w.tail(), 3 * w.info().capacity);
  EXPECT_EQ(r.read(pos).status, ReadStatus::kNotYet);
  EXPECT_EQ(r.packets(), 200u);
}

TEST_F(PacketRingTest, OldestRecordIsTheFirstNotOverwrittenAndSizingIsInTheHeader) {
  PacketWriterOptions o;
  o.name = name;
  o.stream = h264_stream();
  o.capacity = 64 * 1024;
  o.sizing = {12345, 30000, PacketRingSizing::Basis::kMeasured};
  PacketWriter w = PacketWriter::create(o);
  PacketReader r = PacketReader::attach(name);
  EXPECT_EQ(r.info().sizing.bytes_per_second, 12345u);
  EXPECT_EQ(r.info().sizing.history_ms, 30000u);
  EXPECT_EQ(r.info().sizing.basis, PacketRingSizing::Basis::kMeasured);
  std::vector<std::uint64_t> positions;  // where each packet's record starts, from the writer
  for (std::uint64_t i = 0; i < 200; ++i) {
    const std::uint64_t before = w.tail();
    ASSERT_TRUE(w.publish(meta_for(i), packet_bytes(i)));
    // The record starts at the tail, or at the next lap when a padding record came first.
    const std::uint64_t length = (pkt::kRecData + packet_bytes(i).size() + 7) / 8 * 8;
    positions.push_back(w.tail() - length);
    EXPECT_GE(positions.back(), before);
    // The oldest record still whole: the first whose bytes the writer has not reached again.
    const std::uint64_t tail = w.tail();
    std::size_t first = 0;
    while (positions[first] + w.info().capacity < tail) ++first;
    ASSERT_EQ(r.oldest_record(), positions[first]) << "after packet " << i;
    const PacketReadResult oldest = r.read(r.oldest_record());
    ASSERT_EQ(oldest.status, ReadStatus::kOk);
    EXPECT_EQ(oldest.packet.packet_no, first);
    EXPECT_TRUE(same_bytes(oldest.packet.data, packet_bytes(first)));
    if (first > 0) {  // the one before it is gone
      EXPECT_EQ(r.read(positions[first - 1]).status, ReadStatus::kLapped);
    }
  }
  EXPECT_GT(r.oldest_record(), 0u) << "200 packets of up to 4 KB wrapped a 64 KiB ring";
}

TEST_F(PacketRingTest, PaddingRecordFillsTheEndBeforeTheWrap) {
  PacketWriter w = make_writer();
  const std::uint64_t cap = w.info().capacity;
  // 56 B header + 8136 B data = 8192 B records: 7 fill 57344 B; an 8192 B record fits once more,
  // then a 12000 B record cannot fit the end and wraps behind a padding record.
  std::vector<std::byte> eight(8192 - pkt::kRecData, std::byte{7});
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(w.publish({}, eight));
  std::vector<std::byte> big(12000, std::byte{9});
  ASSERT_TRUE(w.publish({}, big));
  EXPECT_EQ(w.tail(), cap + align_up(pkt::kRecData + big.size(), 8));
  // Raw view of the data area: a padding record at 57344 of length cap - 57344.
  std::ifstream in(packet_segment_path(name), std::ios::binary);
  std::vector<char> seg((std::istreambuf_iterator<char>(in)), {});
  std::uint32_t len = 0, type = 0;
  std::memcpy(&len, seg.data() + pkt::kDataOffset + 57344, 4);
  std::memcpy(&type, seg.data() + pkt::kDataOffset + 57344 + 4, 4);
  EXPECT_EQ(type, pkt::kTypePadding);
  EXPECT_EQ(len, cap - 57344);
  PacketReader r = PacketReader::attach(name);
  PacketReadResult res = r.read(57344);
  ASSERT_EQ(res.status, ReadStatus::kOk);
  EXPECT_EQ(res.packet.position, cap);  // skipped the padding to the wrapped record
  EXPECT_TRUE(same_bytes(res.packet.data, big));
}

TEST_F(PacketRingTest, LappedReaderIsToldAndJumpsToTheNewest) {
  PacketWriter w = make_writer();
  PacketReader r = PacketReader::attach(name);
  ASSERT_TRUE(w.publish(meta_for(0), packet_bytes(0)));
  PacketReadResult first = r.read(0);
  ASSERT_EQ(first.status, ReadStatus::kOk);
  // The reader holds packet 0 while the writer goes round the ring.
  std::uint64_t i = 1;
  for (; w.tail() < w.info().capacity + 64; ++i)
    ASSERT_TRUE(w.publish(meta_for(i), packet_bytes(i)));
  EXPECT_FALSE(r.valid(first.packet));  // used after it was overwritten: caught
  PacketReadResult lapped = r.read(first.next);
  ASSERT_EQ(lapped.status, ReadStatus::kLapped);
  EXPECT_EQ(lapped.next, r.latest());
  PacketReadResult newest = r.read(lapped.next);
  ASSERT_EQ(newest.status, ReadStatus::kOk);
  EXPECT_EQ(newest.packet.packet_no, i - 1);
  EXPECT_EQ(newest.missed, i - 2);  // everything between packet 0 and the newest
  EXPECT_TRUE(same_bytes(newest.packet.data, packet_bytes(i - 1)));
}

// A recorder's pre-roll reads older records again: the live reader's gap count must not see
// the packets between them and its position as missed.
TEST_F(PacketRingTest, RereadOfAnOlderRecordLeavesTheGapCountAlone) {
  PacketWriter w = make_writer();
  PacketReader r = PacketReader::attach(name);
  std::uint64_t pos = 0;
  std::vector<std::uint64_t> positions;
  for (std::uint64_t i = 0; i < 5; ++i) {
    ASSERT_TRUE(w.publish(meta_for(i), packet_bytes(i)));
    const PacketReadResult res = r.read(pos);
    ASSERT_EQ(res.status, ReadStatus::kOk);
    positions.push_back(res.packet.position);
    pos = res.next;
  }
  const PacketReadResult again = r.reread(positions[1]);
  ASSERT_EQ(again.status, ReadStatus::kOk);
  EXPECT_EQ(again.packet.packet_no, 1u);
  EXPECT_TRUE(same_bytes(again.packet.data, packet_bytes(1)));
  EXPECT_EQ(r.reread(pos).status, ReadStatus::kNotYet);  // not written yet
  ASSERT_TRUE(w.publish(meta_for(5), packet_bytes(5)));
  const PacketReadResult live = r.read(pos);
  ASSERT_EQ(live.status, ReadStatus::kOk);
  EXPECT_EQ(live.packet.packet_no, 5u);
  EXPECT_EQ(live.missed, 0u);
}

TEST_F(PacketRingTest, OversizedPacketIsRefusedAndNothingWritten) {
  PacketWriter w = make_writer();
  std::vector<std::byte> huge(w.max_packet_bytes() + 1);
  EXPECT_FALSE(w.publish({}, huge));
  EXPECT_EQ(w.tail(), 0u);
  EXPECT_EQ(w.packets(), 0u);
  std::vector<std::byte> max(w.max_packet_bytes());
  EXPECT_TRUE(w.publish({}, max));
}

TEST_F(PacketRingTest, OversizedPacketLeavesAGapReadersSee) {
  PacketWriter w = make_writer();
  PacketReader r = PacketReader::attach(name);
  ASSERT_TRUE(w.publish(meta_for(0), packet_bytes(0)));
  std::vector<std::byte> huge(w.max_packet_bytes() + 1);
  EXPECT_FALSE(w.publish({}, huge));  // packet 1: dropped, its number used up
  ASSERT_TRUE(w.publish(meta_for(2), packet_bytes(2)));
  EXPECT_EQ(w.packets(), 2u);  // published, not numbered
  PacketReadResult first = r.read(0);
  ASSERT_EQ(first.status, ReadStatus::kOk);
  EXPECT_EQ(first.packet.packet_no, 0u);
  PacketReadResult next = r.read(first.next);
  ASSERT_EQ(next.status, ReadStatus::kOk);
  EXPECT_EQ(next.packet.packet_no, 2u);
  EXPECT_EQ(next.missed, 1u);
}

TEST_F(PacketRingTest, WaitNextWakesOnPublish) {
  PacketWriter w = make_writer();
  PacketReader r = PacketReader::attach(name);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(r.wait_next(0, 50ms).status, ReadStatus::kNotYet);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 50ms);
  std::thread t([&] {
    std::this_thread::sleep_for(20ms);
    (void)w.publish(meta_for(0), packet_bytes(0));
  });
  EXPECT_EQ(r.wait_next(0, 10s).status, ReadStatus::kOk);
  t.join();
}

TEST_F(PacketRingTest, SegmentIs0600AndReadersMapReadOnly) {
  PacketWriter w = make_writer();
  struct stat st {};
  ASSERT_EQ(::stat(packet_segment_path(name).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(static_cast<std::uint64_t>(st.st_size), w.info().segment_bytes);
  EXPECT_EQ(st.st_blocks * 512, st.st_size);  // fallocated, not sparse
  PacketReader r = PacketReader::attach(name);
  ASSERT_TRUE(w.publish(meta_for(0), packet_bytes(0)));
  PacketReadResult res = r.read(0);
  ASSERT_EQ(res.status, ReadStatus::kOk);
  // The reader's pages are not writable: mprotect to PROT_WRITE on a read-only fd mapping fails.
  void* page = reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(res.packet.data.data()) &
                                       ~std::uintptr_t{4095});
  EXPECT_NE(::mprotect(page, 4096, PROT_READ | PROT_WRITE), 0);
}

TEST_F(PacketRingTest, SecondWriterRefusedDeadWriterTakenOverWithNewEpoch) {
  PacketWriter w = make_writer();
  try {
    PacketWriter second = make_writer();
    FAIL() << "second writer accepted";
  } catch (const RingError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kLiveWriter);
    EXPECT_NE(std::string(e.what()).find(std::to_string(::getpid())), std::string::npos);
  }
  w.close();
  EXPECT_FALSE(framering::testing::ring_file_exists(name + ".packets"));  // unlinked at close

  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    PacketWriter dying = make_writer();
    (void)dying.publish(meta_for(0), packet_bytes(0));
    std::uint64_t epoch = dying.info().epoch;
    (void)!::write(fds[1], &epoch, sizeof epoch);
    ::pause();
    ::_exit(0);
  }
  std::uint64_t old_epoch = 0;
  ASSERT_EQ(::read(fds[0], &old_epoch, sizeof old_epoch), static_cast<ssize_t>(sizeof old_epoch));
  PacketReader r = PacketReader::attach(name, {.stale_after = 100ms});
  ASSERT_EQ(r.read(0).status, ReadStatus::kOk);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  // The dead writer's segment stays; the reader learns the writer is gone...
  ReadStatus gone = ReadStatus::kNotYet;
  for (int i = 0; i < 500 && gone == ReadStatus::kNotYet; ++i) {
    gone = r.read(64).status;
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(gone, ReadStatus::kWriterGone);
  // ...a new writer takes the name over with a new epoch, and the reader follows it.
  PacketWriter next = make_writer();
  EXPECT_NE(next.info().epoch, old_epoch);
  ASSERT_TRUE(next.publish(meta_for(5), packet_bytes(5)));
  PacketReadResult changed = r.wait_next(64, 5s);
  ASSERT_EQ(changed.status, ReadStatus::kEpochChanged);
  EXPECT_EQ(r.info().epoch, next.info().epoch);
  PacketReadResult res = r.read(changed.next);
  ASSERT_EQ(res.status, ReadStatus::kOk);
  EXPECT_TRUE(same_bytes(res.packet.data, packet_bytes(5)));
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST_F(PacketRingTest, ClosedWriterIsGone) {
  PacketWriterOptions o;
  o.name = name;
  o.stream = h264_stream();
  o.keep_on_close = true;
  PacketWriter w = PacketWriter::create(o);
  PacketReader r = PacketReader::attach(name);
  w.close();
  EXPECT_EQ(r.state(), static_cast<std::uint32_t>(State::kClosed));
  EXPECT_EQ(r.read(0).status, ReadStatus::kWriterGone);
}

TEST(PacketRingHeader, RejectsDamagedHeaders) {
  PacketRingInfo info;
  info.name = "cam";
  info.capacity = 64 * 1024;
  info.segment_bytes = pkt::kDataOffset + info.capacity;
  info.epoch = 5;
  info.stream = h264_stream();
  std::vector<std::byte> seg(info.segment_bytes);
  write_packet_header(seg, info);
  EXPECT_EQ(parse_packet_header(seg).stream.extradata, info.stream.extradata);
  auto damaged = [&](std::size_t offset, std::uint32_t value) {
    auto copy = seg;
    std::memcpy(copy.data() + offset, &value, sizeof value);
    return copy;
  };
  EXPECT_THROW(parse_packet_header(damaged(pkt::kMagic, 0)), RingError);
  EXPECT_THROW(parse_packet_header(damaged(pkt::kCapacity, 65537)), RingError);
  EXPECT_THROW(parse_packet_header(damaged(pkt::kExtradataBytes, 3073)), RingError);
  EXPECT_THROW(parse_packet_header(damaged(pkt::kTimeBaseDen, 0)), RingError);
  // Terms a signed AVRational cannot hold (they would turn negative in the muxer).
  EXPECT_THROW(parse_packet_header(damaged(pkt::kTimeBaseNum, 0x80000000u)), RingError);
  EXPECT_THROW(parse_packet_header(damaged(pkt::kTimeBaseDen, 0xffffffffu)), RingError);
  EXPECT_THROW(parse_packet_header(damaged(pkt::kRateNum, 0x80000000u)), RingError);
  EXPECT_THROW(parse_packet_header(damaged(pkt::kRateDen, 0x80000000u)), RingError);
  EXPECT_NO_THROW(parse_packet_header(damaged(pkt::kTimeBaseDen, 0x7fffffffu)));
  EXPECT_THROW(parse_packet_header(std::span(seg).first(seg.size() - 8)), RingError);
}

}  // namespace
