"""Followup's domain and engine: models, enrollment, scheduling, rendering, sending, inbound mail."""
