"""The simcloud fixtures, imported here because pytest_plugins may only be declared in the top conftest."""

from execplanner.simcloud.testing import simcloud, simcloud_fresh, simcloud_session  # noqa: F401
