"""Decide, without a human, what a flavor, image or network is.

Pure functions of facts discovery read from OpenStack (the `*Facts` dataclasses): no I/O, so every rule is
testable on hand-written inputs. Each decision records its evidence in `classified_by` / `evidence`, so a
catalogue reader can see why an image was called Ubuntu 22.04 or a network public.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from execplanner.catalogue.model import Flavor, Gpu, Image, Network, NetworkRole, PublicAccess

# ---------------------------------------------------------------------------------------------------- facts


@dataclass(frozen=True)
class FlavorFacts:
    id: str
    name: str
    vcpus: int
    ram: int
    disk: int
    ephemeral: int = 0
    extra_specs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ImageFacts:
    id: str
    name: str
    properties: Mapping[str, object] = field(default_factory=dict)
    min_disk: int = 0
    min_ram: int = 0


@dataclass(frozen=True)
class NetworkFacts:
    id: str
    name: str
    external: bool = False  # router:external
    shared: bool = False
    project_id: str | None = None
    cidrs: tuple[str, ...] = ()
    provider_type: str | None = None  # provider:network_type when visible (flat, vlan: provider networks)


# ---------------------------------------------------------------------------------------------------- GPUs

# GPU model names recognised in flavor names and PCI aliases (the vendor is never guessed from the model)
_GPU_MODELS = {
    *("k80", "p4", "p40", "p100", "v100", "t4", "a2", "a10", "a16", "a30", "a40", "a100", "h100", "h200"),
    *("l4", "l40", "l40s", "rtx", "quadro", "titan", "m60", "mi50", "mi100", "mi210", "mi250", "mi300"),
}
_GPU_VENDORS = {"nvidia", "amd", "intel"}
_TOKEN_SPLIT = re.compile(r"[\s._:/\-]+")


def _tokens(text: str) -> list[str]:
    return [t for t in _TOKEN_SPLIT.split(text) if t]


def _vendor_model(text: str) -> tuple[str | None, str | None]:
    """Vendor and model named in `text`, spelled as written there (`NVIDIA-V100` -> NVIDIA, V100)."""
    vendor = model = None
    for token in _tokens(text):
        lowered = token.lower()
        if lowered in _GPU_VENDORS and vendor is None:
            vendor = token
            continue
        bare = re.sub(r"^gpu|gpu$|x\d+$", "", lowered)
        if model is None and bare in _GPU_MODELS:
            start = lowered.index(bare)
            model = token[start : start + len(bare)]
    return vendor, model


def _int(value: object) -> int | None:
    try:
        return int(str(value).strip())
    except ValueError:
        return None


@dataclass(frozen=True)
class _GpuClue:
    count: int | None = None
    vendor: str | None = None
    model: str | None = None
    evidence: str | None = None


def _from_accelerator(specs: Mapping[str, str]) -> _GpuClue:
    """Accelerator:Number/Vendor/Model, the EGI convention; values kept as the site wrote them."""
    vendor = (specs.get("accelerator:vendor") or "").strip() or None
    model = (specs.get("accelerator:model") or "").strip() or None
    count = _int(specs.get("accelerator:number", ""))
    if not (count or vendor or model):
        return _GpuClue()
    return _GpuClue(count or None, vendor, model, "gpu:extra_spec:Accelerator")


def _from_pci_alias(specs: Mapping[str, str]) -> _GpuClue:
    """`nvidia-v100:2` (or `a:1,b:1`): count is the sum; vendor/model from the first alias naming them."""
    value = specs.get("pci_passthrough:alias") or ""
    total = 0
    vendor = model = None
    for entry in value.split(","):
        alias, _, count_text = entry.strip().partition(":")
        count = _int(count_text) if count_text else 1
        if not alias or not count:
            continue
        total += count
        alias_vendor, alias_model = _vendor_model(alias)
        vendor, model = vendor or alias_vendor, model or alias_model
    if not total:
        return _GpuClue()
    return _GpuClue(total, vendor, model, "gpu:extra_spec:pci_passthrough:alias")


def _from_resources(specs: Mapping[str, str]) -> _GpuClue:
    for key, label in (("resources:vgpu", "resources:VGPU"), ("resources:pgpu", "resources:PGPU")):
        count = _int(specs.get(key, ""))
        if count:
            return _GpuClue(count, None, None, f"gpu:extra_spec:{label}")
    return _GpuClue()


def _from_name(name: str) -> _GpuClue:
    """`g1.gpu-v100`, `gpu.large`, `m1.2gpu`, `v100.xlarge`: a name that says gpu or names a GPU model."""
    count: int | None = None
    said_gpu = False
    for token in _tokens(name.lower()):
        match = re.fullmatch(r"(\d*)x?gpus?(\d*)", token)
        if match:
            said_gpu = True
            digits = match.group(1) or match.group(2)
            count = count or (int(digits) if digits else None)
    vendor, model = _vendor_model(name)
    if not (said_gpu or model is not None or (vendor or "").lower() == "nvidia"):
        return _GpuClue()
    return _GpuClue(count or 1, vendor, model, "gpu:name")


def classify_gpu(name: str, extra_specs: Mapping[str, str]) -> tuple[Gpu | None, list[str]]:
    """GPUs from extra specs (Accelerator:*, pci_passthrough:alias, resources:VGPU), then the flavor name.

    Each of count, vendor and model comes from the most trusted clue that gives it; the name counts GPUs
    only when no extra spec says the flavor has any.
    """
    specs = {str(k).lower(): str(v) for k, v in extra_specs.items()}
    spec_clues = [c for c in (_from_accelerator(specs), _from_pci_alias(specs), _from_resources(specs)) if c.evidence]
    by_name = _from_name(name)
    if spec_clues:
        return _gpu_from_specs(spec_clues, by_name)
    if by_name.evidence is None:
        return None, []
    return Gpu(count=by_name.count or 1, vendor=by_name.vendor, model=by_name.model), ["gpu:name"]


def _gpu_from_specs(spec_clues: list[_GpuClue], by_name: _GpuClue) -> tuple[Gpu, list[str]]:
    """Count from the extra specs; vendor and model from them too, else from the name (which then says so)."""
    count = next((c.count for c in spec_clues if c.count), 1)
    vendor = next((c.vendor for c in spec_clues if c.vendor), None)
    model = next((c.model for c in spec_clues if c.model), None)
    evidence = [c.evidence for c in spec_clues if c.evidence]
    if (vendor is None and by_name.vendor) or (model is None and by_name.model):
        vendor, model = vendor or by_name.vendor, model or by_name.model
        evidence.append("gpu:name")
    return Gpu(count=count, vendor=vendor, model=model), evidence


def classify_flavor(facts: FlavorFacts) -> Flavor:
    gpu, evidence = classify_gpu(facts.name, facts.extra_specs)
    return Flavor(
        id=facts.id,
        name=facts.name,
        vcpus=facts.vcpus,
        ram=facts.ram,
        disk=facts.disk,
        ephemeral=facts.ephemeral,
        gpu=gpu,
        extra_specs={str(k): str(v) for k, v in facts.extra_specs.items()},
        classified_by=evidence,
    )


# ---------------------------------------------------------------------------------------------------- images

# spelling seen in names/properties -> canonical os_distro (glance's os_distro vocabulary where it has one)
_DISTROS: dict[str, str] = {
    "ubuntu": "ubuntu",
    "debian": "debian",
    "centos": "centos",
    "almalinux": "almalinux",
    "alma": "almalinux",
    "rocky": "rocky",
    "rockylinux": "rocky",
    "fedora": "fedora",
    "rhel": "rhel",
    "redhat": "rhel",
    "opensuse": "opensuse",
    "sles": "sles",
    "scientific": "scientific",
    "sl": "scientific",
    "oraclelinux": "oraclelinux",
    "oracle": "oraclelinux",
    "cirros": "cirros",
    "arch": "arch",
    "archlinux": "arch",
    "freebsd": "freebsd",
    "windows": "windows",
}
_FAMILY = {"windows": "windows", "freebsd": "bsd"}  # everything else in _DISTROS is linux
_CODENAMES: dict[str, tuple[str, str]] = {
    "noble": ("ubuntu", "24.04"),
    "jammy": ("ubuntu", "22.04"),
    "focal": ("ubuntu", "20.04"),
    "bionic": ("ubuntu", "18.04"),
    "xenial": ("ubuntu", "16.04"),
    "trixie": ("debian", "13"),
    "bookworm": ("debian", "12"),
    "bullseye": ("debian", "11"),
    "buster": ("debian", "10"),
    "stretch": ("debian", "9"),
}
# token -> appliance tag
_APPLIANCES: dict[str, str] = {
    "docker": "docker",
    "jupyter": "jupyter",
    "jupyterhub": "jupyter",
    "jupyterlab": "jupyter",
    "notebook": "jupyter",
    "notebooks": "jupyter",
    "singularity": "singularity",
    "apptainer": "singularity",
    "kubernetes": "kubernetes",
    "k8s": "kubernetes",
    "cuda": "cuda",
    "conda": "conda",
    "miniconda": "conda",
    "snakemake": "snakemake",
    "galaxy": "galaxy",
}
_ARCH_IN_NAME = re.compile(r"(?<![a-z0-9])(x86[_-]64|amd64|aarch64|arm64)(?![a-z0-9])")
_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "x64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}
# "[Ubuntu/22.04/VirtualBox]" in EGI marketplace (AppDB) image names
_BRACKETED = re.compile(r"\[\s*([A-Za-z][\w .-]*?)\s*/\s*([\w.]+)\s*(?:/[^\]]*)?\]")
_WORD = re.compile(r"[a-z][a-z0-9]*|\d+(?:\.\d+)*")
_VERSION = re.compile(r"\d+(?:\.\d+)*")
# image properties whose text describes the OS or appliance (AppDB / EGI marketplace / cloud-info)
_DESCRIPTIVE_PREFIXES = ("ad:", "eu.egi.cloud.", "appdb", "egi_", "vmcatcher_")


@dataclass
class _OsGuess:
    distro: str | None = None
    version: str | None = None
    evidence: str | None = None


def _canonical_distro(text: str) -> str | None:
    words = _WORD.findall(text.lower().replace("-", " ").replace("_", " "))
    joined = "".join(words)
    if joined in _DISTROS:
        return _DISTROS[joined]
    for word in words:
        if word in _DISTROS:
            return _DISTROS[word]
    return None


def _normalise_version(distro: str | None, version: str) -> str:
    """Ubuntu is named by year.month (22.04.3 -> 22.04); the others by major[.minor]."""
    parts = version.split(".")
    if distro == "ubuntu":
        return ".".join(parts[:2]) if len(parts) >= 2 else version
    return version


def _os_from_text(text: str) -> _OsGuess:
    """Distro and version from free text such as an image name or a marketplace description."""
    bracket = _BRACKETED.search(text)
    if bracket and (distro := _canonical_distro(bracket.group(1))):
        return _OsGuess(distro, _normalise_version(distro, bracket.group(2)), "bracket")
    words = _WORD.findall(text.lower().replace("_", " "))
    for index, word in enumerate(words):
        if word in _CODENAMES:
            distro, version = _CODENAMES[word]
            return _OsGuess(distro, version, "codename")
        distro = _DISTROS.get(word)
        if distro is None or (word in _AMBIGUOUS_DISTRO_WORDS and len(words) > 1 and index > 0):
            continue
        found = _version_among(words[index + 1 : index + 4])
        return _OsGuess(distro, _normalise_version(distro, found) if found else None, "words")
    return _OsGuess()


# words that name a distro only at the start of a text ("sl" or "arch" later on are something else)
_AMBIGUOUS_DISTRO_WORDS = ("sl", "arch", "alma", "oracle")


def _version_among(words: list[str]) -> str | None:
    """The first version number among the words after a distro's name, else the version of a codename there."""
    version = next((w for w in words if _VERSION.fullmatch(w)), None)
    if version is not None:
        return version
    codename = next((w for w in words if w in _CODENAMES), None)
    return _CODENAMES[codename][1] if codename else None


def _os_from_properties(properties: Mapping[str, object]) -> tuple[_OsGuess, list[str]]:
    """Distro and version as glance's `os_distro` and `os_version` state them, with the evidence."""
    guess, evidence = _OsGuess(), []
    raw_distro = properties.get("os_distro")
    if isinstance(raw_distro, str) and raw_distro.strip():
        guess.distro = _canonical_distro(raw_distro) or raw_distro.strip().lower()
        evidence.append("os:property:os_distro")
    raw_version = properties.get("os_version")
    if raw_version is not None and str(raw_version).strip():
        guess.version = _normalise_version(guess.distro, str(raw_version).strip())
        evidence.append("os:property:os_version")
    return guess, evidence


def _fill_from_text(known: _OsGuess, found: _OsGuess, label: str) -> list[str]:
    """Fill what `known` lacks from a text's guess about the same distro; the evidence for what was filled."""
    if found.distro is None or (known.distro is not None and found.distro != known.distro):
        return []
    evidence = []
    if known.distro is None:
        known.distro = found.distro
        evidence.append(f"os:{label}")
    if known.version is None and found.version is not None:
        known.version = found.version
        evidence.append(f"os_version:{label}")
    return evidence


def _descriptive_texts(properties: Mapping[str, object]) -> list[tuple[str, str]]:
    return [
        (key, str(value))
        for key, value in sorted(properties.items())
        if isinstance(value, str) and key.lower().startswith(_DESCRIPTIVE_PREFIXES)
    ]


def _family(distro: str | None, os_type: str | None) -> str | None:
    if os_type:
        return os_type.lower()
    if distro is None:
        return None
    return _FAMILY.get(distro, "linux")


def classify_os(name: str, properties: Mapping[str, object]) -> tuple[str | None, str | None, str | None, list[str]]:
    """(family, distro, version, evidence): image properties, then descriptive properties, then the name."""
    guess, evidence = _os_from_properties(properties)
    for key, text in [*_descriptive_texts(properties), ("name", name)]:
        if guess.distro is not None and guess.version is not None:
            break
        evidence += _fill_from_text(guess, _os_from_text(text), "name" if key == "name" else f"property:{key}")
    distro, version = guess.distro, guess.version
    os_type = properties.get("os_type")
    family = _family(distro, os_type if isinstance(os_type, str) and os_type.strip() else None)
    if isinstance(os_type, str) and os_type.strip():
        evidence.append("os_family:property:os_type")
    return family, distro, version, evidence


def classify_appliances(name: str, properties: Mapping[str, object]) -> tuple[list[str], list[str]]:
    """Appliance tags (docker, jupyter, ...) from tags/descriptive properties and the name."""
    found: dict[str, str] = {}
    texts: list[tuple[str, str]] = []
    for key in ("tags", "appliances", "eu.egi.cloud.tag", "ad:tags"):
        value = properties.get(key)
        if isinstance(value, list | tuple):
            texts.append((key, " ".join(str(v) for v in value)))
        elif isinstance(value, str):
            texts.append((key, value))
    texts += [*_descriptive_texts(properties), ("name", name)]
    for key, text in texts:
        label = "name" if key == "name" else f"property:{key}"
        for word in _WORD.findall(text.lower()):
            tag = _APPLIANCES.get(word) or _APPLIANCES.get(word.rstrip("0123456789"))
            if tag is not None and tag not in found:
                found[tag] = f"appliance:{tag}:{label}"
    tags = sorted(found)
    return tags, [found[t] for t in tags]


def classify_architecture(name: str, properties: Mapping[str, object]) -> str | None:
    raw = properties.get("architecture") or properties.get("hw_architecture")
    if isinstance(raw, str) and raw.strip():
        return _ARCH.get(raw.strip().lower(), raw.strip().lower())
    match = _ARCH_IN_NAME.search(name.lower())
    return _ARCH[match.group(1).replace("-", "_")] if match else None


def classify_image(facts: ImageFacts) -> Image:
    family, distro, version, os_evidence = classify_os(facts.name, facts.properties)
    appliances, appliance_evidence = classify_appliances(facts.name, facts.properties)
    return Image(
        id=facts.id,
        name=facts.name,
        os_family=family,
        os_distro=distro,
        os_version=version,
        appliances=appliances,
        architecture=classify_architecture(facts.name, facts.properties),
        min_disk=max(facts.min_disk, 0),
        min_ram=max(facts.min_ram, 0),
        classified_by=os_evidence + appliance_evidence,
    )


# --------------------------------------------------------------------------------------------------- networks

_PUBLIC_NAME = re.compile(
    r"^(?:public|external|ext[-_]?net|provider[-_].*|.*[-_]public|public[-_].*|internet|floating.*|wan)$",
    re.IGNORECASE,
)
# evidence -> strength; the public network of a project is the one with the strongest evidence
_STRENGTH = {"router:external": 8, "floating-ip-pool": 4, "public-addresses": 2, "name-pattern": 1}


def has_public_addresses(cidrs: Iterable[str]) -> bool:
    """True when some IPv4 subnet is globally routable (not RFC 1918, CGNAT, link-local...).

    IPv6 is ignored: private tenant networks routinely carry global IPv6 prefixes.
    """
    for cidr in cidrs:
        try:
            net = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            continue
        if net.version == 4 and net.is_global:
            return True
    return False


def _public_evidence(facts: NetworkFacts, project_id: str, floating_ip_pools: set[str]) -> list[str]:
    evidence: list[str] = []
    if facts.external:
        evidence.append("router:external")
    if facts.id in floating_ip_pools:
        evidence.append("floating-ip-pool")
    provider_like = facts.shared or facts.project_id != project_id or facts.provider_type in ("flat", "vlan")
    if provider_like and has_public_addresses(facts.cidrs):
        evidence.append("public-addresses")
    only_private_v4 = any(":" not in c for c in facts.cidrs) and not has_public_addresses(facts.cidrs)
    if _PUBLIC_NAME.match(facts.name) and (evidence or not only_private_v4):
        evidence.append(f"name-pattern:{facts.name}")
    return evidence


def _strength(evidence: list[str]) -> int:
    return sum(_STRENGTH.get("name-pattern" if e.startswith("name-pattern:") else e, 0) for e in evidence)


def _access(facts: NetworkFacts, floating_ips_allowed: bool) -> PublicAccess:
    """External networks hand out floating IPs, unless shared with no floating-IP quota (VMs plug in)."""
    if facts.external and (floating_ips_allowed or not facts.shared):
        return PublicAccess.FLOATING_IP
    return PublicAccess.DIRECT


def classify_network(
    facts: NetworkFacts, project_id: str, floating_ip_pools: set[str], floating_ips_allowed: bool = True
) -> Network:
    evidence = _public_evidence(facts, project_id, floating_ip_pools)
    access: PublicAccess | None = None
    if evidence:
        role, access = NetworkRole.PUBLIC, _access(facts, floating_ips_allowed)
    elif facts.project_id == project_id and not facts.shared:
        role, evidence = NetworkRole.VO_PRIVATE, ["project-owned"]
    else:
        role, evidence = NetworkRole.PRIVATE, ["shared" if facts.shared else "not-project-owned"]
    return Network(
        id=facts.id,
        name=facts.name,
        external=facts.external,
        shared=facts.shared,
        role=role,
        access=access,
        evidence=evidence,
        cidrs=list(facts.cidrs),
    )


def classify_networks(
    networks: Iterable[NetworkFacts],
    project_id: str,
    floating_ip_pools: Iterable[str] = (),
    floating_ips_allowed: bool = True,
) -> list[Network]:
    """Classify every network a project sees; public ones first, strongest evidence first, then VO-private.

    `floating_ip_pools`: ids of networks the project has (or can get) floating IPs from;
    `floating_ips_allowed`: False when the project's floating-IP quota is zero.
    """
    pools = set(floating_ip_pools)
    classified = [classify_network(n, project_id, pools, floating_ips_allowed) for n in networks]
    order = {NetworkRole.PUBLIC: 0, NetworkRole.VO_PRIVATE: 1, NetworkRole.PRIVATE: 2}
    return sorted(classified, key=lambda n: (order[n.role], -_strength(n.evidence), n.name, n.id))
