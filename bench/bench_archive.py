"""Archive benchmark: Entrepôt format 2 against a plain shoebox format-1 implementation.

Both sides get the same 200,000 events (3 metadata keys, a ~500-byte JSON
payload as text) and roll at 10 MB.  The reference is the format-1 framing
written the straightforward way: ``struct.pack`` per record into a buffered
file, read back with a ``read`` per block and handed out as (metadata,
payload) to the same consumer loop as Entrepôt's records; a variant with the
consumer's work inlined (no records handed out at all) is measured too.
Entrepôt also computes a CRC-32C per record while writing, checks it while
reading, and seals and fsyncs each archive.

    .venv/bin/python bench/bench_archive.py [--records N] [--repeat R]

Prints records/s, MB/s and the ratios (reference time / Entrepôt time; > 1
means Entrepôt is faster), medians over the repeats, in CPU time of the
process (wall-clock ratios are printed too).  Goals: write ≥ 1.5×,
read ≥ 1.5×, zstd sealing ≥ 150 MB/s of input on one core.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import struct
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from entrepot.archive import ArchiveSet, RollingWriter, SizePolicy
from entrepot.archive.compress import compress_file

ROLL_BYTES = 10 * 1000 * 1000
V1_MARKER = 0x69867884


def make_events(count: int, seed: int = 7) -> list[tuple[dict[str, str], str]]:
    rng = random.Random(seed)
    kinds = ["compute.instance.update", "volume.attach", "network.port.create", "image.upload"]
    events = []
    for index in range(count):
        metadata = {
            "event_type": rng.choice(kinds),
            "request_id": f"req-{rng.getrandbits(64):016x}",
            "host": f"node-{rng.randrange(64):02d}.example.org",
        }
        body = {
            "index": index,
            "tenant": f"{rng.getrandbits(32):08x}",
            "state": rng.choice(["active", "building", "deleted"]),
            "metrics": [round(rng.random() * 1000, 3) for _ in range(12)],
            "tags": [f"tag{rng.randrange(500)}" for _ in range(8)],
            "note": "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(220)),
        }
        events.append((metadata, json.dumps(body)))
    return events


# -- the reference: shoebox format 1, written the plain way -------------------------------


def v1_write(directory: Path, events: list[tuple[dict[str, str], str]]) -> None:
    seq = 0
    handle = open(directory / f"v1-{seq:04d}.events", "wb")  # noqa: SIM115
    for metadata, payload in events:
        raw = payload.encode("utf-8")
        raw_schema = f"i{len(raw)}s"
        raw_block = struct.pack(raw_schema, len(raw), raw)
        items = ["i"]
        values: list[object] = [len(metadata) * 2]
        encoded = [(k.encode("utf-8"), v.encode("utf-8")) for k, v in metadata.items()]
        for key, value in encoded:
            items += ["i", "i"]
            values += [len(key), len(value)]
        for key, value in encoded:
            items += [f"{len(key)}s", f"{len(value)}s"]
            values += [key, value]
        schema = "".join(items)
        meta_block = struct.pack(schema, *values)
        handle.write(struct.pack("ih", V1_MARKER, 1))
        handle.write(struct.pack("iii", struct.calcsize(schema), struct.calcsize(raw_schema), 0))
        handle.write(meta_block)
        handle.write(raw_block)
        if handle.tell() >= ROLL_BYTES:
            handle.close()
            seq += 1
            handle = open(directory / f"v1-{seq:04d}.events", "wb")  # noqa: SIM115
    handle.close()


def v1_records(directory: Path) -> Iterator[tuple[dict[str, str], str]]:
    """Every (metadata, payload) of the format-1 files, as a reader hands them out."""
    for path in sorted(directory.glob("v1-*.events")):
        with open(path, "rb") as handle:
            while True:
                preamble = handle.read(6)
                if len(preamble) < 6:
                    break
                marker, _version = struct.unpack("ih", preamble)
                assert marker == V1_MARKER
                meta_len, raw_len, _eor = struct.unpack("iii", handle.read(12))
                block = handle.read(meta_len)
                (strings,) = struct.unpack_from("i", block)
                lengths = struct.unpack_from("i" * strings, block, 4)
                offset = 4 + 4 * strings
                values = []
                for length in lengths:
                    values.append(block[offset : offset + length].decode("utf-8"))
                    offset += length
                metadata = dict(zip(values[::2], values[1::2], strict=True))
                raw = handle.read(raw_len)
                (size,) = struct.unpack_from("i", raw)
                yield metadata, raw[4 : 4 + size].decode("utf-8")


def v1_read(directory: Path) -> int:
    """The reference reader, consumed by the same loop as Entrepôt's."""
    count = 0
    for metadata, payload in v1_records(directory):
        assert metadata and payload
        count += 1
    return count


def v1_read_inline(directory: Path) -> int:
    """The reference with the consumer's work inlined: no records handed out at all."""
    count = 0
    for path in sorted(directory.glob("v1-*.events")):
        with open(path, "rb") as handle:
            while True:
                preamble = handle.read(6)
                if len(preamble) < 6:
                    break
                marker, _version = struct.unpack("ih", preamble)
                assert marker == V1_MARKER
                meta_len, raw_len, _eor = struct.unpack("iii", handle.read(12))
                block = handle.read(meta_len)
                (strings,) = struct.unpack_from("i", block)
                lengths = struct.unpack_from("i" * strings, block, 4)
                offset = 4 + 4 * strings
                values = []
                for length in lengths:
                    values.append(block[offset : offset + length].decode("utf-8"))
                    offset += length
                metadata = dict(zip(values[::2], values[1::2], strict=True))
                raw = handle.read(raw_len)
                (size,) = struct.unpack_from("i", raw)
                payload = raw[4 : 4 + size].decode("utf-8")
                assert metadata and payload
                count += 1
    return count


# -- Entrepôt ---------------------------------------------------------------------------


def ep_write(directory: Path, events: list[tuple[dict[str, str], str]]) -> None:
    writer = RollingWriter(directory, "ep-{seq:04d}.events", policy=SizePolicy(ROLL_BYTES))
    write = writer.write
    for metadata, payload in events:
        write(metadata, payload)
    writer.close()


def ep_read(directory: Path) -> int:
    count = 0
    for metadata, payload, _offset in ArchiveSet(str(directory / "ep-*.events")):
        assert metadata and payload
        count += 1
    return count


def ep_seal(directory: Path, out: Path) -> tuple[int, float]:
    """Compress every sealed archive with zstd; return (input bytes, CPU seconds)."""
    total = 0
    start = time.process_time()
    for path in sorted(directory.glob("ep-*.events")):
        compress_file(path, out / (path.name + ".zst"), "zstd", durable=False)
        total += path.stat().st_size
    return total, time.process_time() - start


def timed(action: Callable[[], object], walls: list[float]) -> float:
    """CPU seconds (user + system) of this process; the wall time goes to ``walls``.

    Other load on a shared machine slows the wall clock of both sides
    unevenly, but hardly their CPU time.  CPU time leaves out waiting for
    the disk (Entrepôt fsyncs each archive as it seals it), so the wall
    ratios are printed as well.
    """
    start, wall = time.process_time(), time.perf_counter()
    action()
    walls.append(time.perf_counter() - wall)
    return time.process_time() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    events = make_events(args.records)
    payload_bytes = sum(len(p) for _, p in events)
    print(f"{args.records} records, mean payload {payload_bytes / args.records:.0f} B, "
          f"roll at {ROLL_BYTES / 1e6:.0f} MB, {args.repeat} repeats (medians)")  # fmt: skip
    results: dict[str, list[float]] = {k: [] for k in ("v1w", "v1r", "v1i", "epw", "epr", "seal")}
    walls: dict[str, list[float]] = {k: [] for k in ("v1w", "v1r", "v1i", "epw", "epr")}
    sizes: dict[str, int] = {}
    root = Path(tempfile.mkdtemp(prefix="bench-archive-"))
    try:
        for _ in range(args.repeat):
            for sub in ("v1", "ep", "zst"):
                shutil.rmtree(root / sub, ignore_errors=True)
                (root / sub).mkdir()
            results["v1w"].append(timed(lambda: v1_write(root / "v1", events), walls["v1w"]))
            results["epw"].append(timed(lambda: ep_write(root / "ep", events), walls["epw"]))
            assert v1_read(root / "v1") == args.records
            assert ep_read(root / "ep") == args.records
            results["v1r"].append(timed(lambda: v1_read(root / "v1"), walls["v1r"]))
            results["epr"].append(timed(lambda: ep_read(root / "ep"), walls["epr"]))
            results["v1i"].append(timed(lambda: v1_read_inline(root / "v1"), walls["v1i"]))
            sealed, seconds = ep_seal(root / "ep", root / "zst")
            results["seal"].append(sealed / seconds / 1e6)
            sizes["v1"] = sum(p.stat().st_size for p in (root / "v1").iterdir())
            sizes["ep"] = sum(p.stat().st_size for p in (root / "ep").iterdir())
            sizes["zst"] = sum(p.stat().st_size for p in (root / "zst").iterdir())
    finally:
        shutil.rmtree(root, ignore_errors=True)
    med = {key: statistics.median(values) for key, values in results.items()}
    n = args.records

    def line(label: str, seconds: float, size: int) -> None:
        print(f"  {label:<28} {n / seconds:>10,.0f} records/s {size / seconds / 1e6:>8.1f} MB/s")

    print("write")
    line("shoebox format 1 (struct)", med["v1w"], sizes["v1"])
    line("entrepot format 2 (+CRC)", med["epw"], sizes["ep"])
    print("read")
    line("shoebox format 1 (struct)", med["v1r"], sizes["v1"])
    line("entrepot format 2 (+CRC)", med["epr"], sizes["ep"])
    line("format 1, consumer inlined", med["v1i"], sizes["v1"])
    write_ratio = med["v1w"] / med["epw"]
    read_ratio = med["v1r"] / med["epr"]
    print(f"ratio write {write_ratio:.2f}x (goal >= 1.5x) "
          f"{'met' if write_ratio >= 1.5 else 'MISSED'}")  # fmt: skip
    print(f"ratio read  {read_ratio:.2f}x (goal >= 1.5x) "
          f"{'met' if read_ratio >= 1.5 else 'MISSED'}")  # fmt: skip
    print(f"zstd sealing {med['seal']:.0f} MB/s of input on one core (goal >= 150) "
          f"{'met' if med['seal'] >= 150 else 'MISSED'}; "
          f"{sizes['ep'] / 1e6:.1f} MB -> {sizes['zst'] / 1e6:.1f} MB")  # fmt: skip
    print(f"read ratio against the reference with the consumer inlined: "
          f"{med['v1i'] / med['epr']:.2f}x")  # fmt: skip
    wall = {key: statistics.median(values) for key, values in walls.items()}
    print(f"wall-clock ratios: write {wall['v1w'] / wall['epw']:.2f}x, "
          f"read {wall['v1r'] / wall['epr']:.2f}x")  # fmt: skip
    print(f"sizes: format 1 {sizes['v1'] / 1e6:.1f} MB, format 2 {sizes['ep'] / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
