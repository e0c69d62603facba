"""The fan-out bench's WebSocket clients: many connections in a process of their own, each a minimal RFC 6455
client on an asyncio protocol (the handshake, masked frames out, unmasked frames in, pongs), so that reading
1,000 sockets costs the clients' core as little as possible and the server's figures are the server's.

The same clients read the platform's `/ws/odds` and the baseline's broadcast server. They count every text frame
by type and, for one odds frame in `sample_every`, note when it arrived (`time.monotonic_ns()`, the same clock in
every process of the machine) with what names it: `(event_id, seq)` for the platform's frames, the sender's
stamp `t` for the baseline's. Commands come from the bench over a pipe (`ClientPool` drives it)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, cast

import orjson
from websockets.frames import Frame, Opcode

_ODDS = b'{"type":"odds"'
_SNAPSHOT = b'{"type":"snapshot"'
_HEARTBEAT = b'{"type":"heartbeat"'
MAX_SAMPLES = 200_000


@dataclass
class Tally:
    """What a process's clients received since the last reset."""

    frames: int = 0
    odds: int = 0
    snapshots: int = 0
    heartbeats: int = 0
    other: int = 0
    payload_bytes: int = 0
    closed: int = 0
    samples: list[tuple[int, Any, Any]] = field(default_factory=list)  # (received ns, event id or None, seq or t)
    sample_every: int = 0  # 0: no sampling
    _countdown: int = 0

    def reset(self, sample_every: int) -> None:
        self.frames = self.odds = self.snapshots = self.heartbeats = self.other = self.payload_bytes = 0
        self.samples = []
        self.sample_every = sample_every
        self._countdown = sample_every

    def batched(self, payload: bytes) -> None:
        odds = payload.count(_ODDS)
        self.odds += odds
        self.snapshots += payload.count(_SNAPSHOT)
        self.heartbeats += payload.count(_HEARTBEAT)
        if not odds or not self.sample_every:
            return
        self._countdown -= odds
        if self._countdown > 0 or len(self.samples) >= MAX_SAMPLES:
            return
        self._countdown = self.sample_every
        now = time.monotonic_ns()
        for frame in orjson.loads(payload):
            if frame["type"] == "odds":
                self.samples.append((now, frame["event_id"], frame["seq"]))

    def sample(self, payload: bytes) -> None:
        self._countdown -= 1
        if self._countdown > 0 or len(self.samples) >= MAX_SAMPLES:
            return
        self._countdown = self.sample_every
        now = time.monotonic_ns()
        frame = orjson.loads(payload)
        if "t" in frame:
            self.samples.append((now, None, frame["t"]))
        else:
            self.samples.append((now, frame["event_id"], frame["seq"]))


def client_frame(payload: bytes, opcode: Opcode = Opcode.TEXT) -> bytes:
    """A masked client frame (RFC 6455 requires clients to mask), built by the websockets library."""
    return Frame(opcode, payload).serialize(mask=True)


def parse_frames(buf: bytearray) -> tuple[list[tuple[int, bytes]], int]:
    """The complete unmasked frames at the start of `buf` as (opcode, payload), and how many bytes they took."""
    out: list[tuple[int, bytes]] = []
    n = len(buf)
    i = 0
    while n - i >= 2:
        length = buf[i + 1] & 0x7F
        head = 2
        if length == 126:
            if n - i < 4:
                break
            length = (buf[i + 2] << 8) | buf[i + 3]
            head = 4
        elif length == 127:
            if n - i < 10:
                break
            length = int.from_bytes(buf[i + 2 : i + 10], "big")
            head = 10
        end = i + head + length
        if end > n:
            break
        out.append((buf[i] & 0x0F, bytes(buf[i + head : end])))
        i = end
    return out, i


class Client(asyncio.Protocol):
    """One WebSocket connection: handshake, one subscribe message once open, then counting what arrives."""

    def __init__(
        self,
        tally: Tally,
        host: str,
        port: int,
        path: str,
        hello: bytes | None,
        opened: asyncio.Event,
        subprotocol: str | None = None,
    ):
        self.tally = tally
        offer = f"Sec-WebSocket-Protocol: {subprotocol}\r\n" if subprotocol else ""
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\nSec-WebSocket-Version: 13\r\n"
            f"{offer}\r\n"
        ).encode()
        self.hello = hello
        self.opened = opened
        self.open = False
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's
        self.transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.tally.closed += 1
        self.opened.set()

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.open:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buf[: buf.find(b"\r\n")])
            del buf[: end + 4]
            if b" 101 " not in status:
                raise RuntimeError(f"handshake refused: {status!r}")
            self.open = True
            if self.hello is not None and self.transport is not None:
                self.transport.write(client_frame(self.hello))
            self.opened.set()
        self._frames()

    def _frames(self) -> None:
        # parse_frames' loop, inlined: this is the clients' whole cost per frame
        buf = self.buf
        tally = self.tally
        n = len(buf)
        i = 0
        while n - i >= 2:
            length = buf[i + 1] & 0x7F
            head = 2
            if length == 126:
                if n - i < 4:
                    break
                length = (buf[i + 2] << 8) | buf[i + 3]
                head = 4
            elif length == 127:
                if n - i < 10:
                    break
                length = int.from_bytes(buf[i + 2 : i + 10], "big")
                head = 10
            end = i + head + length
            if end > n:
                break
            opcode = buf[i] & 0x0F
            start = i + head
            if opcode == 1:
                tally.frames += 1
                tally.payload_bytes += length
                if buf.startswith(_ODDS, start):
                    tally.odds += 1
                    if tally.sample_every:
                        tally.sample(bytes(buf[start:end]))
                elif buf.startswith(_SNAPSHOT, start):
                    tally.snapshots += 1
                elif buf.startswith(_HEARTBEAT, start):
                    tally.heartbeats += 1
                elif buf[start] == 0x5B:  # "[": a batched message, the same frames in a JSON array
                    tally.batched(bytes(buf[start:end]))
                else:
                    tally.other += 1
            elif opcode == 9 and self.transport is not None:  # ping: answer, or the server gives up on us
                self.transport.write(client_frame(bytes(buf[start:end]), Opcode.PONG))
            elif opcode == 8 and self.transport is not None:
                self.transport.close()
            i = end
        if i:
            del buf[:i]


async def _connect(
    tally: Tally,
    host: str,
    port: int,
    path: str,
    hellos: Sequence[bytes | None],
    subprotocol: str | None,
    concurrency: int = 64,
) -> list[Client]:
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(concurrency)
    clients: list[Client] = []

    async def one(hello: bytes | None) -> None:
        async with gate:
            opened = asyncio.Event()
            _transport, client = await loop.create_connection(
                lambda: Client(tally, host, port, path, hello, opened, subprotocol), host, port
            )
            clients.append(client)
            await asyncio.wait_for(opened.wait(), 30)

    await asyncio.gather(*(one(h) for h in hellos))
    return clients


async def _serve_commands(pipe: Connection) -> None:
    loop = asyncio.get_running_loop()
    tally = Tally()
    clients: list[Client] = []
    commands: asyncio.Queue[Any] = asyncio.Queue()

    def read() -> None:  # the pipe is read on a thread, so the loop never blocks on it
        while True:
            try:
                command = pipe.recv()
            except EOFError:
                command = ("exit",)
            loop.call_soon_threadsafe(commands.put_nowait, command)
            if command[0] == "exit":
                return

    threading.Thread(target=read, daemon=True).start()
    while True:
        command = await commands.get()
        kind = command[0]
        if kind == "connect":
            _, host, port, path, hellos, snapshots, subprotocol = command
            tally.reset(0)
            clients = await _connect(tally, host, port, path, hellos, subprotocol)
            deadline = time.monotonic() + 120
            while tally.snapshots < snapshots and time.monotonic() < deadline:  # noqa: ASYNC110  # counted by protocols
                await asyncio.sleep(0.05)
            pipe.send({"open": sum(c.open for c in clients), "snapshots": tally.snapshots, "closed": tally.closed})
        elif kind == "reset":
            tally.reset(command[1])
            pipe.send({})
        elif kind == "report":
            pipe.send(
                {
                    "frames": tally.frames,
                    "odds": tally.odds,
                    "snapshots": tally.snapshots,
                    "heartbeats": tally.heartbeats,
                    "other": tally.other,
                    "bytes": tally.payload_bytes,
                    "closed": tally.closed,
                    "samples": tally.samples,
                    "cpu_s": time.process_time(),
                }
            )
        elif kind == "close":
            for client in clients:
                if client.transport is not None:
                    client.transport.abort()
            clients = []
            await asyncio.sleep(0.2)
            pipe.send({})
        elif kind == "exit":
            return


def _main(pipe: Connection) -> None:
    import uvloop

    uvloop.run(_serve_commands(pipe))


class ClientPool:
    """The clients' process, driven from the bench: connect, reset the tally, report, close."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")  # never fork the bench's running event loop
        self._pipe, child = context.Pipe()
        self.process = context.Process(target=_main, args=(child,), name="fanout-clients", daemon=True)
        self.process.start()

    async def _ask(self, *command: Any) -> Any:
        self._pipe.send(command)
        return await asyncio.to_thread(self._pipe.recv)

    async def connect(
        self,
        port: int,
        path: str,
        hellos: Sequence[bytes | None],
        snapshots: int = 0,
        *,
        subprotocol: str | None = None,
        host: str = "127.0.0.1",
    ) -> dict[str, int]:
        """Open one connection per hello (sent once open; None sends nothing), offering `subprotocol`, and wait for
        `snapshots`."""
        answer: dict[str, int] = await self._ask("connect", host, port, path, list(hellos), snapshots, subprotocol)
        return answer

    async def reset(self, sample_every: int) -> None:
        await self._ask("reset", sample_every)

    async def report(self) -> dict[str, Any]:
        answer: dict[str, Any] = await self._ask("report")
        return answer

    async def close_all(self) -> None:
        await self._ask("close")

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._pipe.send(("exit",))
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
