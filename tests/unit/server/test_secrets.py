"""The server key: a configured key file is read, never made; the home default is made once."""

from __future__ import annotations

from pathlib import Path

import pytest

from sapwood.server.secrets import ServerKeyError, read_server_key, workload_token

KEY = bytes(range(32))


def test_a_configured_key_file_is_the_key_and_the_home_stays_untouched(tmp_path: Path) -> None:
    key_file = tmp_path / "mounted" / "secret.key"
    key_file.parent.mkdir()
    key_file.write_text(KEY.hex() + "\n")  # as a Secret's data often ends
    assert read_server_key(key_file, home=tmp_path / "a") == KEY
    assert read_server_key(key_file, home=tmp_path / "b") == KEY
    assert not (tmp_path / "a").exists()
    assert not (tmp_path / "b").exists()


def test_a_missing_configured_key_file_fails_and_is_not_created(tmp_path: Path) -> None:
    key_file = tmp_path / "mounted" / "secret.key"
    with pytest.raises(ServerKeyError, match=r"SAPWOOD_SECRET_KEY_FILE=.*secret\.key: no such"):
        read_server_key(key_file, home=tmp_path / "home")
    assert not key_file.exists()
    assert not (tmp_path / "home" / "secret.key").exists()


@pytest.mark.parametrize("text", ["", "not hex", "00" * 8])
def test_a_malformed_configured_key_is_refused(tmp_path: Path, text: str) -> None:
    key_file = tmp_path / "secret.key"
    key_file.write_text(text)
    with pytest.raises(ServerKeyError, match="at least 32 bytes written as hex"):
        read_server_key(key_file, home=tmp_path)


def test_without_a_key_file_the_home_key_is_made_once_and_kept(tmp_path: Path) -> None:
    first = read_server_key(None, home=tmp_path / "home")
    assert len(first) == 32
    assert (tmp_path / "home" / "secret.key").stat().st_mode & 0o777 == 0o600
    assert read_server_key(None, home=tmp_path / "home") == first
    # Another home is another key: the tokens it derives differ.
    other = read_server_key(None, home=tmp_path / "elsewhere")
    assert workload_token(other, "u").token != workload_token(first, "u").token
