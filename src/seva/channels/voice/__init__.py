"""The voice channel: the phone menu (``ivr``), cloud-telephony webhooks (``webhooks``) and the
sans-IO SIP/SDP/RTP core of Seva's own SIP endpoint.

Protocol code here is pure: bytes and events in, bytes and actions out, time passed in as
``now``. An asyncio transport (``asyncio/endpoint``: UDP sockets for SIP and RTP, a pacing
loop for outgoing audio) wraps it.
"""
