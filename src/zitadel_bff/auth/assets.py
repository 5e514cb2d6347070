"""The pages' templates and static files, built once per app from its settings."""

from __future__ import annotations

import functools
import re
import time
from pathlib import Path
from urllib.parse import urlsplit

import jinja2
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from ..config import Settings, is_loopback_host
from ..web import MemoryStaticFiles

__all__ = ["STATIC_DIR", "TEMPLATES_DIR", "add_template_helpers", "build_assets"]

HERE = Path(__file__).parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"


def _datetime(value: float) -> Markup:
    """A <time> in UTC; local-time.js shows it in the viewer's own time zone too."""
    moment = time.gmtime(value)
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", moment)
    text = time.strftime("%Y-%m-%d %H:%M UTC", moment)
    # Markup's % escapes the values too, in half the time of its str.format.
    return Markup('<time datetime="%s" data-local>%s</time>') % (iso, text)


@functools.lru_cache(maxsize=1024)
def _breakable(value: str) -> Markup:
    """Long claim names (``urn:zitadel:iam:user:resourceowner:primary_domain``) may wrap
    after a colon or an underscore, not in the middle of a word. Claim names repeat on every
    profile page: each is marked up once (a few dozen Markup objects otherwise)."""
    return Markup("").join(
        Markup("{}<wbr>").format(part) if part in ":_" else escape(part)
        for part in re.split(r"([:_])", value)
    )


def build_assets(
    settings: Settings, templates_dir: Path | None = None
) -> tuple[Jinja2Templates, MemoryStaticFiles]:
    """Templates (with ``static_url``, ``dev_provider`` and ``|datetime``) and in-memory statics.

    ``templates_dir`` overrides the pages; templates not found there come from the package.
    """
    static = MemoryStaticFiles(STATIC_DIR)
    dirs = [templates_dir, TEMPLATES_DIR] if templates_dir else [TEMPLATES_DIR]
    templates = Jinja2Templates(directory=dirs)
    dev_provider = is_loopback_host(urlsplit(settings.issuer).hostname)
    add_template_helpers(templates.env, static, dev_provider=dev_provider)
    return templates, static


def add_template_helpers(
    env: jinja2.Environment, static: MemoryStaticFiles, *, dev_provider: bool
) -> None:
    """What the pages' templates use besides their context: ``static_url``, ``dev_provider``
    and the ``|datetime`` and ``|breakable`` filters."""
    # The templates are files of the installed package (or of the app): they change with a
    # deployment, never while the process runs. Jinja's default would stat every template of
    # the page on every render to find out.
    env.auto_reload = False
    env.globals["static_url"] = static.url
    env.globals["dev_provider"] = dev_provider
    env.filters["datetime"] = _datetime
    env.filters["breakable"] = _breakable
