"""`execplanner serve --cloud sim`: the simulated federation in the service's own process, the catalogue pointed
at it, and its demo token as every VO's robot credential. The CLI wires this into `serve`; no product module
imports it."""

from __future__ import annotations

from execplanner.catalogue import Catalogue, default_catalogue_path
from execplanner.config import Settings
from execplanner.lifecycle.credentials import CredentialSource, RobotCredentials
from execplanner.simcloud.default_catalogue import CANONICAL_SIM_URL, rebase
from execplanner.simcloud.server import SimFederation


def simulated_cloud(settings: Settings) -> tuple[SimFederation, Settings, CredentialSource]:
    """Start the federation on a free loopback port; write the rebased catalogue into the data directory."""
    fed = SimFederation.start(host="127.0.0.1", port=0)
    source = settings.catalogue or default_catalogue_path()
    catalogue = rebase(Catalogue.load(source), CANONICAL_SIM_URL, fed.base_url)
    path = settings.data_dir / "simcloud-catalogue.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    catalogue.save(path)
    token = fed.demo_token
    credentials = CredentialSource(robot=RobotCredentials(tokens={"*": lambda: token}))
    return fed, settings.model_copy(update={"catalogue": path}), credentials
