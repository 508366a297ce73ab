"""The service configuration: typed sections, resolved paths, every problem with its line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from entrepot.service.config import Config
from entrepot.service.loading import (
    ConfigProblems,
    check_config,
    default_config_path,
    environment_problems,
    load_config,
)

GOOD = """\
[service]
state = "state"
listen = "127.0.0.1:9180"

[targets.partner]
url = "ftp://drop@ftp.example.org/in"
password_env = "PARTNER_PW"
options = { timeout = 20 }

[spools.outbox]
path = "outbox"

[archives.events]
folder = "events"
max_size = "10MB"
max_idle = "5m"
spool = "outbox"

[routes.to-partner]
spool = "outbox"
target = "partner"
on_arrival = true
cron = "0 2 * * *"
parallel = 4
retry = { max_tries = 5, delay = "30s" }
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "entrepot.toml"
    path.write_text(text)
    return path


def test_a_good_file_loads_with_paths_resolved_against_its_folder(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert isinstance(config, Config) and config.source == tmp_path / "entrepot.toml"
    assert config.spools["outbox"].path == tmp_path / "outbox"
    assert config.service.state == tmp_path / "state"
    assert config.archives["events"].max_size == 10_000_000
    assert config.archives["events"].max_idle == 300.0
    route = config.routes["to-partner"]
    assert (route.parallel, route.retry.max_tries, route.retry.delay) == (4, 5, 30.0)
    assert config.targets["partner"].open_options() == {"timeout": 20, "password_env": "PARTNER_PW"}
    assert config.route_of("outbox", "partner") == "to-partner"


def _problems(tmp_path: Path, text: str) -> list[str]:
    config, problems = check_config(write(tmp_path, text))
    assert config is None and problems
    return [str(problem) for problem in problems]


def _line(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("change", "needle", "expected"),
    [
        # an unknown key, with a "did you mean"
        (
            ("parallel = 4", "paralel = 4"),
            "paralel",
            "unknown key 'paralel' (did you mean 'parallel'?)",
        ),
        # an inline password, in the URL or as an option
        (('url = "ftp://drop@', 'url = "ftp://drop:s3cret@'), "url =", "carries a password"),
        (
            ("options = { timeout = 20 }", 'options = { password = "x" }'),
            "options =",
            "password_env",
        ),
        # a bad duration, size and cron expression
        (('max_idle = "5m"', 'max_idle = "5 minutes"'), "max_idle", "not a duration"),
        (('max_size = "10MB"', 'max_size = "10iB"'), "max_size", "not a size"),
        (('cron = "0 2 * * *"', 'cron = "0 25 * * *"'), "cron =", "not a cron expression"),
        # a route naming a missing target, with a "did you mean"
        (
            ('target = "partner"', 'target = "partnr"'),
            'target = "partnr"',
            "no target named 'partnr' (did you mean 'partner'?)",
        ),
        # a bad listen address, a bad value of a choice
        (('listen = "127.0.0.1:9180"', 'listen = "9180"'), "listen", "HOST:PORT"),
        (
            ("parallel = 4", 'parallel = 4\nconflict = "overwrite"'),
            "conflict",
            "'replace', 'skip', 'fail', 'rename' or 'exclusive'",
        ),
    ],
)
def test_each_mistake_is_reported_with_its_line_and_a_hint(
    tmp_path: Path, change: tuple[str, str], needle: str, expected: str
) -> None:
    text = GOOD.replace(*change)
    assert text != GOOD
    problems = _problems(tmp_path, text)
    matching = [p for p in problems if expected in p]
    assert matching, problems
    assert f"entrepot.toml:{_line(text, needle)}:" in matching[0]
    assert "s3cret" not in "".join(problems)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = GOOD.replace("parallel = 4", "paralel = 4").replace('"5m"', '"soon"')
    text = text.replace('spool = "outbox"\n\n[routes', 'spool = "outbx"\n\n[routes')
    problems = _problems(tmp_path, text)
    assert len(problems) == 3, problems


def test_a_route_needs_a_trigger_and_names_are_plain(tmp_path: Path) -> None:
    text = GOOD.replace("on_arrival = true\n", "").replace('cron = "0 2 * * *"\n', "")
    assert any("needs a trigger" in p for p in _problems(tmp_path, text))
    text = GOOD.replace("[spools.outbox]", '[spools."out box"]')
    assert any("not a usable name" in p for p in _problems(tmp_path, text))


def test_broken_toml_and_missing_files(tmp_path: Path) -> None:
    assert "not valid TOML" in _problems(tmp_path, "[service\n")[0]
    # Nested past the parser's own limit: told as a problem of the file, not a traceback.
    deep = "a = " + "[" * 100_000 + "]" * 100_000
    assert _problems(tmp_path, deep) == [
        f"{tmp_path / 'entrepot.toml'}: not valid TOML: nested too deeply"
    ]
    config, problems = check_config(tmp_path / "nope.toml")
    assert config is None and "entrepot init" in str(problems[0])
    with pytest.raises(ConfigProblems) as caught:
        load_config(tmp_path / "nope.toml")
    assert "no configuration file" in str(caught.value)


def test_the_environment_is_checked_apart(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("secret\n")
    os.chmod(pw, 0o644)
    text = GOOD + '\n[targets.other]\nurl = "sftpp://h/x"\npassword_file = "pw"\n'
    config = load_config(write(tmp_path, text))
    problems = [str(p) for p in environment_problems(config, env={})]
    assert any("PARTNER_PW is not set" in p for p in problems)
    assert any("others" in p or "private" in p or "permissions" in p for p in problems), problems
    assert any("sftpp" in p for p in problems)
    os.chmod(pw, 0o600)
    problems = [str(p) for p in environment_problems(config, env={"PARTNER_PW": "x"})]
    assert len(problems) == 1 and "sftpp" in problems[0]


def test_the_default_location(tmp_path: Path) -> None:
    assert default_config_path({"ENTREPOT_CONFIG": "/etc/e.toml"}) == Path("/etc/e.toml")
    xdg = default_config_path({"XDG_CONFIG_HOME": str(tmp_path)})
    assert xdg == tmp_path / "entrepot" / "entrepot.toml"


def test_the_data_centers_upload_limit(tmp_path: Path) -> None:
    from entrepot.datacenter import UploadPolicy
    from entrepot.service.dcuploads import DEFAULT_MAX_UPLOAD

    section = '\n[datacenter]\nroot = "dc"\n'
    center = load_config(write(tmp_path, GOOD + section)).datacenter
    assert center is not None
    assert center.max_upload == DEFAULT_MAX_UPLOAD == UploadPolicy().max_bytes
    text = GOOD + section + 'max_upload = "2 GiB"\n'
    center = load_config(write(tmp_path, text)).datacenter
    assert center is not None and center.upload_policy().max_bytes == 2 * 1024**3
    for wrong, expected in (("0", "greater than 0"), ('"lots"', "not a size")):
        text = GOOD + section + f"max_upload = {wrong}\n"
        problems = _problems(tmp_path, text)
        assert any(expected in p and f"entrepot.toml:{_line(text, 'max_upload')}:" in p
                   for p in problems), problems  # fmt: skip
