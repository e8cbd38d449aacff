"""Outbound messages to citizens: the outbox every notification and OTP goes through.

The queue, one job to a module, every function in the caller's transaction:

``sends``
    What a send is (``Send``, ``Accepted``, ``SendRefused``) and the limits on it.
``accept``
    Taking a send into the queue: validation, the DLT checks, idempotency, the daily quota.
``authorise``
    The DLT checks themselves: who may send as whom, and which template a text matches.
``registrations``
    A department's SMS account and the DLT headers and templates it registered.
``optouts``
    STOP and START.
``queue``
    The dispatchers' side: claims, leases, what the SMSC said to each submit.
``receipts``
    Delivery receipts, and ``unknown`` for those that never came.
``callbacks``
    Each final status POSTed to the sender.
``reading`` and ``console``
    Messages read back: by id, department or phone; and the console pages' filtered lists.

Around it: ``intake`` (the API's group commit), ``dispatcher`` (the asyncio loop that submits
over SMPP), ``dlt`` (TRAI's formats), ``msdg`` (the Mobile Seva push format), and the routes:
``router`` (the JSON API, its send planned by ``api_send`` from ``schemas.SendIn``),
``msdg_router`` (the MSDG push, checked and queued by ``msdg_push``) and ``pages`` (the
console, its SMS list filters read by ``forms``).

``service`` is a façade that re-exports the queue's public names. It is kept, rather than
every caller moved to the module it needs, because callers across the gateway (channels,
applications, the CLI, the simulator, the tests) read ``messaging.queue_sms(...)`` through
``from seva.messaging import service as messaging``: one stable name to import, whatever the
package's inside looks like. Each function is defined once, in its module; the façade holds
nothing but imports and ``__all__``, so patch a function in its own module. The modules of
the queue import one another directly, never the façade.
"""
