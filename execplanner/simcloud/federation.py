"""The federation as data: its sites' state, the OIDC users the simulated EGI Check-in knows, fault rules,
and saving/reloading all of it. No HTTP here (see `app.py`) and no server (see `server.py`)."""

from __future__ import annotations

import collections
import json
import logging
import os
import threading
import time
from pathlib import Path

from execplanner.simcloud.checkin import CheckIn
from execplanner.simcloud.faults import FaultInjector
from execplanner.simcloud.loopback import pick_federation_block, site_block
from execplanner.simcloud.spec import FederationSpec, UserSpec
from execplanner.simcloud.state import SiteCloud

log = logging.getLogger(__name__)

ENTITLEMENT_PREFIX = "urn:mace:egi.eu:group:"
ENTITLEMENT_SUFFIX = "#aai.egi.eu"


def entitlement(vo: str, role: str = "vm_operator") -> str:
    return f"{ENTITLEMENT_PREFIX}{vo}:role={role}{ENTITLEMENT_SUFFIX}"


def operator_vos(entitlements: list[str]) -> set[str]:
    """VOs in which a user holds `role=vm_operator`: EGI maps only those to OpenStack projects."""
    vos = set()
    for value in entitlements:
        value = value.split("#", 1)[0]
        if value.startswith(ENTITLEMENT_PREFIX) and value.endswith(":role=vm_operator"):
            vos.add(value[len(ENTITLEMENT_PREFIX) : -len(":role=vm_operator")])
    return vos


class Federation:
    def __init__(self, spec: FederationSpec, state_file: Path | None = None) -> None:
        self.spec = spec
        self.sites: dict[str, SiteCloud] = {s.name: SiteCloud.from_spec(s) for s in spec.sites}
        self.address_block = pick_federation_block()
        for index, site in enumerate(self.sites.values()):
            site.address_block = str(site_block(self.address_block, index))
        self.faults = FaultInjector()
        for site_spec in spec.sites:
            self.faults.load(site_spec.name, site_spec.faults)
        self.oidc_users: dict[str, UserSpec] = {}
        self.checkin = CheckIn()  # the token endpoint's refresh grants (robot accounts)
        self.calls: collections.Counter[str] = collections.Counter()  # API calls answered, by call name (bench)
        self._users_lock = threading.Lock()
        demo = [entitlement(vo, role) for vo in spec.all_vos for role in ("member", "vm_operator")]
        self.add_token(spec.demo_token, demo, name="demo")
        for user in spec.users:
            self.oidc_users[user.token] = user
        self.state_file = state_file
        self._save_lock = threading.Lock()
        if state_file is not None and state_file.exists():
            self.reload(state_file)

    @property
    def demo_token(self) -> str:
        return self.spec.demo_token

    def add_token(
        self,
        token: str,
        entitlements: list[str],
        expired: bool = False,
        name: str | None = None,
        expires_at: float | None = None,
    ) -> UserSpec:
        """Teach the simulated Check-in one more access token (a user with these entitlements)."""
        user = UserSpec(
            token=token,
            name=name or f"user-{len(self.oidc_users) + 1}",
            entitlements=entitlements,
            expired=expired,
            expires_at=expires_at,
        )
        with self._users_lock:
            self.oidc_users[token] = user
        return user

    def oidc_user(self, token: str | None) -> UserSpec | None:
        """The user behind a live access token; None for unknown or expired tokens."""
        if not token:
            return None
        with self._users_lock:
            user = self.oidc_users.get(token)
        if user is None or user.expired or (user.expires_at is not None and user.expires_at <= time.time()):
            return None
        return user

    # ------------------------------------------------------------------ persistence
    def dump(self) -> dict[str, object]:
        sites = {}
        for name, site in self.sites.items():
            with site.lock:
                sites[name] = site.dump()
        extra_users = [u.model_dump() for t, u in self.oidc_users.items() if t != self.demo_token]
        return {"version": 1, "sites": sites, "users": extra_users}

    def persist(self) -> None:
        """Write the state file, if any (atomically: a crash never leaves half a file)."""
        if self.state_file is None:
            return
        with self._save_lock:
            tmp = self.state_file.with_suffix(self.state_file.suffix + ".tmp")
            tmp.write_text(json.dumps(self.dump(), indent=1), encoding="utf-8")
            os.replace(tmp, self.state_file)

    def reload(self, path: Path) -> None:
        data = json.loads(path.read_text(encoding="utf-8"))
        for name, site_data in data.get("sites", {}).items():
            if name in self.sites:
                with self.sites[name].lock:
                    self.sites[name].restore(site_data)
            else:
                log.warning("simcloud.state.unknown_site site=%s", name)
        for user in data.get("users", []):
            self.oidc_users[user["token"]] = UserSpec(**user)
