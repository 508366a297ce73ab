"""Every data center page is well-formed HTML whose form controls all have a label."""

from __future__ import annotations

from html.parser import HTMLParser

from tests.web.conftest import Dashboard
from tests.web.test_datacenter_http import CUSTOMERS, start_import, upload, wait_done

VOID = {"meta", "link", "input", "br", "hr", "img", "source", "wbr", "area", "col", "base"}
CONTROLS = {"input", "select", "textarea"}


class Checked(HTMLParser):
    """Tags balanced and nested; ids of controls and of labels' ``for``; controls in labels."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.problems: list[str] = []
        self.controls: list[str] = []
        self.labelled: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "label" and found.get("for"):
            self.labelled.add(str(found["for"]))
        if tag in CONTROLS and found.get("type") not in ("hidden", "submit"):
            if "label" in self.open:
                self.labelled.add(str(found.get("id")))
            self.controls.append(str(found.get("id")))
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.open or self.open[-1] != tag:
            self.problems.append(f"</{tag}> closes <{self.open[-1] if self.open else '-'}>")
            return
        self.open.pop()


def check(html: str) -> None:
    parser = Checked()
    parser.feed(html)
    parser.close()
    assert parser.problems == [] and parser.open == [], (parser.problems, parser.open)
    unlabelled = [c for c in parser.controls if c not in parser.labelled]
    assert unlabelled == [], unlabelled


def test_every_page_is_well_formed_and_labelled(dashboard: Dashboard) -> None:
    operator = dashboard.client("operator")
    name = upload(operator, "c.csv", CUSTOMERS).json()["stored"]
    job_id = start_import(operator, name).json()["job_id"]
    wait_done(operator, job_id)
    (dashboard.root / "dc" / "more.csv").write_text(CUSTOMERS)
    pages = [
        "/datacenter",
        "/datacenter?area=unfinished",
        "/datacenter?area=finished&sort=date",
        "/datacenter/tables",
        "/datacenter/log",
        "/datacenter/log?q=c_web",
        f"/datacenter/imports/{job_id}",
    ]
    for role in ("operator", "viewer"):
        client = dashboard.client(role)
        for path in pages:
            reply = client.get(path)
            assert reply.status_code == 200, path
            check(reply.text)


def test_the_checker_finds_what_it_looks_for() -> None:
    broken = Checked()
    broken.feed("<div><span></div>")
    assert broken.problems
    unlabelled = Checked()
    unlabelled.feed('<form><input id="x" name="x"></form>')
    assert unlabelled.controls == ["x"] and unlabelled.labelled == set()
