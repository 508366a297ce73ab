"""Deliveries kept short: a template once, each file's values per line (provenance.deliveries)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from entrepot.provenance import Kind, Recorder, find, recover_journals
from entrepot.provenance.deliveries import Delivery, Template, now, rows_of, then_of
from entrepot.provenance.events import place_of
from entrepot.provenance.journal import (
    COLUMNS,
    HOST,
    JOURNAL_DIR,
    Journal,
    Then,
    delivery_line,
    details_text,
    event_row,
)
from entrepot.provenance.journal_lines import read_journal
from entrepot.provenance.steps import step_of, step_text, tally
from tests.unit.journals import folded

THEN = COLUMNS.index("then_step")


def _template(place: str, area: str | None = "cur", attempt: int | None = 2) -> Template:
    then = ("moved", json.dumps({"to": area})) if area else ("deleted", "{}")
    return Template(
        "delivered", "ok", place, "ftp://partner/in", "job-7", HOST, *then, area, attempt
    )


def _delivery(name: str, place: str, at: int = 1700000000_250000) -> Delivery:
    checksum, held = "sha256:" + "ab" * 32, f"{place}/claimed/t-{name}"
    return Delivery(name, 3, checksum, at - 1_000_000, at, 1, name, 3, None, None, held)


#: The details text the rows of :func:`_delivery` keep.
def _details(name: str) -> str:
    return details_text({"remote_checksum": None, "remote_name": name, "remote_size": 3})


def _without_step(row: tuple[object, ...]) -> tuple[object, ...]:
    return (*row[:THEN], *row[THEN + 1 :])


def test_a_delivery_s_row_and_counts_are_those_the_general_path_writes() -> None:
    template, delivery = _template("/srv/out"), _delivery("a.csv", "/srv/out")
    general = event_row(
        "delivered", "/srv/out", "a.csv", size=3, checksum=delivery.checksum, job_id="job-7",
        target="ftp://partner/in", attempt=1, details=_details("a.csv"),
        at=1700000000.25, claimed_at=1699999999.25,
    )  # fmt: skip
    moved = folded(general, step_text("moved", 1700003600.5, '{"to": "cur"}', 2))
    counts: dict[tuple[int, str], list[int]] = {}
    taken, untaken = rows_of(
        [(template, delivery, 1700003600_500000), (template, delivery, None)], counts
    )
    # The same row; the step's time written from whole microseconds, read back the same.
    assert _without_step(taken) == _without_step(moved)
    assert json.loads(taken[THEN]) == json.loads(moved[THEN])
    assert untaken == general
    assert counts == tally([moved, general])
    assert counts[1700003600 // 3600, "moved"] == [1, 0]  # the next hour's
    assert json.loads(taken[THEN])[1] == 1700003600.5 and step_of(taken[THEN])[1] == 1700003600.5


@pytest.mark.parametrize(
    "delivery",
    [
        _delivery("plain.csv", "/spool"),
        _delivery('é\x1b[31m"quoted"\n.csv', "/spool/ü"),  # escapes, not UTF-8 text
        Delivery(
            "gone.csv",
            None,
            None,
            None,
            1700000000_000001,
            None,
            None,
            None,
            None,
            None,
            "/s/claimed/x",
        ),
        Delivery(
            "a.csv",
            3,
            "md5:0a",
            None,
            1,
            2,
            'ftp://u:***@h/"a".csv',
            4,
            "etag:1",
            "s3://b/k?X=1",
            "/s/claimed/y",
        ),
    ],
)
def test_a_delivery_s_line_is_what_the_line_encoder_writes(delivery: Delivery) -> None:
    from entrepot.provenance.journal import _encoded

    line = delivery_line(41, 3, delivery)
    assert line == (_encoded([41, 3, *delivery]) + "\n").encode("ascii")
    assert json.loads(line) == [41, 3, *delivery]


def test_times_in_microseconds_read_back_as_the_seconds_rows_keep() -> None:
    for micro in (1700000000_000001, 1799999999_999999, 1234567890_123456, now()):
        [row] = rows_of([(_template("/p"), _delivery("a", "/p", at=micro), micro)], {})
        assert row[0] == micro / 1e6 == step_of(row[THEN])[1] == json.loads(row[THEN])[1]


def test_a_step_with_no_try_of_the_run_is_written_as_step_text_writes_it() -> None:
    template = _template("/srv/out", area=None, attempt=None)
    [row] = rows_of([(template, _delivery("a.csv", "/srv/out"), 5_000000)], {})
    assert json.loads(row[THEN]) == json.loads(step_text("deleted", 5.0, "{}", None))
    assert row[THEN] == '["deleted",5.000000,"{}",null]'


def test_the_announced_step_names_the_paths_recovery_checks() -> None:
    delivery = _delivery("a.csv", "/srv/out")
    assert then_of(_template("/srv/out"), delivery) == Then(
        "moved", '{"to": "cur"}', ["/srv/out/cur/a.csv"], ["/srv/out/claimed/t-a.csv"]
    )
    assert then_of(_template("/srv/out", area=None), delivery) == Then(
        "deleted", "{}", [], ["/srv/out/claimed/t-a.csv", "/srv/out/new/a.csv"]
    )


def _lines(journal: Journal) -> list[bytes]:
    return journal.path.read_bytes().rstrip(b"\0").splitlines(keepends=True)


def test_a_template_is_written_once_and_again_after_the_journal_is_emptied(
    tmp_path: Path,
) -> None:
    journal = Journal(tmp_path)
    moved, deleted = _template("/srv/out"), _template("/srv/out", area=None)
    for name in ("a.csv", "b.csv"):
        journal.write_delivery(journal.number(), moved, _delivery(name, "/srv/out"))
    journal.write_delivery(journal.number(), deleted, _delivery("c.csv", "/srv/out"))
    heads = [json.loads(line)[:3] for line in _lines(journal)]
    assert heads == [[0, "template", 1], [1, 1, "a.csv"], [2, 1, "b.csv"],
                     [0, "template", 2], [3, 2, "c.csv"]]  # fmt: skip
    entries = list(read_journal(_lines(journal)))
    assert [(e.seq, e.row[3], e.then.kind if e.then else None) for e in entries] == [
        (1, "a.csv", "moved"), (2, "b.csv", "moved"), (3, "c.csv", "deleted"),
    ]  # fmt: skip
    assert entries[0].row == rows_of([(moved, _delivery("a.csv", "/srv/out"), None)], {})[0]

    journal.empty()
    journal.write_delivery(journal.number(), moved, _delivery("d.csv", "/srv/out"))
    assert [json.loads(line)[:3] for line in _lines(journal)] == [
        [0, "template", 1],
        [4, 1, "d.csv"],
    ]
    journal.close(remove=True)


def test_a_delivery_without_its_template_or_of_another_shape_is_skipped() -> None:
    template = json.dumps([0, "template", 1, list(_template("/srv/out"))]).encode()
    fields = list(_delivery("a.csv", "/srv/out"))
    lines = [
        json.dumps([1, 2, *fields]).encode(),  # template 2 was never written
        template,
        json.dumps([2, 1, *fields, "x", "y"]).encode(),  # not a delivery's shape
        # As wide as an old event's line, but with no step at its end: damaged too.
        json.dumps([2, 1, *fields[:-1], "x", "y"]).encode(),
        json.dumps([2, 1, *fields[:-1], "x", ["moved", "{}", "cur/a", None]]).encode(),
        json.dumps([0, "template", 3, ["too", "short"]]).encode(),
        json.dumps([3, 3, *fields]).encode(),
        json.dumps([4, 1, fields[0], 3, None, None, "noon", *fields[5:]]).encode(),  # a time?
        json.dumps([5, 1, *fields]).encode(),
    ]
    assert [entry.seq for entry in read_journal(lines)] == [5]


def test_a_killed_deletion_is_recovered_from_its_short_line(
    engine: sa.Engine, tmp_path: Path
) -> None:
    root = tmp_path / "out"
    for area in ("new", "claimed"):
        (root / area).mkdir(parents=True)
    place = place_of(root)
    journal = Journal(tmp_path / "state")
    template = _template(place, area=None)
    journal.write_delivery(journal.number(), template, _delivery("gone.csv", place))
    # The second file's deletion was not made: it is still where it was claimed.
    (root / "claimed" / "t-kept.csv").write_bytes(b"abc")
    journal.write_delivery(
        journal.number(), template, _delivery("kept.csv", place, at=1700000009_000000)
    )
    journal.close(remove=False)  # as a killed process leaves it (unlocked)

    assert recover_journals(engine, tmp_path / "state" / JOURNAL_DIR) == 3
    assert [e.kind for e in find(engine, "gone.csv")] == [
        Kind.CLAIMED, Kind.DELIVERED, Kind.DELETED,
    ]  # fmt: skip
    kept = find(engine, "kept.csv")
    assert [e.kind for e in kept] == [Kind.CLAIMED, Kind.DELIVERED]
    assert kept[1].target == "ftp://partner/in" and kept[1].details["remote_name"] == "kept.csv"
    assert recover_journals(engine, tmp_path / "state" / JOURNAL_DIR) == 0


def test_a_recorder_whose_last_flush_failed_keeps_its_journal(
    engine: sa.Engine, tmp_path: Path
) -> None:
    recorder = Recorder(engine, state_dir=tmp_path)
    ticket = recorder.deliver(_template("/srv/out"), _delivery("a.csv", "/srv/out"))
    recorder.settle(1700000003_000000, ticket=ticket)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE entrepot_provenance RENAME TO hidden")
    with pytest.raises(sa.exc.OperationalError):
        recorder.close()
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE hidden RENAME TO entrepot_provenance")
    # The next recorder to open finds the journal and adds its delivery.
    assert recover_journals(engine, tmp_path / JOURNAL_DIR) == 1
    assert [e.kind for e in find(engine, "a.csv")] == [Kind.CLAIMED, Kind.DELIVERED]


def test_the_lines_of_the_release_before_are_recovered_with_their_details_text(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """A shipper of the release before, killed: its template without the instance, its
    delivery with the details as text — read back as it meant them."""
    root = tmp_path / "out"
    for area in ("new", "claimed", "cur"):
        (root / area).mkdir(parents=True)
    place = place_of(root)
    (root / "cur" / "a.csv").write_bytes(b"abc")  # moved before the kill
    old_template = list(_template(place))[:-1]
    details = '{"instance":"node-2","remote_checksum":null,"remote_name":"in/a.csv"}'
    fields = ["a.csv", 3, "sha256:ab", 1700000000_000000, 1700000001_000000, 1, details]
    folder = tmp_path / "state" / JOURNAL_DIR
    folder.mkdir(parents=True)
    (folder / "0123456789abcdef.journal").write_bytes(
        json.dumps([0, "template", 1, old_template]).encode()
        + b"\n"
        + json.dumps([1, 1, *fields, f"{place}/claimed/t-a.csv"]).encode()
        + b"\n"
    )
    assert recover_journals(engine, folder) == 2  # the delivery (with its claim), the move
    claimed, delivered, moved = find(engine, "a.csv")
    assert [claimed.kind, delivered.kind, moved.kind] == [Kind.CLAIMED, Kind.DELIVERED, Kind.MOVED]
    assert delivered.details == json.loads(details)
    assert (delivered.size, delivered.checksum, delivered.attempt) == (3, "sha256:ab", 1)
    assert moved.details == {"to": "cur"}


def test_a_template_names_its_instance_in_each_delivery_s_details() -> None:
    template = _template("/srv/out")._replace(instance="node-1")
    [row] = rows_of([(template, _delivery("a.csv", "/srv/out"), None)], {})
    assert json.loads(row[COLUMNS.index("details")]) == {
        "instance": "node-1", "remote_checksum": None, "remote_name": "a.csv", "remote_size": 3,
    }  # fmt: skip
