"""The fake OIDC provider fixtures; they live in fake_idp.py so other test folders can import them too."""

from .fake_idp import iam_idp, idp  # noqa: F401
