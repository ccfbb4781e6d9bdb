"""The Python package repeats the ring layout's constants; these tests read them out of the C++
header (the protocol) so the two cannot drift apart."""
import re

from framering import layout as L

from pyhelpers import ROOT

LAYOUT_HPP = ROOT / "ringbuf" / "include" / "framering" / "ringbuf" / "layout.hpp"


def cpp_constants(namespace):
    text = LAYOUT_HPP.read_text()
    body = re.search(r"namespace %s \{(.*?)\}" % namespace, text, re.S).group(1)
    return {name: int(value) for name, value in
            re.findall(r"inline constexpr std::size_t k(\w+) = (\d+);", body)}


def snake(camel):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", camel).upper()


def test_header_offsets_match_layout_hpp():
    cpp = cpp_constants("hdr")
    assert len(cpp) >= 25
    for name, value in cpp.items():
        assert getattr(L.hdr, snake(name)) == value, name


def test_slot_offsets_match_layout_hpp():
    cpp = cpp_constants("slot")
    assert len(cpp) == 7
    for name, value in cpp.items():
        assert getattr(L.slot, snake(name)) == value, name


def test_sizes_limits_and_magic_match_layout_hpp():
    text = LAYOUT_HPP.read_text()

    def value(name):
        m = re.search(r"inline constexpr std::\w+ k%s = ([^;]+);" % name, text)
        return eval(m.group(1).replace("ULL", "").replace("u <<", " <<"))  # e.g. "1u << 16"

    assert value("Version") == L.VERSION
    assert value("Magic") == L.MAGIC == int.from_bytes(L.MAGIC_BYTES, "little")
    assert value("PageBytes") == L.PAGE_BYTES
    assert value("SlotEntryBytes") == L.SLOT_ENTRY_BYTES
    assert value("MaxDims") == L.MAX_DIMS
    assert value("TypestrBytes") == L.TYPESTR_BYTES
    assert value("NameBytes") == L.NAME_BYTES
    assert value("MaxSlots") == L.MAX_SLOTS
    assert value("MaxFrameBytes") == L.MAX_FRAME_BYTES
    assert value("MaxRingNameLength") == L.MAX_RING_NAME_LENGTH


def test_typestr_table_matches_geometry_cpp():
    text = (ROOT / "ringbuf" / "src" / "geometry.cpp").read_text()
    cpp = {name: int(size) for name, size in re.findall(r'\{"([|<]\w\d)", (\d)\}', text)}
    assert cpp == L.TYPESTRS


def test_reader_stats_offsets_and_version_match_layout_hpp():
    cpp = cpp_constants("stats")
    assert len(cpp) == 15
    for name, value in cpp.items():
        assert getattr(L.stats, snake(name)) == value, name
    text = LAYOUT_HPP.read_text()
    assert int(re.search(r"kStatsVersion = (\d+);", text).group(1)) == L.STATS_VERSION
    magic = re.search(r"kStatsMagicBytes\[8\] = \{([^}]*)\}", text).group(1)
    assert "".join(re.findall(r"'(.)'", magic)).encode() == L.STATS_MAGIC_BYTES


def test_pixel_format_codes_match_layout_hpp():
    text = LAYOUT_HPP.read_text()
    body = re.search(r"enum class PixFmt : std::uint32_t \{(.*?)\};", text, re.S).group(1)
    cpp = {snake(name): int(value) for name, value in re.findall(r"k(\w+) = (\d+)", body)}
    assert cpp == {"RAW": 0, "BGR24": 1, "RGB24": 2, "GRAY8": 3, "YUV420P": 4, "NV12": 5}
    for name, value in cpp.items():
        assert getattr(L, "PIX_" + name) == value, name
    assert set(L.PIX_FMT_NAMES) == set(cpp.values())
