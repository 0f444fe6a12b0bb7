"""From Python import names to the distributions that provide them (sklearn is scikit-learn on PyPI).

Standard-library and local modules are dropped: they need no installation.
"""

from __future__ import annotations

import re
import sys

IMPORT_TO_DISTRIBUTION: dict[str, str] = {
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "cv2": "opencv-python",
    "PIL": "Pillow",
    "yaml": "PyYAML",
    "bs4": "beautifulsoup4",
    "dateutil": "python-dateutil",
    "dotenv": "python-dotenv",
    "jwt": "PyJWT",
    "Crypto": "pycryptodome",
    "OpenSSL": "pyOpenSSL",
    "serial": "pyserial",
    "usb": "pyusb",
    "gi": "PyGObject",
    "attr": "attrs",
    "google.protobuf": "protobuf",
    "Bio": "biopython",
    "mpl_toolkits": "matplotlib",
    "pylab": "matplotlib",
    "casatools": "casatools",
    "casatasks": "casatasks",
    "healpy": "healpy",
    "astropy": "astropy",
    "astroquery": "astroquery",
    "pyvo": "pyvo",
    "fitsio": "fitsio",
    "tensorflow": "tensorflow",
    "torch": "torch",
    "torchvision": "torchvision",
    "cupy": "cupy",
    "jax": "jax",
    "IPython": "ipython",
    "ipywidgets": "ipywidgets",
    "docx": "python-docx",
    "magic": "python-magic",
    "zmq": "pyzmq",
    "git": "GitPython",
    "Levenshtein": "python-Levenshtein",
    "sentencepiece": "sentencepiece",
    "lal": "lalsuite",
    "lalsimulation": "lalsuite",
}

_STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}


def distribution_for(import_name: str) -> str:
    """PyPI distribution that provides the top-level module `import_name` (the name itself if unknown)."""
    return IMPORT_TO_DISTRIBUTION.get(import_name, import_name.replace("_", "-"))


def normalised(name: str) -> str:
    """PEP 503 comparison form: "Spectral_Cube" and "spectral-cube" are the same distribution."""
    return re.sub(r"[-_.]+", "-", name).lower()


def is_standard_library(import_name: str) -> bool:
    return import_name.split(".")[0] in _STDLIB


def distributions_for(imports: list[str], local_modules: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Distributions for top-level imports, in first-seen order, without stdlib and local modules."""
    found: list[str] = []
    for name in imports:
        top = name.split(".")[0]
        if not top or is_standard_library(top) or top in local_modules:
            continue
        distribution = distribution_for(top)
        if distribution not in found:
            found.append(distribution)
    return found


_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def requirement_name(spec: str) -> str | None:
    """ "numpy>=1.2 ; python_version>'3'" → "numpy"; options, URLs and comments → None."""
    spec = spec.split("#", 1)[0].strip()
    if not spec or spec.startswith("-") or "://" in spec or spec.startswith((".", "/")):
        return None
    match = _REQUIREMENT_NAME.match(spec)
    return match.group(1) if match else None
