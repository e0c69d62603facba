"""The fan-out bench's own parts: its minimal client reads server frames of every length form and counts batched
ones; updates are matched to the clients' samples by (event, seq)."""

from __future__ import annotations

import orjson
import pytest
from bench.fanout import Stamps
from bench.fanout_clients import Tally, client_frame, parse_frames
from websockets.frames import Frame, Opcode


def server_frame(payload: bytes, opcode: Opcode = Opcode.TEXT) -> bytes:
    return Frame(opcode, payload).serialize(mask=False)


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65_535, 65_536, 200_000])
def test_frames_of_every_length_form_are_read_whole(size: int) -> None:
    payload = b"x" * size
    stream = bytearray(server_frame(payload) + server_frame(b"next", Opcode.PING) + server_frame(b"par")[:-1])
    frames, used = parse_frames(stream)
    assert frames == [(1, payload), (9, b"next")]
    assert used == len(stream) - len(server_frame(b"par")) + 1  # the partial frame waits for its rest


def test_a_client_frame_is_masked() -> None:
    frame = client_frame(b'{"op":"subscribe"}')
    assert frame[1] & 0x80  # the mask bit
    assert b"subscribe" not in frame


def test_a_batched_message_counts_each_frame_and_samples_its_odds() -> None:
    tally = Tally()
    tally.reset(sample_every=1)
    message = orjson.dumps(
        [
            {"type": "odds", "event_id": "e", "seq": 4},
            {"type": "heartbeat"},
            {"type": "odds", "event_id": "e", "seq": 5},
        ]
    )
    tally.batched(message)
    assert (tally.odds, tally.heartbeats, tally.snapshots) == (2, 1, 0)
    assert [(event, seq) for _at, event, seq in tally.samples] == [("e", 4), ("e", 5)]


def test_latencies_match_samples_to_the_update_that_made_them() -> None:
    stamps = Stamps()
    stamps.at[("e", 4)] = 1_000_000_000
    samples = [(1_050_000_000, "e", 4), (2_000_000_000, "e", 99), (3_000_000_000, None, 2_990_000_000)]
    assert stamps.latencies(samples) == [0.05, 0.01]
