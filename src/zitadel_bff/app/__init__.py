"""The demo web application built on the auth module, and the ``zitadel-bff`` command."""

from .cli import configure_logging, main
from .factory import create_app

__all__ = ["configure_logging", "create_app", "main"]
