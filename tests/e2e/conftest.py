"""The fake OIDC provider of tests/auth, for tests of a real server with tokens."""

from auth.fake_idp import idp  # noqa: F401
