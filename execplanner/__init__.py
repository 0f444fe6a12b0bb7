"""execplanner: where, and when, can I run this? — an IVOA ExecutionBroker for EGI FedCloud."""

__version__ = "0.1.0"
