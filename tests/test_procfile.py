"""Procfiles as foreman, honcho and the ``procfile`` package read them, plus what editors add."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.agent.procfile import ProcfileError, parse_procfile, read_procfile_at
from console.models import ProcessState
from tests.processes_helpers import next_state, process_service, spec_for, state_is


def commands(text: str) -> dict[str, str]:
    return {name: entry.command for name, entry in parse_procfile(text).items()}


def test_comments_blanks_and_spacing_are_skipped() -> None:
    text = "# a comment\n\nweb: python -m http.server $PORT\n  worker :  run --fast: yes  \n"
    assert commands(text) == {"web": "python -m http.server $PORT", "worker": "run --fast: yes"}


def test_a_byte_order_mark_crlf_and_tabs_are_accepted() -> None:
    text = "\ufeffweb:\tpython app.py\r\n\tworker\t:\trun\r\n"
    assert commands(text) == {"web": "python app.py", "worker": "run"}


def test_a_backslash_continues_the_command_on_the_next_line() -> None:
    text = "web: gunicorn app:app \\\n    --workers 3 \\\n    --bind :$PORT\nworker: celery\n"
    entries = parse_procfile(text)
    assert entries["web"].command == "gunicorn app:app --workers 3 --bind :$PORT"
    assert (entries["worker"].line, entries["worker"].command) == (4, "celery")


def test_a_duplicate_type_is_refused_naming_both_lines() -> None:
    with pytest.raises(ProcfileError) as caught:
        parse_procfile("web: one\n# two\nweb: two\n")
    assert caught.value.problems == ['line 3: duplicate process type "web" (already on line 1)']


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("web: ok\nno separator here\n", "line 2: not \"type: command\": 'no separator here'"),
        ("empty:\n", "line 1: not \"type: command\": 'empty:'"),
        (": no name\n", "line 1: not \"type: command\": ': no name'"),
        ("we b: x\n", "line 1: not \"type: command\": 'we b: x'"),
        ("web: env A=1 A=2 run\n", 'line 1: variable "A" set twice for "web"'),
    ],
)
def test_a_bad_line_is_refused_by_number(text: str, problem: str) -> None:
    with pytest.raises(ProcfileError) as caught:
        parse_procfile(text)
    assert caught.value.problems == [problem]


def test_rfc1_env_prefix_sets_variables_and_ports_follow_foreman() -> None:
    entries = parse_procfile("web: env A=1 B=x=y run it\nworker: work\nclock: tick\n")
    assert (entries["web"].command, entries["web"].env) == ("run it", {"A": "1", "B": "x=y"})
    assert [e.port for e in entries.values()] == [5000, 5100, 5200]


def test_reading_from_a_folder(tmp_path: Path) -> None:
    assert read_procfile_at(tmp_path) is None
    (tmp_path / "Procfile").write_bytes(b"web: ok\nbad: \xff\n")
    with pytest.raises(ProcfileError, match="line 2: not UTF-8"):
        read_procfile_at(tmp_path)


# Through the process service: real children, real states.


async def run_and_collect(tmp_path: Path, procfile: bytes, process_type: str = "web", **env: str):
    app = tmp_path / "app"
    app.mkdir()
    (app / "Procfile").write_bytes(procfile)
    async with process_service(tmp_path / "data") as (service, events):
        subscription = events.subscribe(("process",))
        status = service.create(spec_for(app, process_type=process_type, **env))
        seen = await next_state(
            subscription,
            status.slug,
            state_is(ProcessState.BACKOFF, ProcessState.INVALID_PROCFILE, ProcessState.FATAL),
        )
        process = service.get(status.slug)
        lines = [line for event in process.log.held() for line in getattr(event, "lines", [])]
        return seen[-1], lines


async def test_bom_crlf_continuation_and_port_reach_the_child(tmp_path: Path) -> None:
    procfile = b'\xef\xbb\xbfweb: printf "%s|%s|%s\\n" \\\r\n   "$PORT" "$A" "$B"\r\nother: x\r\n'
    status, lines = await run_and_collect(tmp_path, procfile, B="from-request")
    assert status.state is ProcessState.BACKOFF, status
    assert lines[0] == "5000||from-request"


async def test_an_env_in_the_request_wins_over_port_and_the_procfile(tmp_path: Path) -> None:
    procfile = b"worker: true\nweb: env A=procfile B=procfile sh -c 'echo $PORT $A $B'\n"
    _, lines = await run_and_collect(tmp_path, procfile, PORT="8080", B="request")
    assert lines[0] == "8080 procfile request"


async def test_an_invalid_procfile_is_a_failure_state_naming_the_line(tmp_path: Path) -> None:
    status, _ = await run_and_collect(tmp_path, b"web: one\nweb: two\n")
    assert status.state is ProcessState.INVALID_PROCFILE
    assert status.message == 'Procfile line 2: duplicate process type "web" (already on line 1)'
