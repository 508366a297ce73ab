"""What every answer carries (security headers) and what every form post must prove (CSRF)."""

from __future__ import annotations

from tests.web.conftest import Dashboard


def test_every_answer_carries_the_security_headers(dashboard: Dashboard) -> None:
    client = dashboard.client("viewer", follow_redirects=False)
    for path in ("/config", "/api/config", "/login", "/static/style.css", "/no-such-page"):
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "unsafe-inline" not in csp and "script-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        # Not "no-referrer": browsers would then send "Origin: null" on every form post.
        assert headers["referrer-policy"] == "same-origin"
    assert client.get("/config").headers["cache-control"] == "no-store"


def test_a_session_post_without_its_csrf_token_is_refused(dashboard: Dashboard) -> None:
    client = dashboard.login("operator")
    before = dashboard.daemon.generation
    assert client.post("/config/reload").status_code == 403
    assert client.post("/config/reload", data={"csrf": "forged"}).status_code == 403
    other = dashboard.login("operator")  # another session's token is not this one's
    assert client.post("/config/reload", data={"csrf": dashboard.csrf(other)}).status_code == 403
    assert dashboard.daemon.generation == before
    token = dashboard.csrf(client)
    done = client.post("/config/reload", data={"csrf": token}, headers={"Accept": "text/html"})
    assert done.status_code == 303
    assert dashboard.daemon.generation == before + 1


def test_the_csrf_token_may_come_as_a_header_or_first_multipart_field(dashboard: Dashboard) -> None:
    client = dashboard.login("operator")
    token = dashboard.csrf(client)
    by_header = client.post("/api/config/reload", headers={"X-CSRF-Token": token})
    assert by_header.status_code == 200, by_header.text
    first = client.post("/api/config/reload", files={"csrf": (None, token), "f": ("a.csv", b"x")})
    assert first.status_code == 200, first.text
    # Anywhere else in a multipart body it is not looked for: the file would come first.
    late = client.post(
        "/api/config/reload",
        files=[("f", ("a.csv", b"x" * 1000)), ("csrf", (None, token))],
    )
    assert late.status_code == 403
    # A field whose file name looks like the token's field is not it.
    named = client.post("/api/config/reload", files={"upload": ('csrf"', token.encode())})
    assert named.status_code == 403


def test_a_post_from_another_site_is_refused(dashboard: Dashboard) -> None:
    client = dashboard.login("operator")
    token = dashboard.csrf(client)
    refused = client.post(
        "/config/reload", data={"csrf": token}, headers={"Origin": "https://evil.example"}
    )
    assert refused.status_code == 403


def test_bearer_calls_need_no_csrf_token(dashboard: Dashboard) -> None:
    reply = dashboard.client("operator").post("/api/config/reload")
    assert reply.status_code == 200
    assert reply.json()["ok"] is True


def test_numbers_from_a_client_are_read_only_when_they_are_plain_ascii_digits() -> None:
    from entrepot.web.render import ascii_number

    assert [ascii_number(text) for text in ("7", "007", "9" * 18)] == [7, 7, 10**18 - 1]
    # Each of these made int() raise — a 500 — or is no count at all.
    for text in (None, "", "\u00b2", "\u0661\u0662", "9" * 19, "9" * 5000, "-1", "+1", " 1", "1e3"):
        assert ascii_number(text) is None, text
