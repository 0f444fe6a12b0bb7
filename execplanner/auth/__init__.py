"""Bearer-token authentication: which issuers we trust, checking their tokens, and who the caller then is.

`TokenVerifier(issuers).verify(token) -> Identity` is the whole job; `bearer_token(header)` reads the header,
`Identity.can_launch(vo)` applies EGI FedCloud's vm_operator rule, `gms_groups` asks an IVOA GMS.
"""

from execplanner.auth.gms import GroupServiceError, gms_groups
from execplanner.auth.identity import Identity, vm_operator_entitlement
from execplanner.auth.issuers import TrustedIssuer
from execplanner.auth.verifier import TokenVerifier, bearer_token

__all__ = [
    "GroupServiceError",
    "Identity",
    "TokenVerifier",
    "TrustedIssuer",
    "bearer_token",
    "gms_groups",
    "vm_operator_entitlement",
]
