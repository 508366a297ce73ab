"""The trace, archive, route and target pages are well-formed HTML, every form control has
a label, every form that posts carries the CSRF field, and no page holds inline script or
style (the Content-Security-Policy would refuse it)."""

from __future__ import annotations

from html.parser import HTMLParser

from entrepot.service.archives import archive_writer
from entrepot.spool import Spool
from tests.servers._common import wait_until
from tests.web.conftest import Dashboard

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}  # fmt: skip


class Checked(HTMLParser):
    """Collects what breaks well-formedness or the page rules as it parses."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.problems: list[str] = []
        self.labels: set[str] = set()
        self.controls: list[str] = []
        self.forms: list[tuple[str, bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if "style" in values or any(name.startswith("on") for name in values):
            self.problems.append(f"inline style or handler on <{tag}>")
        if tag == "script" or tag == "style":
            self.problems.append(f"inline <{tag}>")
        if tag == "label" and values.get("for"):
            self.labels.add(str(values["for"]))
        if tag in ("select", "textarea") or (tag == "input" and values.get("type") != "hidden"):
            self.controls.append(str(values.get("id")))
        if tag == "form":
            self.forms.append((str(values.get("method", "get")).lower(), False))
        if tag == "input" and values.get("name") == "csrf" and self.forms:
            self.forms[-1] = (self.forms[-1][0], True)
        if tag not in VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VOID:
            self.handle_starttag(tag, attrs)
        # Self-closed SVG elements (<line/>) open nothing.

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.open or self.open[-1] != tag:
            self.problems.append(f"</{tag}> closes <{self.open[-1] if self.open else None}>")
            if tag in self.open:
                while self.open.pop() != tag:
                    pass
            return
        self.open.pop()


def check_page(html: str) -> list[str]:
    page = Checked()
    page.feed(html)
    page.close()
    problems = list(page.problems)
    if page.open:
        problems.append(f"left open: {page.open}")
    problems += [f"control #{c} has no label" for c in page.controls if c not in page.labels]
    problems += ["a form that posts has no csrf field" for m, csrf in page.forms
                 if m == "post" and not csrf]  # fmt: skip
    return problems


def test_every_page_is_well_formed_with_labels(dashboard: Dashboard) -> None:
    outbox = Spool(dashboard.root / "outbox")
    outbox.publish_bytes(b"a,b\n", "orders-1.csv")
    wait_until(lambda: (dashboard.root / "partner" / "orders-1.csv").exists(), what="delivery")
    writer = archive_writer(dashboard.daemon.config, "events")
    writer.write({"k": "v"}, b"\x00raw")
    writer.flush()
    folder = dashboard.root / "archives" / "events"
    (open_file,) = [p.name for p in folder.iterdir() if p.name.endswith(".open")]
    wait_until(
        lambda: "delivered" in dashboard.client("viewer").get("/trace?name=orders-1.csv").text,
        what="the trace",
    )
    pages = [
        "/trace", "/trace?name=orders-*", "/trace?name=*", "/trace?name=x&route=nope",
        "/trace/undelivered?since=1d", "/archives", "/archives/events",
        f"/archives/events/folder/{open_file}", "/routes", "/routes/outbox-to-partner",
        "/routes/targets/partner",
    ]  # fmt: skip
    try:
        for role in ("viewer", "operator"):
            client = dashboard.login(role)
            for path in pages:
                reply = client.get(path)
                assert reply.status_code in (200, 400), (path, reply.status_code)
                assert check_page(reply.text) == [], (role, path)
    finally:
        writer.close()


def test_the_checker_finds_what_it_looks_for() -> None:
    assert check_page("<main><p>ok</p></main>") == []
    assert check_page("<main><p>open</main>") != []
    assert check_page('<input id="x" name="x">') == ["control #x has no label"]
    assert check_page('<form method="post"><button>go</button></form>') != []
    assert check_page('<p style="color: red">x</p>') != []
