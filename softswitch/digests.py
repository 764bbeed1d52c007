"""Digests (v1model digest()): samples the data plane learns, sent to the controller as DigestList.

P4Runtime spec §16 (DigestEntry config: max_list_size, max_timeout_ns, ack_timeout_ns; DigestList;
DigestListAck). As BMv2's learn engine and PI do: a sample already sent and not yet acknowledged is
not sent again; an unacknowledged list stops holding its samples back after ack_timeout_ns.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from google.rpc import code_pb2
from p4.v1 import p4runtime_pb2

from .errors import SoftswitchError


@dataclass
class DigestState:
    digest_id: int
    learn_id: int
    struct: bool                                   # P4Info type_spec is a struct (else one bitstring)
    max_timeout_ns: int = 0
    max_list_size: int = 0
    ack_timeout_ns: int = 0
    pending: list[tuple[int, ...]] = field(default_factory=list)
    outstanding: dict[int, tuple[float, list[tuple[int, ...]]]] = field(default_factory=dict)
    held: set[tuple[int, ...]] = field(default_factory=set)
    timer: threading.Timer | None = None


class Digests:
    """Per-device digest state; `send` delivers a DigestList to the primary controller."""

    def __init__(self) -> None:
        self.by_learn: dict[int, DigestState] = {}
        self.by_id: dict[int, DigestState] = {}
        self.send: Callable[[p4runtime_pb2.DigestList], None] | None = None
        self.lock = threading.Lock()
        self.next_list = 1

    # ------------------------------------------------------------ control
    def write(self, utype: int, entry: p4runtime_pb2.DigestEntry, known: dict[int, tuple[int, bool]]) -> None:
        """INSERT/MODIFY/DELETE a DigestEntry; `known` maps P4Info digest id -> (learn id, is struct)."""
        U = p4runtime_pb2.Update
        if entry.digest_id not in known:
            raise SoftswitchError(f"unknown digest id {entry.digest_id}", code_pb2.NOT_FOUND)
        with self.lock:
            cur = self.by_id.get(entry.digest_id)
            if utype == U.DELETE:
                if cur is None:
                    raise SoftswitchError(f"digest {entry.digest_id} is not configured", code_pb2.NOT_FOUND)
                if cur.timer is not None:
                    cur.timer.cancel()
                del self.by_id[entry.digest_id]
                del self.by_learn[cur.learn_id]
                return
            if utype == U.INSERT and cur is not None:
                raise SoftswitchError(f"digest {entry.digest_id} is already configured", code_pb2.ALREADY_EXISTS)
            if utype == U.MODIFY and cur is None:
                raise SoftswitchError(f"digest {entry.digest_id} is not configured", code_pb2.NOT_FOUND)
            cfg = entry.config
            if cfg.max_timeout_ns < 0 or cfg.ack_timeout_ns < 0 or cfg.max_list_size < 0:
                raise SoftswitchError(f"digest {entry.digest_id}: negative config value")
            learn_id, struct = known[entry.digest_id]
            st = cur or DigestState(entry.digest_id, learn_id, struct)
            st.max_timeout_ns, st.max_list_size, st.ack_timeout_ns = (cfg.max_timeout_ns, cfg.max_list_size,
                                                                     cfg.ack_timeout_ns)
            self.by_id[entry.digest_id] = st
            self.by_learn[learn_id] = st

    def read(self, digest_id: int) -> list[p4runtime_pb2.Entity]:
        out = []
        with self.lock:
            for did, st in sorted(self.by_id.items()):
                if digest_id and did != digest_id:
                    continue
                e = p4runtime_pb2.Entity()
                e.digest_entry.digest_id = did
                c = e.digest_entry.config
                c.max_timeout_ns, c.max_list_size, c.ack_timeout_ns = (st.max_timeout_ns, st.max_list_size,
                                                                      st.ack_timeout_ns)
                out.append(e)
        return out

    def ack(self, digest_id: int, list_id: int) -> None:
        with self.lock:
            st = self.by_id.get(digest_id)
            if st is None:
                return
            got = st.outstanding.pop(list_id, None)
            if got is not None:
                st.held.difference_update(got[1])

    def clear(self) -> None:
        with self.lock:
            for st in self.by_id.values():
                if st.timer is not None:
                    st.timer.cancel()
            self.by_id.clear()
            self.by_learn.clear()

    # ----------------------------------------------------------- data plane
    def sample(self, learn_id: int, values: tuple[int, ...]) -> None:
        """A digest() from the pipeline (frame thread)."""
        with self.lock:
            st = self.by_learn.get(learn_id)
            if st is None:
                return                                   # not configured: PI drops it
            now = time.monotonic()
            if st.ack_timeout_ns:
                for lid, (sent, samples) in list(st.outstanding.items()):
                    if now - sent > st.ack_timeout_ns / 1e9:
                        del st.outstanding[lid]
                        st.held.difference_update(samples)
            if values in st.held or values in st.pending:
                return
            st.pending.append(values)
            if st.max_list_size <= 1 or len(st.pending) >= st.max_list_size or not st.max_timeout_ns:
                self._flush(st)
            elif st.timer is None:
                st.timer = threading.Timer(st.max_timeout_ns / 1e9, self._timeout, (st,))
                st.timer.daemon = True
                st.timer.start()

    def _timeout(self, st: DigestState) -> None:
        with self.lock:
            st.timer = None
            if st.pending:
                self._flush(st)

    def _flush(self, st: DigestState) -> None:
        if st.timer is not None:
            st.timer.cancel()
            st.timer = None
        samples, st.pending = st.pending, []
        lid = self.next_list
        self.next_list += 1
        st.outstanding[lid] = (time.monotonic(), samples)
        st.held.update(samples)
        msg = p4runtime_pb2.DigestList(digest_id=st.digest_id, list_id=lid, timestamp=time.time_ns())
        for values in samples:
            d = msg.data.add()
            if st.struct:
                for v in values:
                    d.struct.members.add(bitstring=v.to_bytes(max(1, (v.bit_length() + 7) // 8), "big"))
            else:
                v = values[0] if values else 0
                d.bitstring = v.to_bytes(max(1, (v.bit_length() + 7) // 8), "big")
        if self.send is not None:
            self.send(msg)
