"""``/v1/auth``: user tokens in exchange for an identity provider's, service tokens in exchange
for the shared secret, and the revocation list the ingest replicas load when they start."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from wildlens.catalogue.auth import service
from wildlens.catalogue.auth.exchange import exchange
from wildlens.catalogue.auth.schemas import (
    Revocation,
    ServiceTokenIssued,
    ServiceTokenRequest,
    TokenExchanged,
    TokenExchangeRequest,
)
from wildlens.catalogue.deps import IssuerDep, SessionDep, SettingsDep, VerifierDep
from wildlens.catalogue.models import DeviceToken
from wildlens.common.errors import Forbidden
from wildlens.common.http import (
    ERROR_RESPONSES,
    Page,
    PageParams,
    PrincipalDep,
    error_response,
    page_params,
)

router = APIRouter(prefix="/v1/auth", tags=["auth"], responses=ERROR_RESPONSES)


@router.post("/token", response_model=TokenExchanged)
async def exchange_token(
    body: TokenExchangeRequest,
    session: SessionDep,
    settings: SettingsDep,
    issuer: IssuerDep,
    verifier: VerifierDep,
) -> TokenExchanged:
    """Exchange an identity provider's JWT for a Wildlens token with the user's project roles."""
    token = await exchange(settings, issuer, verifier, session, body.subject_token)
    return TokenExchanged(access_token=token, expires_in=settings.auth.token_ttl_s)


@router.post(
    "/service-token",
    response_model=ServiceTokenIssued,
    responses={
        401: error_response(
            "The secret is not the platform's service secret (every secret is wrong where "
            "none is configured)"
        ),
        503: error_response("This catalogue instance holds no signing key"),
    },
)
async def create_service_token(
    body: ServiceTokenRequest, settings: SettingsDep, issuer: IssuerDep
) -> ServiceTokenIssued:
    """Exchange the platform's service secret for a service token."""
    return service.issue_service_token(settings, issuer, body)


def _revocation(token: DeviceToken) -> Revocation:
    # Only revoked tokens are listed, so revoked_at is set.
    assert token.revoked_at is not None
    return Revocation(
        token_id=token.id,
        project_id=token.project_id,
        revoked_at=token.revoked_at,
        expires_at=token.expires_at,
    )


@router.get("/revocations", response_model=Page[Revocation])
async def list_revocations(
    session: SessionDep,
    principal: PrincipalDep,
    page: Annotated[PageParams, Depends(page_params(default=1000))],
) -> Page[Revocation]:
    """Revoked device tokens that have not yet expired (service tokens only)."""
    if principal.kind != "service":
        raise Forbidden("only services may read the revocation list")
    rows, next_cursor = await service.revocations(session, page)
    items = [_revocation(r) for r in rows]
    return Page(items=items, next_cursor=next_cursor)
