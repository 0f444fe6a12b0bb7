"""Fault injection: rules that make a site's next calls fail, hang, run out of quota or boot badly.

A rule matches a site name and a call name (both globs, e.g. `compute.servers.*`); `times` makes it hit that
many calls and then clear itself (None: until cleared). Kinds:
  error        answer `status` (default 500) with the service's error body
  timeout      hold the answer for `seconds` before serving the call normally (the client times out first)
  slow         the same hold, meant to stay under the client's timeout: a slow but working service
  quota        answer as the service does when over quota (Nova 403 "Quota exceeded", Neutron 409 OverQuota,
               Cinder 413)
  pool_empty   Neutron 409 IpAddressGenerationFailure (floating-IP pool exhausted)
  stuck        compute.servers.create: the server stays in BUILD for ever; compute.servers.delete: the delete
               is accepted but the server stays
  server_error compute.servers.create: the server goes to ERROR after its boot delay; volume.volumes.create: the
               volume goes to `error`; compute.servers.delete: the delete fails and the server goes to ERROR
  pause        the call is done (its effect is in the site's state) but its answer is held until the rule is
               released, removed or cleared, or for `seconds` when that is > 0: the world stops at a chosen step
               of a client's work, so a test can kill the client there (`pause`, `wait_held`, `release`)
Keystone down is an `error` rule with status 503 on `identity.*` (`keystone_down`).
The simulated VMs' HTTP services take rules on `vm.http` (only rules that name it): `error` (default 503),
`timeout`, `slow`, and `stuck` (the connection closes without an answer); see vms.py.

A held call (timeout, slow) is still served once its time is up, even if the client gave up: what it creates
then exists at the site, as on a real cloud. `held()` counts the calls being held right now, so a test can wait
for every late effect before it looks at what is left.
"""

from __future__ import annotations

import asyncio
import fnmatch
import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

from execplanner.simcloud.spec import FaultKind, FaultSpec

#: Kinds applied to a call before it runs (the others change what the call creates).
BEFORE_CALL_KINDS: frozenset[str] = frozenset({"error", "timeout", "slow", "quota", "pool_empty"})
#: Kinds that hold a call for `seconds` and then serve it.
HOLD_KINDS: frozenset[str] = frozenset({"timeout", "slow"})
#: Kinds that change what a create (or a server delete) does; see the module docstring for the calls.
SERVER_KINDS: frozenset[str] = frozenset({"stuck", "server_error"})
#: Calls of the simulated VMs themselves (`vm.http`: what their HTTP services answer; see vms.py).
VM_PREFIX = "vm."
#: Kinds applied to a call's answer, after the call has changed the site's state.
AFTER_CALL_KINDS: frozenset[str] = frozenset({"pause"})
HOLD_POLL = 0.02  # seconds between looks at a held answer's release


@dataclass
class FaultRule:
    id: int
    site: str
    call: str
    kind: FaultKind
    status: int | None = None
    seconds: float = 0.0
    times: int | None = None
    message: str | None = None
    caught: int = 0  # pause: calls it has caught so far
    held: int = 0  # pause: answers it holds right now
    released: bool = field(default=False, repr=False)

    def matches(self, site: str, call: str) -> bool:
        if call.startswith(VM_PREFIX) and not self.call.startswith(VM_PREFIX):
            return False  # a VM's own services only take rules that name them (`*` is for the APIs)
        return fnmatch.fnmatchcase(site, self.site) and fnmatch.fnmatchcase(call, self.call)

    def as_dict(self) -> dict[str, object]:
        found = asdict(self)
        found.pop("released")
        return found


class FaultInjector:
    """Thread-safe rule set shared by every site of a federation (`fed.faults`)."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._held = 0

    def inject(
        self,
        site: str = "*",
        call: str = "*",
        kind: FaultKind = "error",
        *,
        status: int | None = None,
        seconds: float = 0.0,
        times: int | None = 1,
        message: str | None = None,
    ) -> FaultRule:
        """Add a rule; `times=None` keeps it until cleared. Returns the rule (its `id` removes it)."""
        FaultSpec(call=call, kind=kind, status=status, seconds=seconds, times=times, message=message)  # validate
        rule = FaultRule(next(self._ids), site, call, kind, status, seconds, times, message)
        with self._lock:
            self._rules.append(rule)
        return rule

    def keystone_down(self, site: str = "*", times: int | None = None) -> FaultRule:
        """Every identity call at `site` answers 503, as when a site's Keystone is down."""
        return self.inject(site, "identity.*", "error", status=503, times=times, message="Keystone is unavailable")

    def load(self, site: str, specs: list[FaultSpec]) -> None:
        """Install a site's `faults:` from sites.yaml."""
        for spec in specs:
            self.inject(
                site,
                spec.call,
                spec.kind,
                status=spec.status,
                seconds=spec.seconds,
                times=spec.times,
                message=spec.message,
            )

    def remove(self, rule_id: int) -> bool:
        """Remove a rule; a pause it holds lets its answers go."""
        with self._lock:
            gone = [r for r in self._rules if r.id == rule_id]
            self._rules = [r for r in self._rules if r.id != rule_id]
        for rule in gone:
            rule.released = True
        return bool(gone)

    def clear(self, site: str | None = None) -> None:
        """Remove every rule, or only those written for `site` (held answers go)."""
        with self._lock:
            gone = [r for r in self._rules if site is None or r.site == site]
            self._rules = [r for r in self._rules if r not in gone]
        for rule in gone:
            rule.released = True

    # ------------------------------------------------------------------ pauses
    def pause(self, site: str = "*", call: str = "*", *, times: int | None = 1, seconds: float = 0.0) -> FaultRule:
        """Hold the answers of the next `times` matching calls (after they are done) until released."""
        return self.inject(site, call, "pause", times=times, seconds=seconds)

    def rule(self, rule_id: int) -> FaultRule | None:
        with self._lock:
            return next((r for r in self._rules if r.id == rule_id), None)

    def wait_held(self, rule_id: int, count: int = 1, timeout: float = 30.0) -> FaultRule:
        """Block until the pause holds `count` answers at once ("the client reached this step"); a deadline."""
        deadline = time.monotonic() + timeout
        while True:
            rule = self.rule(rule_id)
            if rule is None:
                raise LookupError(f"no fault rule {rule_id}")
            if rule.held >= count:
                return rule
            if time.monotonic() > deadline:
                raise TimeoutError(f"pause {rule_id} on {rule.call} held {rule.held} answers, not {count}")
            time.sleep(HOLD_POLL)

    def release(self, rule_id: int) -> bool:
        """Let the pause's held answers go and remove it."""
        return self.remove(rule_id)

    def catch(self, site: str, call: str) -> FaultRule | None:
        """The first pause matching this call that still has `times` left; it stays listed (with `held`) until
        released, so a test can see where the client stopped."""
        with self._lock:
            for rule in self._rules:
                if rule.kind in AFTER_CALL_KINDS and rule.matches(site, call) and rule.times != 0:
                    if rule.times is not None:
                        rule.times -= 1
                    rule.caught += 1
                    rule.held += 1
                    return rule
        return None

    async def hold(self, site: str, call: str) -> None:
        """Called with a call's answer ready: hold it while a matching pause says so."""
        rule = self.catch(site, call)
        if rule is None:
            return
        deadline = time.monotonic() + rule.seconds if rule.seconds > 0 else None
        try:
            while not rule.released and (deadline is None or time.monotonic() < deadline):
                await asyncio.sleep(HOLD_POLL)
        finally:
            with self._lock:
                rule.held -= 1

    def active(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Count a call held by a timeout or slow rule while it is held."""
        with self._lock:
            self._held += 1
        try:
            yield
        finally:
            with self._lock:
                self._held -= 1

    def held(self) -> int:
        """How many calls are being held right now (their effects are still to come)."""
        with self._lock:
            return self._held

    def take(self, site: str, call: str, kinds: frozenset[str]) -> FaultRule | None:
        """The first matching rule of one of `kinds`, consuming one of its `times` (not for pauses: `catch`)."""
        with self._lock:
            for rule in self._rules:
                if rule.kind in kinds and rule.matches(site, call):
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times <= 0:
                            self._rules.remove(rule)
                    return rule
        return None
