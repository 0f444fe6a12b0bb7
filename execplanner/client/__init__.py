"""A small command-line client for an execplanner (or any ExecutionBroker) service."""
