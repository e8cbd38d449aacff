"""FastAPI dependencies shared by every router: a transaction per request.

The gateway itself is handed out a layer up: ``seva.core.CoreDep`` to the domains,
``seva.gateway.GatewayDep`` to the channels and the web pages.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from seva.db.session import Database


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the handler returns, rolled back on error.

    Scoped to the handler (``scope="function"``) so the commit happens before the response is
    sent: a client that answers at once (the next USSD hop, a second SMS) must see this write.
    """
    database: Database = request.app.state.gateway.db
    with database.session() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
