"""RSA key pairs in the two forms a platform needs: PEM to sign, public JWK to publish.

The demo LMS makes its keys exactly as the tool does."""

from lti_tool.keys import KeyPair, generate_key_pair

__all__ = ["KeyPair", "generate_key_pair"]
