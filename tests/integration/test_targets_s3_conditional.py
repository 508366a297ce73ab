"""Conditional writes on S3: the ``exclusive`` conflict policy against SeaweedFS.

Issue 16, edge → central through S3: two writers of one key — one wins,
the other finds it taken and compares (same bytes: kept as identical;
other bytes: RemoteExists, nothing overwritten), with ``If-None-Match: *``
where the store honours it (SeaweedFS does, on PUT and on the multipart
completion) and verify-after-write where it does not (a gateway that drops
the header stands for such a store).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from entrepot.errors import RemoteExists
from entrepot.targets import s3_conditional
from entrepot.targets.s3_conditional import PROBE_PREFIX

pytestmark = [pytest.mark.server, pytest.mark.xdist_group("targets-s3")]


@pytest.fixture(autouse=True)
def _ask_again() -> None:
    s3_conditional.forget()


def _read(folder: Any, name: str) -> bytes:
    response = folder.client().get_object(Bucket=folder.bucket, Key=f"{folder.prefix}/{name}")
    return bytes(response["Body"].read())


def test_seaweedfs_honours_if_none_match_and_the_probe_leaves_nothing(s3_server: Any) -> None:
    with s3_server.open() as target:
        assert target._conditional_writes() is True
    listed = s3_server.keys()
    assert not [key for key in listed if key.startswith(PROBE_PREFIX)]


@pytest.mark.parametrize("fast_put", [True, False], ids=["direct", "boto3"])
def test_a_second_writer_keeps_identical_bytes_and_never_overwrites_others(
    s3_server: Any, fast_put: bool
) -> None:
    with s3_server.open(fast_put=fast_put) as first, s3_server.open(fast_put=fast_put) as other:
        written = first.upload_bytes(b"edge-1 data\n", "a/b.csv", conflict="exclusive")
        again = other.upload_bytes(b"edge-1 data\n", "a/b.csv", conflict="exclusive")
        with pytest.raises(RemoteExists, match="different content"):
            other.upload_bytes(b"something else\n", "a/b.csv", conflict="exclusive")
    assert not written.kept and again.kept
    assert _read(s3_server, "a/b.csv") == b"edge-1 data\n"


def test_a_taken_key_is_refused_by_the_store_not_by_a_look_beforehand(s3_server: Any) -> None:
    # With conditional writes nothing looks before writing: only the store's
    # refusal can stop the overwrite.
    with s3_server.open() as target:
        s3_server.client().put_object(
            Bucket=s3_server.bucket, Key=f"{s3_server.prefix}/k.csv", Body=b"first\n"
        )
        with pytest.raises(RemoteExists) as refused:
            target.upload_bytes(b"second\n", "k.csv", conflict="exclusive")
    assert "PreconditionFailed" in str(refused.value.__context__)  # the store's 412
    assert _read(s3_server, "k.csv") == b"first\n"


def test_a_multipart_completion_is_conditional_too(s3_server: Any, tmp_path: Any) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * (6 * 1024 * 1024))
    other = tmp_path / "other.bin"
    other.write_bytes(b"y" * (6 * 1024 * 1024))
    options = {"multipart_threshold": 5 * 1024 * 1024, "multipart_chunksize": 5 * 1024 * 1024}
    with s3_server.open(**options) as target:
        target.upload(big, "big.bin", conflict="exclusive")
        with pytest.raises(RemoteExists) as refused:
            target.upload(other, "big.bin", conflict="exclusive")
    assert "PreconditionFailed" in str(refused.value.__context__)
    assert _read(s3_server, "big.bin")[:1] == b"x"


def _race(folder: Any, bodies: list[bytes], **options: Any) -> tuple[list[int], list[int]]:
    """Writers ``i`` write ``bodies[i]`` to one key at once; return who won, who conflicted."""
    targets = [folder.open(**options) for _ in bodies]
    for target in targets:
        target.connect()
    start = threading.Barrier(len(bodies))
    won: list[int] = []
    lost: list[int] = []

    def write(i: int) -> None:
        start.wait()
        try:
            info = targets[i].upload_bytes(bodies[i], "race.csv", conflict="exclusive")
        except RemoteExists:
            lost.append(i)
        else:
            won.append(i) if not info.kept else lost.append(-1 - i)

    with ThreadPoolExecutor(len(bodies)) as pool:
        list(pool.map(write, range(len(bodies))))
    for target in targets:
        target.close()
    return won, lost


def test_writers_racing_for_one_key_with_conditional_writes_one_wins(s3_server: Any) -> None:
    for round_ in range(10):
        bodies = [f"writer {i} round {round_}\n".encode() for i in range(4)]
        won, lost = _race(s3_server, bodies)
        assert len(won) == 1 and sorted(lost) == sorted(set(range(4)) - set(won))
        assert _read(s3_server, "race.csv") == bodies[won[0]]
        s3_server.client().delete_object(
            Bucket=s3_server.bucket, Key=f"{s3_server.prefix}/race.csv"
        )


def test_writers_of_the_same_bytes_all_succeed_one_writes(s3_server: Any) -> None:
    won, lost = _race(s3_server, [b"same\n"] * 4)
    assert len(won) == 1 and len(lost) == 3 and all(i < 0 for i in lost)  # kept, identical


def test_a_store_that_ignores_the_header_is_found_out_by_the_probe(s3_forgetful: Any) -> None:
    with s3_forgetful.open() as target:
        assert target._conditional_writes() is False
    assert s3_forgetful.gateway.dropped == 2  # the probe's two writes


def test_without_conditional_writes_a_different_object_is_a_conflict(s3_forgetful: Any) -> None:
    folder = s3_forgetful.folder
    with s3_forgetful.open() as target:
        target.upload_bytes(b"first\n", "f.csv", conflict="exclusive")
        assert target.upload_bytes(b"first\n", "f.csv", conflict="exclusive").kept
        with pytest.raises(RemoteExists, match="different content"):
            target.upload_bytes(b"second\n", "f.csv", conflict="exclusive")
    assert _read(folder, "f.csv") == b"first\n"


def test_without_conditional_writes_the_race_ends_with_a_winner_that_knows(
    s3_forgetful: Any,
) -> None:
    # Verify-after-write cannot stop an overwrite; it makes sure the bytes that
    # stay are those of a writer that reported success, and that every writer
    # whose bytes were replaced reports the conflict.
    folder = s3_forgetful.folder
    for round_ in range(5):
        bodies = [f"writer {i} round {round_}\n".encode() for i in range(4)]
        won, lost = _race(s3_forgetful, bodies)
        final = _read(folder, "race.csv")
        assert final in [bodies[i] for i in won]
        assert all(bodies[i] != final for i in lost if i >= 0)
        folder.client().delete_object(Bucket=folder.bucket, Key=f"{folder.prefix}/race.csv")


def test_conditional_writes_can_be_turned_off_without_asking(s3_server: Any) -> None:
    with s3_server.open(conditional_writes=False) as target:
        assert target._conditional_writes() is False
        target.upload_bytes(b"v\n", "g.csv", conflict="exclusive")
    assert s3_server.keys() == ["g.csv"]
