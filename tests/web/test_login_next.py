"""The login form returns to the page asked for, exactly as it was asked for."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.web.conftest import Dashboard
from tests.web.test_datacenter_http import upload


def test_a_link_to_a_file_with_a_percent_in_its_name_survives_the_login(
    dashboard: Dashboard,
) -> None:
    stored = upload(dashboard.client("operator"), "p%41.csv", "a\n1\n")
    assert stored.status_code == 201, stored.text
    name = stored.json()["stored"]
    assert "%41" in name
    link = "/datacenter/files/pending/" + name.replace("%", "%25") + "?x=%2541"
    anonymous = dashboard.client(None, follow_redirects=False)
    to_login = anonymous.get(link)
    assert to_login.status_code == 303
    target = parse_qs(urlsplit(to_login.headers["location"]).query)["next"][0]
    assert target == link
    back = anonymous.post("/login", data={"token": dashboard.tokens["viewer"], "next": target})
    assert back.status_code == 303
    assert back.headers["location"] == link
    download = anonymous.get(back.headers["location"])
    assert download.status_code == 200
    assert download.text == "a\n1\n"
