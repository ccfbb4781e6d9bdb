"""The pure-Python reader and writer refuse to run where their seqlock is not correct (any
machine but x86-64) with a message that names the machine and what to use instead."""
import os
import platform

import numpy as np
import pytest

import framering


@pytest.mark.parametrize("machine", ["aarch64", "armv7l", "ppc64le", "riscv64", "i686", ""])
def test_reader_and_writer_refuse_other_architectures(monkeypatch, ring_name, machine):
    # A real ring exists, so the only reason to refuse is the architecture.
    with framering.Writer(ring_name, (4, 4, 3), pix_fmt="bgr24", slots=2) as w:
        monkeypatch.setattr(platform, "machine", lambda: machine)
        with pytest.raises(framering.RingSystemError) as reader_error:
            framering.Ring(ring_name)
        with pytest.raises(framering.RingSystemError) as writer_error:
            framering.Writer(ring_name + "x", (4, 4, 3), pix_fmt="bgr24", slots=2)
        monkeypatch.undo()
        assert w.name == ring_name
    for e in (reader_error, writer_error):
        text = str(e.value)
        assert "x86-64" in text and (machine or "unknown") in text and "framering worker" in text
    # Refused before anything was created.
    assert not os.path.exists(framering.segment_path(ring_name + "x"))


def test_x86_64_is_accepted(ring_name):
    assert platform.machine() == "x86_64", "this test documents the supported machine"
    with framering.Writer(ring_name, (4, 4, 3), pix_fmt="bgr24", slots=2) as w:
        w.write(np.full((4, 4, 3), 7, np.uint8))
        with framering.Ring(ring_name) as r:
            assert r.latest().status == framering.OK
