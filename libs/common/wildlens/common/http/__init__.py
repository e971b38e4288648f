"""The HTTP side shared by every service: app factory, error rendering, dependencies."""

from wildlens.common.http.app import create_app
from wildlens.common.http.deps import (
    PrincipalDep,
    context_dependency,
    get_principal,
    session_dependency,
)
from wildlens.common.http.errors import ERROR_RESPONSES, ErrorBody
from wildlens.common.http.pagination import (
    Page,
    PageDep,
    PageParams,
    decode_cursor,
    encode_cursor,
    page_params,
)

__all__ = [
    "ERROR_RESPONSES",
    "ErrorBody",
    "Page",
    "PageDep",
    "PageParams",
    "PrincipalDep",
    "context_dependency",
    "create_app",
    "decode_cursor",
    "encode_cursor",
    "get_principal",
    "page_params",
    "session_dependency",
]
