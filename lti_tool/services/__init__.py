"""Calls to a platform's services: one authenticated HTTP client with shared tokens, AGS, NRPS,
the Deep Linking response, and the interface through which the domain uses them."""
