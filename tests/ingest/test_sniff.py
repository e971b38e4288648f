from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support import bad_files
from wildlens.common.errors import Invalid, UnsupportedMedia, WildlensError
from wildlens.ingest.media import sniff


@pytest.mark.parametrize(
    ("make", "kind", "content_type", "extension"),
    [
        (bad_files.real_jpeg, "image", "image/jpeg", "jpg"),
        (bad_files.valid_png, "image", "image/png", "png"),
        (bad_files.valid_tiff, "image", "image/tiff", "tif"),
        (bad_files.valid_webp, "image", "image/webp", "webp"),
        (bad_files.fake_heic, "image", "image/heic", "heic"),
        (bad_files.fake_mp4, "video", "video/mp4", "mp4"),
        (bad_files.fake_mov, "video", "video/quicktime", "mov"),
        (bad_files.fake_avi, "video", "video/x-msvideo", "avi"),
        # The type comes from the bytes: a truncated JPEG is still a JPEG to sniffing.
        (bad_files.truncated_jpeg, "image", "image/jpeg", "jpg"),
    ],
)
def test_accepted_types_are_recognised_from_their_bytes(
    make: Callable[[], bytes], kind: str, content_type: str, extension: str
) -> None:
    sniffed = sniff(make()[:4096])

    assert (sniffed.kind, sniffed.content_type, sniffed.extension) == (
        kind,
        content_type,
        extension,
    )


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (bad_files.empty, Invalid, "file is empty"),
        (bad_files.html_named_jpg, UnsupportedMedia, "content is HTML, not an image or video"),
        (bad_files.svg, UnsupportedMedia, "content is SVG, not an image or video"),
        (bad_files.xml, UnsupportedMedia, "content is XML, not an image or video"),
        (bad_files.pdf, UnsupportedMedia, "content is a PDF document"),
        (bad_files.zip_archive, UnsupportedMedia, "content is a ZIP archive"),
        (bad_files.elf, UnsupportedMedia, "content is an ELF executable"),
        (bad_files.pe, UnsupportedMedia, "content is a Windows executable (PE)"),
        (bad_files.shell_script, UnsupportedMedia, "content is a script"),
        (bad_files.json_text, UnsupportedMedia, "content is JSON or other text"),
        (bad_files.gif, UnsupportedMedia, "content is a GIF image, which is not accepted"),
        (bad_files.fake_avif, UnsupportedMedia, "content is an AVIF image, which is not accepted"),
        (bad_files.unknown_binary, UnsupportedMedia, "not a recognised image or video format"),
    ],
)
def test_everything_else_is_refused_with_a_reason(
    make: Callable[[], bytes], error: type[WildlensError], message: str
) -> None:
    with pytest.raises(error) as caught:
        sniff(make()[:4096])

    assert type(caught.value) is error
    assert message in caught.value.detail
    if error is UnsupportedMedia:
        assert caught.value.status_code == 415
        assert "we accept JPEG, PNG" in caught.value.detail
