"""The web application built on the auth module."""

from .factory import create_app

__all__ = ["create_app"]
