"""P4Runtime client arbitration: one primary per role, chosen by the highest election_id.

Streams register here; the server asks it whether a Write/SetPipeline comes from the primary.
"""
from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field

from google.rpc import code_pb2
from p4.v1 import p4runtime_pb2

from .errors import SoftswitchError


@dataclass(eq=False)
class Stream:
    """One StreamChannel: its outgoing queue and its current arbitration state."""
    out: queue.Queue[p4runtime_pb2.StreamMessageResponse | None] = field(default_factory=queue.Queue)
    election_id: tuple[int, int] | None = None
    role: str = ""
    role_msg: p4runtime_pb2.Role | None = None


class Arbitration:
    def __init__(self, device_id: int) -> None:
        self.device_id = device_id
        self.lock = threading.Lock()
        self.streams: list[Stream] = []

    def _primary(self, role: str) -> Stream | None:
        cands = [s for s in self.streams if s.role == role and s.election_id is not None]
        return max(cands, key=lambda s: s.election_id, default=None)  # type: ignore[arg-type, return-value]

    def update(self, stream: Stream, msg: p4runtime_pb2.MasterArbitrationUpdate) -> None:
        """Handle an arbitration message; notify every stream of the role if the primary changed."""
        if msg.device_id != self.device_id:
            raise SoftswitchError(f"invalid device id {msg.device_id} (this switch is {self.device_id})",
                                  code_pb2.NOT_FOUND)
        eid = (msg.election_id.high, msg.election_id.low)
        role = msg.role.name if msg.HasField("role") else ""
        with self.lock:
            for other in self.streams:
                if other is not stream and other.role == role and other.election_id == eid:
                    raise SoftswitchError(f"election id {eid} is already used by another client",
                                          code_pb2.INVALID_ARGUMENT)
            old_primary = self._primary(role)
            if stream not in self.streams:
                self.streams.append(stream)
            stream.election_id = eid
            stream.role = role
            stream.role_msg = msg.role if msg.HasField("role") else None
            new_primary = self._primary(role)
            targets = [s for s in self.streams if s.role == role] if new_primary is not old_primary \
                else [stream]
            for s in targets:
                s.out.put(self._response(s, new_primary))

    def _response(self, s: Stream, primary: Stream | None) -> p4runtime_pb2.StreamMessageResponse:
        resp = p4runtime_pb2.StreamMessageResponse()
        arb = resp.arbitration
        arb.device_id = self.device_id
        if s.role_msg is not None:
            arb.role.CopyFrom(s.role_msg)
        if primary is not None:
            # The election id of the current primary, as the spec asks.
            arb.election_id.high, arb.election_id.low = primary.election_id  # type: ignore[misc]
        if primary is s:
            arb.status.code = code_pb2.OK
            arb.status.message = "Is primary"
        elif primary is not None:
            arb.status.code = code_pb2.ALREADY_EXISTS
            arb.status.message = "Is backup"
        else:
            arb.status.code = code_pb2.NOT_FOUND
            arb.status.message = "No primary"
        return resp

    def remove(self, stream: Stream) -> None:
        with self.lock:
            if stream not in self.streams:
                return
            old_primary = self._primary(stream.role)
            self.streams.remove(stream)
            new_primary = self._primary(stream.role)
            if new_primary is not old_primary:
                for s in self.streams:
                    if s.role == stream.role:
                        s.out.put(self._response(s, new_primary))

    def check_primary(self, device_id: int, election_id: p4runtime_pb2.Uint128, role: str) -> None:
        """Raise unless (election_id, role) is the current primary of this device."""
        if device_id != self.device_id:
            raise SoftswitchError(f"invalid device id {device_id} (this switch is {self.device_id})",
                                  code_pb2.NOT_FOUND)
        eid = (election_id.high, election_id.low)
        with self.lock:
            primary = self._primary(role)
            if primary is None or primary.election_id != eid:
                raise SoftswitchError("not the primary controller: writes need the election id of the "
                                      "primary client's stream", code_pb2.PERMISSION_DENIED)

    def is_primary(self, stream: Stream) -> bool:
        with self.lock:
            return self._primary(stream.role) is stream

    def primaries(self) -> list[Stream]:
        with self.lock:
            roles = {s.role for s in self.streams}
            return [p for p in (self._primary(r) for r in roles) if p is not None]
