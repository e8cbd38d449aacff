"""Video and audio calls between citizens and officials, and officials' own meetings.

The records behind a call, one job to a module:

``rooms``
    A room's unguessable name (the capability in a join link) and the call refusal.
``availability``
    Officials' call hours and the free times a citizen may book.
``appointments``
    Booked calls: booking, moves, cancellations, reminders, seats, held or missed.
``queue``
    The instant queue: waiting, offers to officials on duty, wait estimates.
``recordings``
    Consent to a recording and the file kept in the citizen's locker.
``meetings``
    Officials' internal meetings and who may attend them.
``events``
    What the signalling hub reports about rooms, written into those records.

Around them: ``slots`` and ``waiting`` (the arithmetic of free times and waits), ``tokens``,
``signalling``, ``transport``, ``relay`` (between processes, through Redis), ``turn`` and
``janus`` (joining a room and carrying the call), and the routes (``router`` for the pages,
``api`` for the citizen app).

``service`` is a façade that re-exports these modules' public names. It is kept, rather than
every caller moved to the module it needs, because callers across the gateway (the SMS and
USSD channels, the app, the demo seed, the tests) read ``rtc.book(...)`` through
``from seva.rtc import service as rtc``: one stable name to import, whatever the package's
inside looks like. Each function is defined once, in its module; the façade holds nothing but
imports and ``__all__``, so patch a function in its own module.
"""
