"""Sizes and durations: one parser each, bad values refused with examples."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from entrepot.units import (
    MAX_DURATION,
    MAX_SIZE,
    format_duration,
    parse_duration,
    parse_moment,
    parse_size,
)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("4096", 4096),
        ("4096B", 4096),
        ("4 KiB", 4096),
        ("10KB", 10_000),
        ("1.5MiB", 1_572_864),
        (" 2 gib ", 2 * 1024**3),
        (0, 0),
        (512, 512),
    ],
)
def test_sizes(text: str | int, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["10iB", "-5", "1e3", "", "KiB", "4 KiB extra", "nan", True, -1])
def test_bad_sizes_say_what_a_size_looks_like(text: str | int) -> None:
    with pytest.raises(ValueError, match="size"):
        parse_size(text)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90.0),
        ("1.5", 1.5),
        ("90s", 90.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("1h 30m", 5400.0),
        ("2d", 172800.0),
        ("1w", 604800.0),
        ("250ms", 0.25),
        ("1H30M", 5400.0),
        (45, 45.0),
    ],
)
def test_durations(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "1h30", "30m1", "5 minutes", "-5s", "1x", "inf", True])
def test_bad_durations_say_what_a_duration_looks_like(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_durations_format_back() -> None:
    for seconds in (0.25, 5, 90, 5400, 90061):
        assert parse_duration(format_duration(seconds)) == seconds


def test_as_option_parsers_bad_values_are_usage_errors() -> None:
    import typer

    from entrepot.cli import main

    app = typer.Typer()

    @app.command()
    def show(size: int = typer.Option(0, parser=parse_size)) -> None:
        print(size)

    # Parsed by typer through the same function the commands use: exit 2.
    from typer.testing import CliRunner

    assert CliRunner().invoke(app, ["--size", "4 KiB"]).output.strip() == "4096"
    result = CliRunner().invoke(app, ["--size", "10iB"])
    assert result.exit_code == 2 and "not a size" in result.output
    assert main(["archive", "write", ".", "--max-size", "10iB"]) == 2


def test_a_century_is_the_longest_duration_and_the_clocks_hold_it() -> None:
    import threading

    assert parse_duration("36524d") == 36524 * 86400.0
    assert parse_duration(MAX_DURATION) == MAX_DURATION
    # What the commands do with a duration holds the longest one without overflow.
    now = datetime.now(UTC)
    assert parse_moment("36524d", now) == now - timedelta(days=36524)
    assert now + timedelta(seconds=MAX_DURATION) > now
    assert MAX_DURATION < threading.TIMEOUT_MAX


@pytest.mark.parametrize("text", ["99999999999d", "36526d", "5300000w", 1e12])
def test_a_duration_beyond_a_century_is_refused_as_one(text: str | float) -> None:
    with pytest.raises(ValueError, match="longer than 100 years"):
        parse_duration(text)
    if isinstance(text, str):  # a duration still, not "neither a duration nor a date"
        with pytest.raises(ValueError, match="longer than 100 years"):
            parse_moment(text, datetime.now(UTC))


@pytest.mark.parametrize("text", [str(MAX_SIZE + 1), "99999999999999999999", MAX_SIZE + 1, "8 EiB"])
def test_a_size_beyond_what_a_read_can_hold_is_refused(text: str | int) -> None:
    with pytest.raises(ValueError, match="larger than 9,223,372,036,854,775,807 bytes"):
        parse_size(text)
    assert parse_size(MAX_SIZE) == MAX_SIZE


def test_a_huge_duration_on_the_command_line_is_a_mistake_not_a_traceback(tmp_path: Path) -> None:
    from entrepot.cli import main

    state = str(tmp_path)
    assert main(["trace", "x", "--since", "99999999999d", "--state", state]) == 3
    assert main(["ship", str(tmp_path), "--retry-delay", "99999999999d"]) == 2
