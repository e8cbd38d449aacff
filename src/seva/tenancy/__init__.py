"""Departments, officials, roles and API keys: who may do what on the gateway."""
