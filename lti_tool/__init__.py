"""The LTI 1.3 protocol of Lotsen-LTI (login, launch, keys, registrations, platform services) and
the application factory that wires it to the components passed in."""

from .app import Component, create_app

__all__ = ["Component", "create_app"]
