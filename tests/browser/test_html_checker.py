"""The offline HTML checker used on every dashboard page finds what it must find."""

from __future__ import annotations

import pytest

from tests.browser._html import html_problems

HEAD = '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Overview</title>'
HEAD += '<link rel="stylesheet" href="/static/style.css"></head>\n'


def page(body: str) -> str:
    return f"{HEAD}<body>\n{body}\n</body></html>\n"


def test_a_clean_page_passes() -> None:
    body = """<form method="post" action="/jobs/1/retry">
    <input type="hidden" name="csrf" value="x">
    <label for="reason">Reason</label> <input id="reason" name="reason">
    <label>Table <select name="table"><option value="a">a</option></select></label>
    <label for="note">Note</label><textarea id="note" name="note"></textarea>
    <button type="submit">Retry</button>
    </form>
    <p>a &amp; b &lt; c &#233; &#x41; AT&T fish & chips<br></p><img src="/static/x.svg" alt="">
    <a href="/datacenter?area=pending&sort=name&copy=1">next</a>
    <script src="/static/app.js"></script>
    <svg viewBox="0 0 10 10" role="img" aria-label="chart"><line x1="0" y1="0" x2="1" y2="1"/>
    <rect x="1" y="1" width="2" height="2"><title>3 files</title></rect></svg>"""
    assert html_problems(page(body)) == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("<p>open", "</body> closes <p>"),
        ("<div><span></div>", "</div> closes <span>"),
        ("</p>", "</p> closes nothing"),
        ("<br></br>", "a void element has no end tag"),
        ("<div/>", "<div/> is not a void element"),
        ("<svg></svg><line/>", "<line/> is not a void element"),
        ('<p id="a"></p><p id="a"></p>', "id 'a' is used twice"),
        ('<p class="a" class="b"></p>', "the attribute 'class' twice"),
        ("<p>&copy 2026</p>", "&copy reads as &copy;"),
        ("<p>&bogus;</p>", "&bogus; is no character reference"),
        ("<p>&#12 x</p>", "a malformed &#…;"),
        ('<p title="&copy 2">x</p>', "&copy reads as &copy;"),
        ("<form><form></form></form>", "a <form> inside a <form>"),
        ("<a href='/'><button>x</button></a>", "an <button> inside an <a>"),
        ('<p style="color: red">x</p>', "inline style="),
        ('<button onclick="go()">x</button>', "inline onclick= handler"),
        ("<script>alert(1)</script>", "an inline <script>"),
        ("<style>p { color: red }</style>", "inline <style> content"),
        ('<input name="q">', '<input name="q"> has no <label>'),
        ('<label for="other">Q</label><input id="q" name="q">', "has no <label>"),
        ('<select name="t"><option>a</option></select>', '<select name="t"> has no <label>'),
        ('<textarea name="n"></textarea>', "has no <label>"),
    ],
)
def test_each_problem_is_found(body: str, expected: str) -> None:
    problems = html_problems(page(body))
    assert any(expected in problem for problem in problems), problems


def test_the_document_frame_is_checked() -> None:
    assert any("<!DOCTYPE html>" in p for p in html_problems("<html lang='en'></html>"))
    bare = "<!DOCTYPE html><html><head><title> </title></head><body></body></html>"
    problems = html_problems(bare)
    assert any("no lang" in p for p in problems)
    assert any("no <meta charset>" in p for p in problems)
    assert any("<title> is empty" in p for p in problems)
    twice = page("<body></body>")
    assert any("2 <body> elements" in p for p in html_problems(twice))


def test_an_unclosed_element_at_the_end_is_reported() -> None:
    assert "line 2: <html> is never closed" in html_problems(HEAD + "<body></body>")


def test_problems_carry_their_line() -> None:
    problems = html_problems(page("\n\n<p>open"))
    assert "line 7: </body> closes <p> opened on line 6" in problems, problems
