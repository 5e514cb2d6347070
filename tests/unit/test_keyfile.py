"""ZITADEL_CLIENT_KEY_FILE: the application key file is read and checked at start."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from devtools.keys import write_application_key

from zitadel_bff import ConfigError, load_settings
from zitadel_bff.keyfile import read_client_key

CLIENT = "243864426485212395@zitadel-bff"


def settings(**overrides: Any) -> Any:
    base = {
        "session_secret": "unit-test-session-secret-0123456789-abcdef",
        "zitadel_domain": "https://my-org.zitadel.cloud",
        "zitadel_client_id": CLIENT,
        "zitadel_callback_url": "https://app.example.com/auth/callback",
        "zitadel_post_logout_url": "https://app.example.com/auth/logout/callback",
        **overrides,
    }
    return load_settings(None, **base)


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_application_key(tmp_path_factory.mktemp("key"), CLIENT).key_file


def rewrite(key_file: Path, tmp_path: Path, **changes: Any) -> Path:
    document = json.loads(key_file.read_text())
    document.update(changes)
    document = {k: v for k, v in document.items() if v is not None}
    path = tmp_path / "changed.json"
    path.write_text(json.dumps(document))
    return path


def test_an_application_key_is_read(key_file: Path) -> None:
    loaded = settings(zitadel_client_key_file=str(key_file))
    key = loaded.client_key
    assert key is not None and key.client_id == CLIENT and len(key.key_id) == 18
    assert "PRIVATE KEY" not in repr(key)  # the key never shows in logs or tracebacks


def problem_of(**overrides: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        settings(**overrides)
    return caught.value.problems["ZITADEL_CLIENT_KEY_FILE"]


def test_a_service_account_key_is_refused_with_what_is_needed(
    key_file: Path, tmp_path: Path
) -> None:
    path = rewrite(key_file, tmp_path, type="serviceaccount", userId="1")
    problem = problem_of(zitadel_client_key_file=str(path))
    assert problem.startswith('is a service-account key (type "serviceaccount")')
    assert 'the application\'s key (type "application")' in problem


def test_a_key_file_and_a_secret_together_are_refused(key_file: Path) -> None:
    problem = problem_of(zitadel_client_key_file=str(key_file), zitadel_client_secret="s3cret")
    assert problem == (
        "set either it (private_key_jwt) or ZITADEL_CLIENT_SECRET (a client secret), not both"
    )


def test_a_key_for_another_client_is_refused(key_file: Path) -> None:
    problem = problem_of(zitadel_client_key_file=str(key_file), zitadel_client_id="other@p")
    assert problem == f"the key is for client {CLIENT!r}, but ZITADEL_CLIENT_ID is 'other@p'"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"type": "user"}, "has type 'user'"),
        ({"keyId": None}, "lacks keyId"),
        ({"key": "-----BEGIN RSA PRIVATE KEY-----\nnope\n"}, "not a readable PEM private key"),
        ({"clientId": ""}, "lacks clientId"),
    ],
)
def test_broken_key_files_say_what_is_wrong(
    key_file: Path, tmp_path: Path, changes: dict[str, Any], expected: str
) -> None:
    path = rewrite(key_file, tmp_path, **changes)
    assert expected in problem_of(zitadel_client_key_file=str(path))


def test_unreadable_files(tmp_path: Path) -> None:
    assert problem_of(zitadel_client_key_file=str(tmp_path / "absent.json")).startswith(
        "cannot be read: No such file"
    )
    (tmp_path / "junk.json").write_text("not json")
    assert "is not JSON" in problem_of(zitadel_client_key_file=str(tmp_path / "junk.json"))
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(ValueError, match="not a JSON object"):
        read_client_key(tmp_path / "list.json")
