"""SMPP over asyncio: the ESME client binds, the engine that runs them with the dispatcher,
and the SMSC simulator. Each wraps the sans-IO core beside it (``seva.channels.smpp``:
PDUs, session, receipts) with sockets, timers and tasks; the core itself never waits."""
