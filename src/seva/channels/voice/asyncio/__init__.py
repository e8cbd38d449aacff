"""SIP and RTP over asyncio: the endpoint that answers and places calls on UDP sockets. It
wraps the sans-IO core beside it (``seva.channels.voice``: SIP, SDP, RTP, dialogs, the
client dialogs of ``uac``) with sockets, timers and tasks; the core itself never waits."""
