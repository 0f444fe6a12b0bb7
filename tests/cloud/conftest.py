"""The simcloud fixtures, for tests that launch on the simulated federation."""

from execplanner.simcloud.testing import simcloud, simcloud_fresh, simcloud_session  # noqa: F401
