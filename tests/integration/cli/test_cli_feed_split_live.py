"""`sapwood feed push` keeps every request under the server's body limit by itself."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from sapwood.testing.feeds import antinex_rows
from tests.integration.cli.conftest import Sapwood
from tests.integration.cli.test_cli_feed_live import feed_applied  # noqa: F401

ROWS = 120_000


def _wide_csv(path: Path, rows: int) -> Path:
    """AntiNex rows as a capture writes them (about 360 bytes each): 50,000 of them, the
    default --chunk-records, come to more than the server's default 8 MiB."""
    sample = antinex_rows(1000)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(sample[0]))
    writer.writerows(sample)
    body = text.getvalue()
    header = ",".join(sample[0]) + "\r\n"
    with path.open("w", newline="") as f:
        f.write(header)
        for _ in range(rows // len(sample)):
            f.write(body)
    return path


@pytest.mark.slow
@pytest.mark.usefixtures("feed_applied")
def test_a_large_csv_is_pushed_on_defaults_and_again_stores_nothing(
    sapwood: Sapwood, tmp_path: Path
) -> None:
    data = _wide_csv(tmp_path / "capture.csv", ROWS)
    assert data.stat().st_size > 3 * 8 * 1024 * 1024
    first = sapwood("feed", "push", "ids", str(data))
    assert first.exit_code == 0, first.output
    assert f"pushed {ROWS} records to feed/ids (sequences 1..{ROWS})" in first.stdout
    again = sapwood("feed", "push", "ids", str(data))
    assert again.exit_code == 0, again.output
    # the same chunks under the same batch ids: nothing stored twice, and it says so
    assert again.stdout.startswith("already pushed: nothing stored"), again.stdout
    assert f"these {ROWS} records as sequences 1..{ROWS})" in again.stdout


@pytest.mark.usefixtures("feed_applied")
def test_a_small_request_limit_cuts_the_file_finer(sapwood: Sapwood, tmp_path: Path) -> None:
    data = _wide_csv(tmp_path / "capture.csv", 2000)
    result = sapwood("feed", "push", "ids", str(data), "--max-request-bytes", "65536")
    assert result.exit_code == 0, result.output
    assert "pushed 2000 records to feed/ids (sequences 1..2000)" in result.stdout


@pytest.mark.usefixtures("feed_applied")
def test_a_record_larger_than_a_request_is_refused_before_sending(
    sapwood: Sapwood, tmp_path: Path
) -> None:
    data = _wide_csv(tmp_path / "capture.csv", 1000)
    result = sapwood("feed", "push", "ids", str(data), "--max-request-bytes", "1024")
    assert result.exit_code == 1
    assert "record 0 of the file is" in result.output
    assert "SAPWOOD_MAX_BODY_BYTES" in result.output
