"""Followup's web app: tracking pixel and links, unsubscribe, the JSON API and the dashboard."""

from .app import create_app

__all__ = ["create_app"]
