"""Where originals live in object storage: content-addressed, immutable."""


def original_key(sha256: str, extension: str) -> str:
    return f"media/{sha256[:2]}/{sha256}.{extension}"
