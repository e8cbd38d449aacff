"""Public live status of services and transactions, and Prometheus metrics."""
