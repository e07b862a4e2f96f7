"""The launch: OIDC login, id_token validation, recording the launch, and the launch token that
carries it to later requests."""
