import importlib

import pytest

MODULES = [
    "zitadel_bff",
    "zitadel_bff.oidc",
    "zitadel_bff.sessions",
    "zitadel_bff.sessions.stores",
    "zitadel_bff.web",
    "zitadel_bff.auth",
    "zitadel_bff.app",
    "zitadel_bff.errors",
    "zitadel_bff.config",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_and_exported(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    # one order for every module: CONSTANTS first, then the other names, each group sorted
    assert exported == sorted(exported, key=lambda n: (not n.isupper(), n))
    for attr in exported:
        assert hasattr(module, attr), f"{name}.{attr}"
