"""The HTTP side shared by every service: app factory, error rendering, dependencies."""

from wildlens.common.http.app import create_app
from wildlens.common.http.body_limit import body_limit, reads_own_body
from wildlens.common.http.deps import (
    PrincipalDep,
    bus_dependency,
    clients_dependency,
    database_dependency,
    get_principal,
    issuer_dependency,
    runtime_dependency,
    runtime_part_dependency,
    session_dependency,
    settings_dependency,
    store_dependency,
)
from wildlens.common.http.errors import ERROR_RESPONSES, ErrorBody, error_response
from wildlens.common.http.pagination import (
    Page,
    PageDep,
    PageParams,
    decode_cursor,
    encode_cursor,
    page_params,
)
from wildlens.common.http.timestamps import Timestamp

__all__ = [
    "ERROR_RESPONSES",
    "ErrorBody",
    "Page",
    "PageDep",
    "PageParams",
    "PrincipalDep",
    "Timestamp",
    "body_limit",
    "bus_dependency",
    "clients_dependency",
    "create_app",
    "database_dependency",
    "decode_cursor",
    "encode_cursor",
    "error_response",
    "get_principal",
    "issuer_dependency",
    "page_params",
    "reads_own_body",
    "runtime_dependency",
    "runtime_part_dependency",
    "session_dependency",
    "settings_dependency",
    "store_dependency",
]
