import pytest

from zitadel_bff.web.redirects import safe_return_to

DEFAULT = "/profile"


@pytest.mark.parametrize(
    "value", ["/", "/profile", "/profile?tab=x", "/a/b?c=d#e", "/%7Euser", "/caf%C3%A9"]
)
def test_local_paths_are_kept(value: str) -> None:
    assert safe_return_to(value, DEFAULT) == value


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "https://evil.example",
        "http:/evil",
        "javascript:alert(1)",
        "evil.example",
        "/%2F%2Fevil.example",
        "/%5Cevil.example",
        "/%2fevil",
        "/ok\r\nLocation: x",
        "/tab\tx",
        "/" + "a" * 3000,
        "/%0d%0aSet-Cookie:x",
    ],
)
def test_everything_else_falls_back(value: str) -> None:
    assert safe_return_to(value, DEFAULT) == DEFAULT
