"""An independent reader of the packet ring, written from docs/packet-ring.md alone (no C++, no
framering Python package): parse and validate the header, walk the records with the lapped check
of §5, return packets with their bytes. Used by test_ingest_packets.py against real ingests."""
import mmap
import os
import struct

MAGIC = b"FMRPKTS\x00"
DATA_OFFSET = 4096
EXTRADATA_OFFSET = 1024
TAIL_INTENT, TAIL, LATEST, PACKETS, STATE = 384, 392, 400, 408, 256
TYPE_PACKET, TYPE_PADDING = 1, 2
FLAG_KEYFRAME, FLAG_CORRUPT, FLAG_DISCONTINUITY = 1, 2, 4
NO_TIMESTAMP = -(1 << 63)


class BadPacketRing(Exception):
    pass


class Lapped(Exception):
    pass


class PacketRing:
    def __init__(self, path):
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            st = os.fstat(fd)
            if not (st.st_mode & 0o170000 == 0o100000):
                raise BadPacketRing(f"{path} is not a regular file")
            if st.st_mode & 0o022:
                raise BadPacketRing(f"{path} is writable by group or others")
            if st.st_size < 4096:
                raise BadPacketRing(f"{path} is smaller than its header")
            self.mode = st.st_mode & 0o777
            self.map = mmap.mmap(fd, st.st_size, prot=mmap.PROT_READ)
        finally:
            os.close(fd)
        self._parse(st.st_size)

    def _u32(self, off):
        return struct.unpack_from("<I", self.map, off)[0]

    def _u64(self, off):
        return struct.unpack_from("<Q", self.map, off)[0]

    def _parse(self, size):
        m = self.map
        if m[0:8] != MAGIC:
            raise BadPacketRing("wrong magic")
        if self._u32(8) != 1 or self._u32(12) != 4096 or self._u64(16) != DATA_OFFSET:
            raise BadPacketRing("version/header_bytes/data_offset")
        cap = self._u64(24)
        if cap < 65536 or cap > 1 << 30 or cap & (cap - 1):
            raise BadPacketRing(f"capacity {cap}")
        if self._u64(32) != DATA_OFFSET + cap or size != DATA_OFFSET + cap:
            raise BadPacketRing("segment_bytes")
        self.capacity = cap
        self.epoch = self._u64(40)
        if self.epoch == 0:
            raise BadPacketRing("epoch 0")
        (self.codec_id, self.width, self.height, tb_num, tb_den, rate_num, rate_den,
         extra_bytes) = struct.unpack_from("<8I", m, 52)
        if tb_num == 0 or tb_den == 0 or rate_den == 0 or extra_bytes > 3072:
            raise BadPacketRing("time base / rate / extradata_bytes")
        if self.width > 65536 or self.height > 65536:
            raise BadPacketRing("width/height")
        self.time_base = (tb_num, tb_den)
        self.frame_rate = (rate_num, rate_den)
        self.extradata = bytes(m[EXTRADATA_OFFSET:EXTRADATA_OFFSET + extra_bytes])
        self.codec_name = bytes(m[96:128]).split(b"\x00", 1)[0].decode("ascii")
        self.name = bytes(m[128:192]).split(b"\x00", 1)[0].decode("ascii")

    @property
    def state(self):
        return self._u32(STATE)

    @property
    def tail(self):
        return self._u64(TAIL)

    def _intact(self, position):
        return self._u64(TAIL_INTENT) <= position + self.capacity

    def read(self, position):
        """(packet dict, next position) for the record at position, skipping padding; None
        when nothing is published there yet. Raises Lapped or BadPacketRing."""
        cap = self.capacity
        for _ in range(2):
            if position >= self.tail:
                return None
            off = position & (cap - 1)
            base = DATA_OFFSET + off
            length, rtype = struct.unpack_from("<II", self.map, base)
            if rtype == TYPE_PADDING:
                if not self._intact(position):
                    raise Lapped(position)
                if length != cap - off:
                    raise BadPacketRing(f"padding at {position} of length {length}")
                position += length
                continue
            if rtype != TYPE_PACKET or length < 56 or (length + 7) & ~7 > cap - off:
                if not self._intact(position):
                    raise Lapped(position)
                raise BadPacketRing(f"record at {position}: type {rtype} length {length}")
            no, pts, dts, dur, cap_ns, flags, nbytes = struct.unpack_from("<QqqqQII", self.map,
                                                                           base + 8)
            data = bytes(self.map[base + 56:base + 56 + nbytes])
            if not self._intact(position):
                raise Lapped(position)
            if nbytes != length - 56:
                raise BadPacketRing(f"record at {position}: data_bytes {nbytes} vs {length}")
            return (dict(packet_no=no, pts=None if pts == NO_TIMESTAMP else pts,
                         dts=None if dts == NO_TIMESTAMP else dts, duration=dur,
                         capture_realtime_ns=cap_ns, flags=flags,
                         keyframe=bool(flags & FLAG_KEYFRAME), data=data),
                    position + ((length + 7) & ~7))
        raise BadPacketRing("padding followed by padding")

    def all_packets(self):
        """Every packet from position 0 (the ring must not have wrapped)."""
        if self._u64(TAIL_INTENT) > self.capacity:
            raise Lapped(0)
        out, pos = [], 0
        while (r := self.read(pos)) is not None:
            packet, pos = r
            out.append(packet)
        return out

    def close(self):
        self.map.close()
