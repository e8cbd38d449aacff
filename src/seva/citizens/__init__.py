"""The citizen registry: one record per phone number, profile fields, consent, OTP login."""
