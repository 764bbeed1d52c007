"""Action profiles and action selectors (v1model action_profile / action_selector).

As BMv2 runs them (bm_sim/action_profile.cpp): a table entry points at a member (an action with its
data) or at a group of members; for a group the selector's hash of the packet, modulo the number of
members, picks one. A group's members are ordered by their handles, i.e. by when each member was
created (as PI allocates BMv2 member handles), not by their order in the group.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from google.rpc import code_pb2

from .errors import SoftswitchError


@dataclass(eq=False)
class Member:
    member_id: int
    action_id: int                 # JSON action id
    params: list[int]
    fn: Callable[..., Any] | None = None
    refs: int = 0                  # table entries and groups using it
    seq: int = 0                   # creation order: BMv2's member handle


@dataclass(eq=False)
class Group:
    group_id: int
    members: list[tuple[int, int]] = field(default_factory=list)   # (member id, weight)
    max_size: int = 0
    flat: list[Member] = field(default_factory=list)               # weight-expanded, for picking
    refs: int = 0
    one_shot: bool = False


class ActionProfile:
    def __init__(self, name: str, max_size: int, with_selector: bool) -> None:
        self.name = name
        self.max_size = max_size
        self.with_selector = with_selector
        self.members: dict[int, Member] = {}
        self.groups: dict[int, Group] = {}
        self.hash_fn: Callable[[list], int] | None = None
        self.action_fns: dict[int, Callable[..., Any]] = {}
        self.action_ids: set[int] = set()
        self._next_hidden = 1 << 40       # ids for one-shot members and groups (never P4Runtime ids)
        self._seq = 0

    # ---------------------------------------------------------------- lookup
    def pick(self, ref: tuple[str, int], F: list) -> Member | None:
        """The member a table entry's reference selects for this packet (None: empty group)."""
        kind, ident = ref
        if kind == "member":
            return self.members.get(ident)
        g = self.groups.get(ident)
        if g is None or not g.flat:
            return None
        if len(g.flat) == 1 or self.hash_fn is None:
            return g.flat[0]
        return g.flat[self.hash_fn(F) % len(g.flat)]

    # -------------------------------------------------------------- members
    def add_member(self, member_id: int, action_id: int, params: list[int]) -> None:
        if member_id in self.members:
            raise SoftswitchError(f"action profile {self.name}: member {member_id} already exists",
                                  code_pb2.ALREADY_EXISTS)
        if len(self.members) >= self.max_size:
            raise SoftswitchError(f"action profile {self.name} is full ({self.max_size} members)",
                                  code_pb2.RESOURCE_EXHAUSTED)
        self._seq += 1
        self.members[member_id] = Member(member_id, action_id, params, self.action_fns[action_id],
                                         seq=self._seq)

    def modify_member(self, member_id: int, action_id: int, params: list[int]) -> None:
        m = self._member(member_id)
        m.action_id, m.params, m.fn = action_id, params, self.action_fns[action_id]

    def delete_member(self, member_id: int) -> None:
        m = self._member(member_id)
        if m.refs:
            raise SoftswitchError(f"action profile {self.name}: member {member_id} is still used by "
                                  f"{m.refs} table entries or groups", code_pb2.FAILED_PRECONDITION)
        del self.members[member_id]

    def _member(self, member_id: int) -> Member:
        m = self.members.get(member_id)
        if m is None:
            raise SoftswitchError(f"action profile {self.name}: member {member_id} does not exist",
                                  code_pb2.NOT_FOUND)
        return m

    # --------------------------------------------------------------- groups
    def _need_selector(self) -> None:
        if not self.with_selector:
            raise SoftswitchError(f"action profile {self.name} has no selector: groups are not allowed")

    def set_group(self, group_id: int, members: list[tuple[int, int]], max_size: int,
                  insert: bool) -> None:
        self._need_selector()
        if insert and group_id in self.groups:
            raise SoftswitchError(f"action profile {self.name}: group {group_id} already exists",
                                  code_pb2.ALREADY_EXISTS)
        if not insert and group_id not in self.groups:
            raise SoftswitchError(f"action profile {self.name}: group {group_id} does not exist",
                                  code_pb2.NOT_FOUND)
        seen = set()
        for mid, weight in members:
            self._member(mid)
            if mid in seen:
                raise SoftswitchError(f"action profile {self.name}: member {mid} given twice in group "
                                      f"{group_id}")
            if weight < 1:
                raise SoftswitchError(f"action profile {self.name}: member {mid} has weight {weight} "
                                      "(must be >= 1)")
            seen.add(mid)
        if max_size and len(members) > max_size:
            raise SoftswitchError(f"action profile {self.name}: group {group_id} has {len(members)} "
                                  f"members, more than its max_size {max_size}", code_pb2.RESOURCE_EXHAUSTED)
        g = self.groups.get(group_id)
        if g is None:
            g = self.groups[group_id] = Group(group_id, max_size=max_size)
        for mid, _ in g.members:
            self.members[mid].refs -= 1
        g.members = list(members)
        g.max_size = max_size or g.max_size
        ordered = sorted(members, key=lambda mw: self.members[mw[0]].seq)
        g.flat = [self.members[mid] for mid, w in ordered for _ in range(w)]
        for mid, _ in members:
            self.members[mid].refs += 1

    def delete_group(self, group_id: int) -> None:
        g = self.groups.get(group_id)
        if g is None:
            raise SoftswitchError(f"action profile {self.name}: group {group_id} does not exist",
                                  code_pb2.NOT_FOUND)
        if g.refs:
            raise SoftswitchError(f"action profile {self.name}: group {group_id} is still used by "
                                  f"{g.refs} table entries", code_pb2.FAILED_PRECONDITION)
        for mid, _ in g.members:
            self.members[mid].refs -= 1
        del self.groups[group_id]

    # ------------------------------------------------------------- one-shot
    def one_shot(self, actions: list[tuple[int, list[int], int]]) -> tuple[str, int]:
        """A hidden group for P4Runtime's action_profile_action_set: (action id, params, weight)s."""
        self._need_selector()
        mids = []
        for action_id, params, weight in actions:
            mid = self._next_hidden
            self._next_hidden += 1
            self._seq += 1
            self.members[mid] = Member(mid, action_id, params, self.action_fns[action_id], seq=self._seq)
            mids.append((mid, weight))
        gid = self._next_hidden
        self._next_hidden += 1
        self.set_group(gid, mids, 0, insert=True)
        self.groups[gid].one_shot = True
        return ("group", gid)

    def release(self, ref: tuple[str, int] | None) -> None:
        """A table entry stops using `ref` (one-shot groups and their members go away)."""
        if ref is None:
            return
        kind, ident = ref
        if kind == "member":
            m = self.members.get(ident)
            if m is not None:
                m.refs -= 1
            return
        g = self.groups.get(ident)
        if g is None:
            return
        g.refs -= 1
        if g.one_shot and g.refs <= 0:
            g.refs = 0
            mids = [mid for mid, _ in g.members]
            self.delete_group(ident)
            for mid in mids:
                self.members.pop(mid, None)

    def acquire(self, ref: tuple[str, int]) -> None:
        kind, ident = ref
        if kind == "member":
            self._member(ident).refs += 1
        else:
            g = self.groups.get(ident)
            if g is None:
                raise SoftswitchError(f"action profile {self.name}: group {ident} does not exist",
                                      code_pb2.NOT_FOUND)
            g.refs += 1
