"""A simulated EGI Federated Cloud for tests and demos: Keystone (with EGI's OIDC federation), Nova, Glance,
Neutron and Cinder subsets for several heterogeneous sites, served over real HTTP on loopback. Not a cloud."""

from execplanner.simcloud.federation import entitlement
from execplanner.simcloud.server import SimFederation, SimSite
from execplanner.simcloud.spec import FederationSpec, SiteSpec, load_federation

__all__ = ["FederationSpec", "SimFederation", "SimSite", "SiteSpec", "entitlement", "load_federation"]
