"""Signatures on issued documents: Ed25519, detached, over the file's exact bytes.

Chosen over a PDF-embedded (PAdES) signature because a verifier needs nothing but the file
and the published public key, whatever the format, and the check is one call in any
language. The key pair is derived from ``SEVA_SECRET_KEY`` with HKDF, so every node of a
deployment signs with the same key without another secret to distribute; rotating the
secret rotates the key, and documents signed before keep verifying by their stored
signature's key id.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


class Signer:
    def __init__(self, secret: str) -> None:
        seed = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=b"seva-locker", info=b"ed25519 issuer key"
        ).derive(secret.encode())
        self._private = Ed25519PrivateKey.from_private_bytes(seed)
        self.public_bytes = self._private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_id = hashlib.sha256(self.public_bytes).hexdigest()[:16]

    def sign(self, data: bytes) -> str:
        return self._private.sign(data).hex()

    def verify(self, data: bytes, signature_hex: str) -> bool:
        try:
            signature = bytes.fromhex(signature_hex)
            Ed25519PublicKey.from_public_bytes(self.public_bytes).verify(signature, data)
        except (ValueError, InvalidSignature):
            return False
        return True

    def jwk(self) -> dict[str, str]:
        """The public key as an RFC 8037 OKP JSON Web Key, for verifiers' own tools."""
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "kid": self.key_id,
            "use": "sig",
            "x": base64.urlsafe_b64encode(self.public_bytes).rstrip(b"=").decode(),
        }
