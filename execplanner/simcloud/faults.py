"""Fault injection: rules that make a site's next calls fail, hang, run out of quota or boot badly.

A rule matches a site name and a call name (both globs, e.g. `compute.servers.*`). Kinds:
  error        answer `status` (default 500) with the service's error body
  timeout      hold the answer for `seconds` before serving the call normally (the client times out first)
  quota        answer as the service does when over quota (Nova 403 "Quota exceeded", Neutron 409 OverQuota)
  pool_empty   Neutron 409 IpAddressGenerationFailure (floating-IP pool exhausted)
  stuck        (compute.servers.create) the server is created but stays in BUILD for ever
  server_error (compute.servers.create) the server is created and goes to ERROR after its boot delay
"""

from __future__ import annotations

import fnmatch
import itertools
import threading
from dataclasses import asdict, dataclass

from execplanner.simcloud.spec import FaultKind, FaultSpec

#: Kinds applied to a call before it runs (the others change what the call creates).
BEFORE_CALL_KINDS: frozenset[str] = frozenset({"error", "timeout", "quota", "pool_empty"})
SERVER_KINDS: frozenset[str] = frozenset({"stuck", "server_error"})


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

    def matches(self, site: str, call: str) -> bool:
        return fnmatch.fnmatchcase(site, self.site) and fnmatch.fnmatchcase(call, self.call)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class FaultInjector:
    """Thread-safe rule set shared by every site of a federation (`fed.faults`)."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

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
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.id != rule_id]
            return len(self._rules) != before

    def clear(self, site: str | None = None) -> None:
        """Remove every rule, or only those written for `site`."""
        with self._lock:
            self._rules = [] if site is None else [r for r in self._rules if r.site != site]

    def active(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def take(self, site: str, call: str, kinds: frozenset[str]) -> FaultRule | None:
        """The first matching rule of one of `kinds`, consuming one of its `times`."""
        with self._lock:
            for rule in self._rules:
                if rule.kind in kinds and rule.matches(site, call):
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times <= 0:
                            self._rules.remove(rule)
                    return rule
        return None
