"""Outbound messages to citizens: the outbox every notification and OTP goes through."""
