"""Server-rendered pages (Jinja2, htmx where it helps): portal, kiosk, phone simulator."""
