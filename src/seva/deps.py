"""FastAPI dependencies shared by every router: the gateway and a transaction per request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from seva.gateway import Gateway


async def get_gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def get_session(gateway: Annotated[Gateway, Depends(get_gateway)]) -> Iterator[Session]:
    """One transaction per request: committed when the handler returns, rolled back on error.

    Scoped to the handler (``scope="function"``) so the commit happens before the response is
    sent: a client that answers at once (the next USSD hop, a second SMS) must see this write.
    """
    with gateway.session() as session:
        yield session


GatewayDep = Annotated[Gateway, Depends(get_gateway)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
