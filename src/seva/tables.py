"""Every domain's models in one place, so ``Base.metadata`` is complete (Alembic, tests).

It imports every domain, so it sits with the app's assembly, above the domains (see
``docs/architecture.md``), not in the database kernel (``seva.db``)."""

from seva.applications import models as applications
from seva.citizens import models as citizens
from seva.dashboard import models as dashboard
from seva.directory import models as directory
from seva.flows import models as flows
from seva.locker import models as locker
from seva.messaging import models as messaging
from seva.rtc import models as rtc
from seva.tenancy import models as tenancy
from seva.voice import models as voice

__all__ = [
    "applications",
    "citizens",
    "dashboard",
    "directory",
    "flows",
    "locker",
    "messaging",
    "rtc",
    "tenancy",
    "voice",
]
