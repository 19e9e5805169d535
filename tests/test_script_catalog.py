"""The catalog: script names, header parsing, and which files are left out."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from console.agent.script_catalog import (
    InvalidHeader,
    header_lines,
    parse_header,
    scan,
    script_name,
)
from console.models import HttpMethod, OutputMode, Script, ScriptParam
from tests.conftest import write_script


@pytest.mark.parametrize(
    ("relative", "name"),
    [
        ("echo.sh", "echo"),
        ("deploy/web.sh", "deploy_web"),
        ("backup-db.v2.py", "backup_db_v2"),
        ("no_extension", "no_extension"),
        ("a  b/c--d.sh", "a_b_c_d"),
    ],
)
def test_script_name_replaces_runs_of_non_word_characters(relative: str, name: str) -> None:
    assert script_name(Path(relative)) == name


def test_every_header_key_is_read() -> None:
    text = """#!/bin/sh
# -- jojo --
# description: restart the web tier
# param: service - which service
# param: force
# filtered_params: token, password
# tags: web , ops,
# http_method: PUT
# output: combined
# lock: True
# timeout: 30
# confirm: yes
# -- jojo --
echo hi
"""
    script = parse_header("restart", "restart.sh", header_lines(text) or [])
    assert script == Script(
        name="restart",
        filename="restart.sh",
        description="restart the web tier",
        params=(ScriptParam("service", "which service"), ScriptParam("force")),
        filtered_params=("token", "password"),
        tags=("web", "ops"),
        http_method=HttpMethod.PUT,
        output=OutputMode.COMBINED,
        lock=True,
        timeout=30.0,
        confirm=True,
    )


def test_defaults_without_a_header() -> None:
    script = parse_header("plain", "plain.sh", header_lines("#!/bin/sh\necho hi\n") or [])
    assert script.http_method is HttpMethod.POST
    assert script.output is OutputMode.SPLIT
    assert (script.lock, script.params, script.description) == (False, (), None)


def test_a_block_that_never_closes_is_invalid() -> None:
    with pytest.raises(InvalidHeader):
        header_lines("#!/bin/sh\n# -- jojo --\n# description: x\necho\n")


@pytest.mark.parametrize(
    "line",
    ["http_method: patch", "output: sideways", "lock: maybe", "timeout: soon"],
)
def test_bad_values_make_the_header_invalid(line: str) -> None:
    with pytest.raises(InvalidHeader):
        parse_header("x", "x.sh", [line])


def test_unknown_keys_are_ignored_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    script = parse_header("x", "x.sh", ["description: d", "colour: blue"])
    assert script.description == "d"
    assert "colour" in caplog.text


def test_scan_skips_invalid_non_executable_and_hidden_files(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_script(tmp_path, "good.sh", "description: fine", "echo ok")
    write_script(tmp_path, "plain.txt", "description: not executable", "echo", mode=0o644)
    write_script(tmp_path, ".hidden/secret.sh", "description: hidden", "echo")
    (tmp_path / "broken.sh").write_text("#!/bin/sh\n# -- jojo --\n# param: x\necho\n")
    (tmp_path / "broken.sh").chmod(0o755)
    write_script(tmp_path, "good.py", "description: same name as good.sh", "echo")

    catalog = scan(tmp_path)

    assert sorted(catalog) == ["good"]
    # Sorted order: good.py before good.sh. Absolute, as pyjojo.
    assert catalog["good"].script.filename == str(tmp_path / "good.py")
    assert "not executable" in caplog.text
    assert "never closes" in caplog.text
    assert "is taken by" in caplog.text


def test_a_binary_executable_is_a_script_with_defaults(tmp_path: Path) -> None:
    binary = tmp_path / "tool"
    binary.write_bytes(b"\x7fELF\x00\xff\xfe" * 1000)
    binary.chmod(0o755)
    assert scan(tmp_path)["tool"].script.params == ()


@given(st.text(max_size=200))
def test_parsing_any_header_text_never_crashes(text: str) -> None:
    try:
        lines = header_lines(text)
        parse_header("x", "x.sh", lines or [])
    except InvalidHeader:
        pass


def test_script_wire_shape_round_trips() -> None:
    script = parse_header("x", "x.sh", ["param: a - the a", "tags: t", "lock: true"])
    assert Script.from_wire(script.to_wire()) == script
