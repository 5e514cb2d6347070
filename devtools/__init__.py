"""Development tools shared by `make demo`, `bench/` and `tests/`: the local ZITADEL-shaped
provider (``op/``, oidc-provider configured like ZITADEL, and its launcher ``provider``), a
scripted sign-in over HTTP (``flows``) and the demo runner (``demo``).

Not part of the zitadel_bff package, and never imported by it.
"""
