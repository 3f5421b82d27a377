"""The settings table of service/config.py: defaults, conversion, ranges, the README's table, and that
nothing else in service/ or index/ reads the environment."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from service import create_app
from service.config import BY_NAME, DEFAULTS, SETTINGS, from_environ, value

ROOT = Path(__file__).resolve().parents[1]
# The only modules that may read the environment: the settings, and a test hook (not a setting).
READERS = {"service/config.py", "index/crash_points.py"}


def test_every_setting_has_a_default_of_its_type_within_its_range():
    assert len(BY_NAME) == len(SETTINGS)
    assert DEFAULTS == {setting.name: setting.default for setting in SETTINGS}
    for setting in SETTINGS:
        assert setting.description.strip(), setting.name
        if setting.default is None:
            assert setting.optional, setting.name
            continue
        assert type(setting.default) is setting.kind, setting.name
        if setting.choices is not None:
            assert setting.default in setting.choices, setting.name
        if setting.minimum is not None:
            assert setting.default >= setting.minimum, setting.name
        if setting.maximum is not None:
            assert setting.default <= setting.maximum, setting.name


def test_the_table_names_what_the_service_used_to_read():
    assert set(DEFAULTS) >= {
        "DATA_DIR", "EMBEDDING_MODEL", "EMBEDDING_CACHE", "DATABASE_URL", "LEAD_WORDS", "KEEP_VERSIONS",
        "WARM_ARTICLES", "MAX_BULK", "MAX_CONTENT_LENGTH", "BODY_TIMEOUT", "RELATED_FLOOR", "RECENCY_HALF_LIFE_DAYS",
        "PROFILES", "API_KEYS", "API_KEYS_FILE", "ALLOW_LOCAL_WRITES", "TRUSTED_PROXIES", "RATE_LIMIT",
        "MAX_QUERY_STRING", "JSON_LOGS", "WIDGET_ORIGINS", "HOST", "PORT", "PROMETHEUS_MULTIPROC_DIR"}


@pytest.mark.parametrize("name, raw", [
    ("PORT", "0"), ("PORT", "65536"), ("PORT", "http"), ("KEEP_VERSIONS", "0"), ("JSON_LOGS", "2"),
    ("JSON_LOGS", "yes"), ("ALLOW_LOCAL_WRITES", "-1"), ("RELATED_FLOOR", "3"), ("RELATED_FLOOR", "-1.5"),
    ("RELATED_FLOOR", "nan"), ("RELATED_FLOOR", "inf"), ("RELATED_FLOOR", "high"), ("WARM_ARTICLES", "-1"),
    ("MAX_BULK", "0"), ("BODY_TIMEOUT", "-5"), ("LEAD_WORDS", "0"), ("RECENCY_HALF_LIFE_DAYS", "-1"),
    ("MAX_CONTENT_LENGTH", "0"), ("MAX_QUERY_STRING", "0"), ("TRUSTED_PROXIES", "-1"), ("KEEP_VERSIONS", "2.5"),
    ("PROFILES", "not json"), ("PROFILES", "[1]"), ("PROFILES", '{"widget": 6}'),
])
def test_a_value_out_of_range_is_refused_naming_the_variable(name, raw):
    with pytest.raises(ValueError) as refused:
        from_environ({name: raw})
    message = str(refused.value)
    assert name in message and BY_NAME[name].allowed in message and repr(raw) in message


def test_the_app_factory_refuses_a_bad_value_in_one_line(monkeypatch):
    monkeypatch.setenv("PORT", "0")
    with pytest.raises(ValueError, match="PORT must be an integer from 1 to 65535, got '0'"):
        create_app()


def test_valid_values_convert_as_before():
    environ = {
        "DATA_DIR": "/srv/data", "EMBEDDING_CACHE": "/srv/cache.sqlite", "DATABASE_URL": "postgresql://db/x",
        "API_KEYS_FILE": "/etc/keys", "LEAD_WORDS": "50", "KEEP_VERSIONS": "1", "WARM_ARTICLES": "0",
        "MAX_BULK": "10", "MAX_CONTENT_LENGTH": "1024", "BODY_TIMEOUT": "0", "RELATED_FLOOR": "0.8",
        "RECENCY_HALF_LIFE_DAYS": "30", "PROFILES": '{"short": {"k": 3}}', "API_KEYS": "a,b",
        "ALLOW_LOCAL_WRITES": "1", "TRUSTED_PROXIES": "2", "RATE_LIMIT": "10/second", "MAX_QUERY_STRING": "100",
        "JSON_LOGS": "0", "WIDGET_ORIGINS": "https://a.example", "HOST": "0.0.0.0", "PORT": "65535",
        "PROMETHEUS_MULTIPROC_DIR": "/tmp/metrics", "NOT_A_SETTING": "x",
    }
    found = from_environ(environ)
    assert found == {
        "DATA_DIR": "/srv/data", "EMBEDDING_CACHE": "/srv/cache.sqlite", "DATABASE_URL": "postgresql://db/x",
        "API_KEYS_FILE": "/etc/keys", "LEAD_WORDS": 50, "KEEP_VERSIONS": 1, "WARM_ARTICLES": 0, "MAX_BULK": 10,
        "MAX_CONTENT_LENGTH": 1024, "BODY_TIMEOUT": 0, "RELATED_FLOOR": 0.8, "RECENCY_HALF_LIFE_DAYS": 30,
        "PROFILES": {"short": {"k": 3}}, "API_KEYS": "a,b", "ALLOW_LOCAL_WRITES": 1, "TRUSTED_PROXIES": 2,
        "RATE_LIMIT": "10/second", "MAX_QUERY_STRING": 100, "JSON_LOGS": 0, "WIDGET_ORIGINS": "https://a.example",
        "HOST": "0.0.0.0", "PORT": 65535, "PROMETHEUS_MULTIPROC_DIR": "/tmp/metrics",
    }
    assert type(found["RELATED_FLOOR"]) is float and from_environ({"RELATED_FLOOR": "-1"}) == {"RELATED_FLOOR": -1.0}
    assert from_environ({"PORT": "1", "JSON_LOGS": "1"}) == {"PORT": 1, "JSON_LOGS": 1}


def test_unset_and_empty_mean_the_default_but_an_empty_rate_limit_turns_it_off():
    assert from_environ({}) == {}
    assert from_environ({"PORT": "", "PROFILES": "", "RELATED_FLOOR": "", "JSON_LOGS": ""}) == {}
    assert from_environ({"RATE_LIMIT": ""}) == {"RATE_LIMIT": ""}
    assert value("JSON_LOGS", {}) == 1 and value("JSON_LOGS", {"JSON_LOGS": "0"}) == 0
    assert value("PROMETHEUS_MULTIPROC_DIR", {}) is None
    with pytest.raises(ValueError, match="JSON_LOGS must be 0 or 1, got '2'"):
        value("JSON_LOGS", {"JSON_LOGS": "2"})


def readme_settings() -> set[str]:
    """The names in the first cell of the rows of README.md's configuration table (a row may name two,
    "| `HOST`, `PORT` | ...")."""
    text = (ROOT / "README.md").read_text()
    section = re.search(r"^## Configuration\b.*?$(.*?)(?=^## )", text, re.M | re.S)
    assert section, "README.md has no '## Configuration' section"
    names = set()
    for line in section.group(1).splitlines():
        row = re.match(r"\|\s*(`[A-Z0-9_]+`(?:\s*,\s*`[A-Z0-9_]+`)*)\s*\|", line)
        if row:
            names |= set(re.findall(r"`([A-Z0-9_]+)`", row.group(1)))
    return names


def test_the_readme_table_lists_exactly_the_settings():
    documented = readme_settings()
    assert not set(DEFAULTS) - documented, f"missing from README.md's configuration table: {sorted(set(DEFAULTS) - documented)}"
    assert not documented - set(DEFAULTS), f"in README.md's table but not a setting: {sorted(documented - set(DEFAULTS))}"


ENVIRONMENT_READ = re.compile(r"\bos\s*\.\s*(environ|getenv|environb|getenvb)\b|\bfrom\s+os\s+import\b[^\n]*\b(environ|getenv)\b")


def test_only_the_settings_read_the_environment():
    readers = set()
    for package in ("service", "index"):
        for path in (ROOT / package).rglob("*.py"):
            if ENVIRONMENT_READ.search(path.read_text()):
                readers.add(path.relative_to(ROOT).as_posix())
    assert readers <= READERS, f"read the environment themselves: {sorted(readers - READERS)}"
    assert "service/config.py" in readers  # the scan finds what it looks for
