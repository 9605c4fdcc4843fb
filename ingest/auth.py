"""Which configured token a request carries, compared in constant time; never the token itself."""

from __future__ import annotations

import hashlib
import hmac

NO_AUTH = "none"


def token_label(index: int, token: str) -> str:
    """Names a token without revealing it: `token-<index>-<8 hex>`.

    `index` is the token's 0-based position in PBX55_TOKENS; the hex is the start of
    HMAC-SHA256(token, "pbx55-token-id").
    """
    digest = hmac.new(token.encode(), b"pbx55-token-id", hashlib.sha256).hexdigest()
    return f"token-{index}-{digest[:8]}"


class TokenAuth:
    def __init__(self, tokens: tuple[str, ...], *, insecure_no_auth: bool) -> None:
        self._tokens = [(token.encode(), token_label(i, token)) for i, token in enumerate(tokens)]
        self._texts = tokens
        self.insecure_no_auth = insecure_no_auth

    def redact(self, text: str) -> str:
        """`text` with every configured token in it replaced by `<token>`, for a log line."""
        for token in self._texts:
            text = text.replace(token, "<token>")
        return text

    def identify(self, token_header: bytes | None, authorization: bytes | None) -> str | None:
        """The label of the matching token, `none` under --insecure-no-auth, else None (401)."""
        candidates = []
        if token_header is not None:
            candidates.append(token_header.strip())
        if authorization is not None:
            scheme, _, credentials = authorization.strip().partition(b" ")
            if scheme.lower() == b"bearer":
                candidates.append(credentials.strip())
        matched = None
        # Every comparison runs, whatever matches, so timing tells nothing about which token.
        for candidate in candidates:
            for token, label in self._tokens:
                if hmac.compare_digest(candidate, token) and matched is None:
                    matched = label
        if matched is None and self.insecure_no_auth:
            return NO_AUTH
        return matched
