"""Who gets in: tokens, the login form, sessions, roles, the login's rate limit."""

from __future__ import annotations

from tests.web.conftest import Dashboard


def test_every_page_and_the_api_need_a_token(dashboard: Dashboard) -> None:
    anonymous = dashboard.client(None, follow_redirects=False)
    page = anonymous.get("/config")
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fconfig"
    assert anonymous.get("/api/config").status_code == 401
    assert anonymous.post("/config/reload").status_code == 401
    assert anonymous.get("/metrics").status_code == 401
    assert anonymous.get("/healthz").status_code == 200
    assert anonymous.get("/login").status_code == 200
    assert anonymous.get("/static/style.css").status_code == 200


def test_a_wrong_token_is_refused_everywhere(dashboard: Dashboard) -> None:
    wrong = dashboard.client(None)
    wrong.headers["Authorization"] = "Bearer " + dashboard.tokens["operator"] + "x"
    assert wrong.get("/api/config").status_code == 401
    assert wrong.get("/config").status_code == 401
    assert wrong.get("/metrics").status_code == 401
    form = dashboard.client(None, follow_redirects=False)
    refused = form.post("/login", data={"token": "not-the-token", "next": "/"})
    assert refused.status_code == 401
    assert "not valid" in refused.text
    assert "entrepot_session" not in refused.headers.get("set-cookie", "")


def test_both_tokens_read_and_only_the_operator_acts(dashboard: Dashboard) -> None:
    for role in ("viewer", "operator"):
        client = dashboard.client(role)
        assert client.get("/api/whoami").json() == {"role": role}
        assert client.get("/metrics").status_code == 200
    refused = dashboard.client("viewer").post("/api/config/reload")
    assert refused.status_code == 403
    assert "operator" in refused.json()["error"]
    assert dashboard.daemon.generation == 1


def test_the_login_form_starts_a_strict_http_only_session(dashboard: Dashboard) -> None:
    client = dashboard.client(None, follow_redirects=False)
    reply = client.post("/login", data={"token": dashboard.tokens["viewer"], "next": "/config"})
    assert reply.status_code == 303
    assert reply.headers["location"] == "/config"
    cookie = reply.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    assert "secure" not in cookie  # plain HTTP on loopback
    assert client.get("/api/whoami").json() == {"role": "viewer"}
    page = client.get("/config")
    assert page.status_code == 200
    assert "Reload the configuration file" not in page.text  # no action for a viewer


def test_the_next_page_after_login_stays_on_this_site(dashboard: Dashboard) -> None:
    for hostile in ("//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:x"):
        client = dashboard.client(None, follow_redirects=False)
        reply = client.post("/login", data={"token": dashboard.tokens["viewer"], "next": hostile})
        assert reply.headers["location"] == "/"


def test_logout_ends_the_session_on_the_server(dashboard: Dashboard) -> None:
    client = dashboard.login("operator")
    cookie = client.cookies.get("entrepot_session")
    token = dashboard.csrf(client)
    assert client.post("/logout", data={"csrf": token}).status_code == 303
    replayed = dashboard.client(None, follow_redirects=False)
    replayed.cookies.set("entrepot_session", str(cookie))
    assert replayed.get("/api/whoami").status_code == 401


def test_failed_logins_are_rate_limited_per_address(dashboard: Dashboard) -> None:
    client = dashboard.client(None, follow_redirects=False)
    codes = [client.post("/login", data={"token": f"guess-{n}"}).status_code for n in range(7)]
    assert codes[:5] == [401] * 5
    assert codes[5:] == [429, 429]
    # Even the right token waits until the window has passed.
    late = client.post("/login", data={"token": dashboard.tokens["operator"]})
    assert late.status_code == 429
    assert "try again" in late.text
