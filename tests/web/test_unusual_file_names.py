"""File names the pages did not expect, put straight into the folders they list.

A name holding a byte that is not UTF-8 (copied into the data center's root,
``finished/`` or an archive's folder by something other than an upload)
made the data center pages, ``/api/datacenter`` and the archive pages
answer 500: the templates' ``urlencode`` and the JSON encoder could not
encode it.  The data center pages also showed names as they are, so a
right-to-left override spoofed ``x-\\u202egnp.csv`` as ``x-vsc.png`` and ESC
and BEL went into the HTML raw.

Now every such file is listed, its name escaped as ``entrepot dc ls`` and
the logs show it (``\\xe9``, ``\\u202e``, ``\\x1b``), in the JSON as the
escape of the character Python read (``\\udce9``); a name no link can ask
for is shown without a link, and left out of the import form.
"""

from __future__ import annotations

import json
import os
import re

from tests.web.conftest import Dashboard

CUSTOMERS = "customer_id,name,country\nC001,Ann,fr\n"
NOT_UTF8 = os.fsdecode(b"caf\xe9.csv")
BIDI = "bidi-\u202egnp.csv"
CONTROLS = "ctl-\x1b[31mred\x07.csv"


def test_a_name_that_is_not_utf8_is_listed_escaped_everywhere(dashboard: Dashboard) -> None:
    root = dashboard.root / "dc"
    (root / NOT_UTF8).write_text(CUSTOMERS)
    (root / "finished").mkdir(exist_ok=True)
    (root / "finished" / NOT_UTF8).write_text(CUSTOMERS)
    (root / "good.csv").write_text(CUSTOMERS)
    operator = dashboard.client("operator")
    for area in ("pending", "finished"):
        page = operator.get("/datacenter", params={"area": area})
        assert page.status_code == 200
        assert "caf\\xe9.csv" in page.text
        assert "/datacenter/files/" + area + "/caf" not in page.text  # no link that cannot work
        listed = operator.get("/api/datacenter", params={"area": area})
        assert listed.status_code == 200
        assert '"caf\\udce9.csv"' in listed.text  # the character Python read, escaped
        assert NOT_UTF8 in [row["name"] for row in json.loads(listed.text)["files"]]
    pending = operator.get("/datacenter").text
    # The upload and import forms are still there; only the good file can be chosen.
    assert 'action="/datacenter/upload"' in pending
    assert re.findall(r'<option value="([^"]*)"', pending)[:1] == ["good.csv"]
    assert 'href="/datacenter/files/pending/good.csv"' in pending


def test_an_archive_file_that_is_not_utf8_is_listed_unlinked(dashboard: Dashboard) -> None:
    folder = dashboard.root / "archives" / "events"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / os.fsdecode(b"events-20261207T200001-vm-\xff.events")).write_bytes(b"x")
    viewer = dashboard.client("viewer")
    page = viewer.get("/archives/events")
    assert page.status_code == 200
    assert "events-20261207T200001-vm-\\xff.events" in page.text
    assert "vm-%FF" not in page.text and "vm-%EF%BF%BD" not in page.text
    listed = viewer.get("/api/archives/events")
    assert listed.status_code == 200
    assert "vm-\\udcff.events" in listed.text
    assert viewer.get("/archives").status_code == 200


def test_data_center_names_are_masked_as_the_logs_mask_them(dashboard: Dashboard) -> None:
    root = dashboard.root / "dc"
    for name in (BIDI, CONTROLS):
        (root / name).write_text(CUSTOMERS)
    page = dashboard.client("operator").get("/datacenter").text
    assert "\u202e" not in page and "\x1b" not in page and "\x07" not in page
    assert "bidi-\\u202egnp.csv" in page and "ctl-\\x1b[31mred\\x07.csv" in page
    # Such a name can be neither downloaded nor imported: no link, no choice in the form.
    assert "dc-download" not in page and '<option value="bidi' not in page
    listed = dashboard.client("viewer").get("/api/datacenter").json()
    assert sorted(row["name"] for row in listed["files"]) == sorted([BIDI, CONTROLS])
