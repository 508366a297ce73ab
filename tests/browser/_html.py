"""A strict, offline check of the dashboard's HTML: well-formed, and every control labelled.

Stricter than HTML5's error-tolerant parsing on purpose — our templates are
ours, so each one must read unambiguously:

* ``<!DOCTYPE html>`` first, then one ``<html lang>`` holding ``<head>``
  (with ``<meta charset>`` and a non-empty ``<title>``) and ``<body>``;
* every element that is not void is closed explicitly, in order; a void
  element (``<input>``, ``<br>``…) never is; no end tag without its start
  (inside ``<svg>`` and ``<math>``, ``<line/>`` closes itself, as there);
* no attribute twice in a tag, no ``id`` twice in a page;
* no character reference that HTML5 reads as an error or decodes by
  surprise: ``&bogus;``, ``&copy 2026`` in text, ``&#12`` without ``;``,
  ``title="&copy 2"`` (``AT&T`` and ``?a=1&b=2`` are fine, as in HTML5);
* no ``<form>`` in a ``<form>``, no ``<a>`` or ``<button>`` inside either;
* no inline script or style (``<script>`` without ``src``, ``style=``,
  ``on…=`` handlers): the Content-Security-Policy would block them;
* every form control — ``<input>`` (but hidden, submit, button, reset and
  image), ``<select>``, ``<textarea>`` — has a ``<label>``: one around it,
  or one whose ``for`` names its ``id``.

:func:`html_problems` returns one line per problem, with its line number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.entities import html5
from html.parser import HTMLParser

__all__ = ["html_problems"]

VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}
    | {"track", "wbr"}
)
FOREIGN = frozenset({"svg", "math"})
UNLABELLED_INPUTS = frozenset({"hidden", "submit", "button", "reset", "image"})
CONTROLS = frozenset({"input", "select", "textarea"})
_REFERENCE = re.compile(r"&(#[xX]?[0-9A-Fa-f]*;?|[A-Za-z][A-Za-z0-9]*;?)")
#: Entities a browser decodes even without their ";" (``&copy`` → ©).
_LEGACY = sorted((name for name in html5 if not name.endswith(";")), key=len, reverse=True)


@dataclass
class _Control:
    tag: str
    line: int
    attrs: dict[str, str]
    labelled: bool


@dataclass
class _Open:
    tag: str
    line: int


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.problems: list[str] = []
        self.stack: list[_Open] = []
        self.ids: dict[str, int] = {}
        self.label_for: set[str] = set()
        self.controls: list[_Control] = []
        self.seen_doctype = False
        self.seen_anything = False
        self.counts: dict[str, int] = {}
        self.title = ""
        self.charset = False
        self.lang = False
        self.in_title = False

    def problem(self, text: str, line: int | None = None) -> None:
        self.problems.append(f"line {line or self.getpos()[0]}: {text}")

    def inside(self, tag: str) -> bool:
        return any(item.tag == tag for item in self.stack)

    def in_foreign(self) -> bool:
        return any(item.tag in FOREIGN for item in self.stack)

    # -- the parser's callbacks ------------------------------------------------------

    def handle_decl(self, decl: str) -> None:
        if self.seen_anything or decl.lower() != "doctype html":
            self.problem(f"<!{decl}> where <!DOCTYPE html> must come first")
        self.seen_doctype = True
        self.seen_anything = True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs)
        if tag not in VOID:
            self.stack.append(_Open(tag, self.getpos()[0]))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs)
        # In SVG and MathML (foreign content) "<x/>" closes an element; in HTML it does not.
        if tag not in VOID and tag not in FOREIGN and not self.in_foreign():
            self.problem(f"<{tag}/> is not a void element: close it with </{tag}>")

    def _start(self, tag: str, pairs: list[tuple[str, str | None]]) -> None:
        if not self.seen_doctype and not self.seen_anything:
            self.problem("the page does not start with <!DOCTYPE html>")
        self.seen_anything = True
        names = [name for name, _ in pairs]
        for name in sorted({name for name in names if names.count(name) > 1}):
            self.problem(f"<{tag}> has the attribute {name!r} twice")
        attrs = {name: value or "" for name, value in pairs}
        if self.in_foreign():
            tag = f"{tag} (in svg)"  # an SVG <title> is not the page's
        self.counts[tag] = self.counts.get(tag, 0) + 1
        line = self.getpos()[0]
        self._check_attrs(tag, attrs, line)
        self._check_nesting(tag)
        if tag == "html":
            self.lang = bool(attrs.get("lang"))
        elif tag == "meta" and "charset" in attrs:
            self.charset = True
        elif tag == "title":
            self.in_title = True
        elif tag == "label" and attrs.get("for"):
            self.label_for.add(attrs["for"])
        elif tag in CONTROLS and not (
            tag == "input" and attrs.get("type", "text").lower() in UNLABELLED_INPUTS
        ):
            self.controls.append(_Control(tag, line, attrs, self.inside("label")))

    def _check_attrs(self, tag: str, attrs: dict[str, str], line: int) -> None:
        ident = attrs.get("id")
        if ident is not None:
            if ident in self.ids:
                self.problem(f"id {ident!r} is used twice (first on line {self.ids[ident]})")
            self.ids.setdefault(ident, line)
        if "style" in attrs:
            self.problem(f"<{tag}> has an inline style= (the CSP refuses it)")
        for name in attrs:
            if name.startswith("on"):
                self.problem(f"<{tag}> has an inline {name}= handler (the CSP refuses it)")
        if tag == "script" and not attrs.get("src"):
            self.problem("an inline <script> (the CSP refuses it): serve it as a static file")

    def _check_nesting(self, tag: str) -> None:
        if tag == "form" and self.inside("form"):
            self.problem("a <form> inside a <form>")
        if tag in {"a", "button"} and (self.inside("a") or self.inside("button")):
            self.problem(f"an <{tag}> inside an <a> or a <button>")

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            self.problem(f"</{tag}>: a void element has no end tag")
            return
        if tag == "title" and not self.in_foreign():
            self.in_title = False
        if not self.inside(tag):
            self.problem(f"</{tag}> closes nothing: no <{tag}> is open")
            return
        top = self.stack[-1]
        if top.tag != tag:
            self.problem(f"</{tag}> closes <{top.tag}> opened on line {top.line}")
        # Unwind to the matching start tag (once reported, the rest reads on).
        while self.stack.pop().tag != tag:
            pass

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.seen_anything = True
        if self.in_title:
            self.title += data
        if self.stack and self.stack[-1].tag in {"script", "style"}:
            if data.strip():
                self.problem(f"inline <{self.stack[-1].tag}> content (the CSP refuses it)")
            return

    def handle_entityref(self, name: str) -> None:
        if self.in_title:
            self.title += "&"

    def handle_charref(self, name: str) -> None:
        if self.in_title:
            self.title += "#"

    # -- at the end ------------------------------------------------------------------

    def finish(self) -> list[str]:
        self.close()
        for item in self.stack:
            self.problem(f"<{item.tag}> is never closed", item.line)
        for tag in ("html", "head", "body", "title"):
            if self.counts.get(tag, 0) != 1:
                self.problem(f"{self.counts.get(tag, 0)} <{tag}> elements (one expected)", 1)
        if not self.lang:
            self.problem("<html> has no lang attribute", 1)
        if not self.charset:
            self.problem("no <meta charset>", 1)
        if self.counts.get("title") == 1 and not self.title.strip():
            self.problem("the <title> is empty", 1)
        for control in self.controls:
            if control.labelled or control.attrs.get("id", "\0") in self.label_for:
                continue
            shown = " ".join(f'{k}="{v}"' for k, v in control.attrs.items() if k in {"name", "id"})
            self.problem(f"<{control.tag} {shown}> has no <label>", control.line)
        return self.problems


def _reference_problem(text: str, match: re.Match[str]) -> str | None:
    """What is wrong with the character reference at ``match`` (None: nothing)."""
    ref = match.group(1)
    if ref.startswith("#"):
        return None if ref.endswith(";") and len(ref.strip("#xX;")) > 0 else "a malformed &#…;"
    if ref.endswith(";"):
        return None if ref in html5 else f"&{ref} is no character reference (write &amp;)"
    legacy = next((name for name in _LEGACY if ref.startswith(name)), None)
    if legacy is None:
        return None  # "AT&T": a plain ampersand
    after = text[match.start() + 1 + len(legacy) : match.start() + 2 + len(legacy)]
    # Inside a tag (an attribute) "&copy=" or "&copyx" stays as written; in text it is ©.
    in_tag = text.rfind("<", 0, match.start()) > text.rfind(">", 0, match.start())
    if in_tag and (after.isalnum() or after == "="):
        return None
    return f"&{ref} reads as &{legacy}; (write &amp;{ref} or &{legacy};)"


def html_problems(text: str) -> list[str]:
    """Every problem of the page ``text`` (see the module docstring); empty when none."""
    checker = _Checker()
    checker.feed(text)
    problems = checker.finish()
    for match in _REFERENCE.finditer(text):
        problem = _reference_problem(text, match)
        if problem:
            problems.append(f"line {text.count(chr(10), 0, match.start()) + 1}: {problem}")
    return problems
