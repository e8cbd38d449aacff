"""Seva: a multichannel public-service delivery gateway.

A department defines a service once; the flow engine runs it and every channel (SMS, USSD,
web, kiosk, app API) renders the same events in its own form.
"""

__version__ = "0.1.0"
