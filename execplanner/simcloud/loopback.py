"""Addresses a simulated VM can really be reached at: every port and floating IP gets its own 127.x.y.z.

Linux answers the whole of 127.0.0.0/8 on loopback without configuration, so a simulated server's fixed and
floating addresses are real on this machine: the VM host (`vms.py`) listens on them and a client's readiness
probe and access URL reach it. The subnets keep their declared (public or private) CIDRs, which is what the
catalogue classifies; only the addresses handed out are loopback ones.

Each federation takes a /16 nobody on this machine listens in yet (read from /proc/net/tcp), and each site
of it a /20 of that, so two federations (a test process and a service it started) do not collide.
"""

from __future__ import annotations

import ipaddress
import random
from pathlib import Path

SITE_BLOCK_SIZE = 4096  # a /20 per site
FIRST_SECOND_OCTET, LAST_SECOND_OCTET = 20, 250


def _octets_in_use(proc_files: tuple[str, ...] = ("/proc/net/tcp",)) -> set[int]:
    """Second octets of the 127.x.0.0/16 blocks in which something listens or connects right now."""
    used: set[int] = set()
    for name in proc_files:
        try:
            lines = Path(name).read_text(encoding="ascii").splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local = line.split()[1].split(":")[0]  # little-endian hex IPv4
            octets = bytes.fromhex(local)[::-1]
            if octets[0] == 127:
                used.add(octets[1])
    return used


def pick_federation_block() -> ipaddress.IPv4Network:
    """A 127.X.0.0/16 with X in 20..250 that no socket on this machine uses yet (random among those)."""
    used = _octets_in_use()
    free = [x for x in range(FIRST_SECOND_OCTET, LAST_SECOND_OCTET + 1) if x not in used]
    octet = random.choice(free or list(range(FIRST_SECOND_OCTET, LAST_SECOND_OCTET + 1)))  # noqa: S311
    return ipaddress.IPv4Network(f"127.{octet}.0.0/16")


def site_block(federation_block: ipaddress.IPv4Network, index: int) -> ipaddress.IPv4Network:
    """The /20 of site number `index` (wrapping inside the federation's /16 past 16 sites)."""
    base = int(federation_block.network_address) + (index % 16) * SITE_BLOCK_SIZE
    return ipaddress.IPv4Network((base, 20))


def next_free(block: str, taken: set[str]) -> str | None:
    """The first address of `block` not in `taken`, skipping each /24's .0 and .255."""
    for address in ipaddress.IPv4Network(block).hosts():
        text = str(address)
        if text not in taken and address.packed[3] not in (0, 255):
            return text
    return None


def pool_size(pools: list[tuple[str, str]], gateway: str | None) -> int:
    """How many addresses a subnet's allocation pools hold (its gateway excluded)."""
    size = 0
    for start, end in pools:
        first, last = int(ipaddress.ip_address(start)), int(ipaddress.ip_address(end))
        size += max(0, last - first + 1)
        if gateway is not None and first <= int(ipaddress.ip_address(gateway)) <= last:
            size -= 1
    return size
