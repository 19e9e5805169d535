"""The Jojo-compatible scripts API (PROTOCOLS.md §1) over real HTTP against a real agent."""

from __future__ import annotations

import itertools
import json
import threading
from pathlib import Path

import httpx
import pytest

from tests.conftest import AgentProcess, write_script


@pytest.fixture
def http(agent: AgentProcess) -> httpx.Client:
    with httpx.Client(base_url=agent.url, headers=agent.headers, timeout=30) as client:
        yield client


def error_of(response: httpx.Response) -> dict:
    return response.json()["error"]


def test_list_is_a_dict_keyed_by_name(http: httpx.Client) -> None:
    scripts = http.get("/scripts").json()["scripts"]
    assert {"echo", "env_dump", "fail", "deploy_web", "locked"} <= set(scripts)
    echo = scripts["echo"]
    assert echo["name"] == "echo"
    assert echo["filename"].endswith("/scripts/echo.sh")  # absolute, as pyjojo
    assert echo["params"] == [{"name": "text", "description": "Text to echo"}]
    assert echo["tags"] == ["basic", "demo"]
    assert (echo["http_method"], echo["output"], echo["lock"]) == ("post", "split", False)
    assert echo["filtered_params"] == []


def test_get_of_a_post_script_is_405_as_pyjojo(http: httpx.Client) -> None:
    response = http.get("/scripts/echo")
    assert response.status_code == 405
    assert response.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert error_of(response)["message"] == "Wrong HTTP method for script 'echo'. Use 'POST'"


def test_script_names_and_tag_filters(http: httpx.Client, scripts_dir: Path) -> None:
    write_script(scripts_dir, "tagged.sh", "tags: demo, misc", "echo")
    http.post("/reload")
    names = http.get("/script_names").json()["script_names"]
    assert set(names) == set(http.get("/scripts").json()["scripts"]) >= {"echo", "tagged"}
    for query, wanted in (
        ("tags=basic,demo", {"echo"}),
        ("tags=demo", {"echo", "tagged"}),
        ("any_tags=misc,basic", {"echo", "tagged"}),
        ("not_tags=demo", set(names) - {"echo", "tagged"}),
        ("tags=demo&not_tags=demo", {"echo", "tagged"}),  # as pyjojo: the first one counts
    ):
        assert set(http.get(f"/script_names?{query}").json()["script_names"]) == wanted, query
        assert set(http.get(f"/scripts/?{query}").json()["scripts"]) == wanted, query


def test_trailing_slashes_are_served_without_a_redirect(http: httpx.Client) -> None:
    for method, path in (
        ("GET", "/scripts/"),
        ("GET", "/script_names/"),
        ("POST", "/scripts/echo/"),
        ("OPTIONS", "/scripts/echo/"),
        ("POST", "/reload/"),
    ):
        assert http.request(method, path).status_code == 200, path


def test_return_values_come_from_marked_stdout_lines(http: httpx.Client, scripts_dir: Path) -> None:
    write_script(
        scripts_dir,
        "answers.sh",
        "description: returns values",
        "echo 'jojo_return_value answer = 42'; echo 'jojo_return_value url=http://x/?a=b'; "
        "echo 'jojo_return_value broken'; echo plain",
    )
    http.post("/reload")
    answer = http.post("/scripts/answers").json()
    assert answer["return_values"] == {"answer": "42", "url": "http://x/?a=b"}
    assert answer["stdout"][-1] == "plain"


def test_a_body_without_content_type_is_json(http: httpx.Client) -> None:
    response = http.post("/scripts/echo", content=b'{"text": "no header"}')
    assert response.json()["stdout"] == ["no header"]
    refused = http.post("/scripts/echo", content=b"{}", headers={"Content-Type": "text/plain"})
    assert error_of(refused)["message"].startswith("This application only support json")


def test_options_gives_details_and_get_runs_a_get_script(http: httpx.Client) -> None:
    assert http.options("/scripts/getter").json()["script"]["http_method"] == "get"
    assert http.get("/scripts/getter").json() == {
        "retcode": 0,
        "stdout": ["got"],
        "stderr": [],
        "return_values": {},
    }


def test_run_with_params_gives_retcode_stdout_stderr(http: httpx.Client) -> None:
    response = http.post("/scripts/echo", json={"text": "hi"})
    assert response.status_code == 200
    assert response.json() == {"retcode": 0, "stdout": ["hi"], "stderr": [], "return_values": {}}


def test_params_become_upper_case_env_and_undeclared_ones_are_dropped(http: httpx.Client) -> None:
    result = http.post(
        "/scripts/env_dump", json={"text": "hello world", "undeclared": "nope", "TEXT2": "x"}
    ).json()
    env = dict(line.split("=", 1) for line in result["stdout"] if "=" in line)
    assert env["TEXT"] == "hello world"
    assert env["SECRET"] == ""  # declared but missing: an empty string
    assert "UNDECLARED" not in env
    assert "TEXT2" not in env


def test_hostile_values_reach_the_script_verbatim_and_run_nothing(
    http: httpx.Client, tmp_path: Path
) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    value = f'"; rm -rf {victim} #'
    for hostile in (value, f"$(touch {victim}/pwned)", f"`touch {victim}/pwned2`"):
        result = http.post("/scripts/echo", json={"text": hostile}).json()
        assert result["stdout"] == [hostile]
    assert victim.is_dir()
    assert list(victim.iterdir()) == []


def test_output_is_split_on_newlines_not_whitespace(http: httpx.Client) -> None:
    result = http.post("/scripts/echo", json={"text": "two words\tand a tab"}).json()
    assert result["stdout"] == ["two words\tand a tab"]


def test_non_zero_retcode_is_still_200(http: httpx.Client) -> None:
    response = http.post("/scripts/fail")
    assert response.status_code == 200
    assert response.json() == {
        "retcode": 3,
        "stdout": ["out"],
        "stderr": ["bad thing"],
        "return_values": {},
    }


def test_combined_output_has_no_stderr_key(http: httpx.Client) -> None:
    result = http.post("/scripts/combined").json()
    assert result == {"retcode": 0, "stdout": ["one", "two", "three"], "return_values": {}}


def test_unknown_script_is_404_with_the_error_shape(http: httpx.Client) -> None:
    for method in ("GET", "OPTIONS", "POST"):
        response = http.request(method, "/scripts/nope")
        assert response.status_code == 404
        assert error_of(response) == {
            "code": 404,
            "type": "Not Found",
            "message": "Script with name 'nope' not found",
        }


def test_wrong_method_is_405(http: httpx.Client) -> None:
    for method, path in (("PUT", "/scripts/echo"), ("POST", "/scripts/putter")):
        response = http.request(method, path, json={})
        assert response.status_code == 405
        assert error_of(response)["code"] == 405
    assert http.put("/scripts/putter").json()["stdout"] == ["put"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"text": "x"}', "text/plain"),
        (b"{not json", "application/json"),
        (b'["a", "list"]', "application/json"),
        (b'"a string"', "application/json"),
    ],
)
def test_bad_bodies_are_400(http: httpx.Client, body: bytes, content_type: str) -> None:
    response = http.post("/scripts/echo", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 400
    assert error_of(response)["type"] == "Bad Request"


def test_an_empty_body_runs_with_empty_params(http: httpx.Client) -> None:
    assert http.post("/scripts/echo").json() == {
        "retcode": 0,
        "stdout": [""],
        "stderr": [],
        "return_values": {},
    }


def test_a_huge_body_is_refused_and_the_agent_keeps_serving(http: httpx.Client) -> None:
    body = json.dumps({"text": "x" * (2 << 20)})
    response = http.post(
        "/scripts/echo", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert http.post("/scripts/echo", json={"text": "still here"}).json()["stdout"] == [
        "still here"
    ]


def test_reload_picks_up_new_and_removed_scripts(http: httpx.Client, scripts_dir: Path) -> None:
    write_script(scripts_dir, "fresh.sh", "description: new", "echo fresh")
    (scripts_dir / "fail.sh").unlink()
    assert "fresh" not in http.get("/scripts").json()["scripts"]
    assert http.post("/reload").json() == {"status": "ok"}
    scripts = http.get("/scripts").json()["scripts"]
    assert "fresh" in scripts
    assert "fail" not in scripts


def test_locked_script_runs_never_overlap(
    http: httpx.Client, agent: AgentProcess, tmp_path: Path
) -> None:
    out = tmp_path / "lock-times"
    results: list[dict] = []

    def run(label: str) -> None:
        with httpx.Client(base_url=agent.url, headers=agent.headers, timeout=30) as client:
            results.append(
                client.post("/scripts/locked", json={"label": label, "out": str(out)}).json()
            )

    threads = [threading.Thread(target=run, args=(f"run{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r["retcode"] for r in results] == [0, 0, 0]
    intervals = _intervals(out.read_text())
    assert len(intervals) == 3
    ordered = sorted(intervals.values())
    for (_, end), (start, _) in itertools.pairwise(ordered):
        assert end <= start, f"runs overlapped: {ordered}"


def _intervals(text: str) -> dict[str, tuple[float, float]]:
    marks: dict[str, dict[str, float]] = {}
    for line in text.splitlines():
        label, what, stamp = line.split()
        marks.setdefault(label, {})[what] = float(stamp)
    return {label: (m["start"], m["end"]) for label, m in marks.items()}


def test_history_records_runs_with_filtered_params_masked(http: httpx.Client) -> None:
    http.post("/scripts/env_dump", json={"text": "visible", "secret": "hunter2"})
    runs = http.get("/runs", params={"script": "env_dump"}).json()["runs"]
    assert runs[0]["params"] == {"text": "visible", "secret": "FILTERED"}
    assert runs[0]["retcode"] == 0
    record = http.get(f"/runs/{runs[0]['id']}").json()["run"]
    assert ["stdout", "SECRET=hunter2"] in record["output"]  # the script saw it; the log did not
    assert "hunter2" not in json.dumps(record["params"])
    assert http.get("/runs/999999").status_code == 404
    assert http.get("/runs", params={"limit": "x"}).status_code == 400


def test_a_script_that_leaves_a_child_holding_its_output_still_finishes(
    agent: AgentProcess, scripts_dir: Path
) -> None:
    # Python 3.11's Process.wait() waits for the pipes too; the run must end at the exit.
    write_script(
        scripts_dir, "leaver.sh", "description: leaves a sleeper", "sleep 41.5 & echo left"
    )
    with httpx.Client(base_url=agent.url, headers=agent.headers, timeout=30) as client:
        client.post("/reload")
        result = client.post("/scripts/leaver").json()
    assert result == {"retcode": 0, "stdout": ["left"], "stderr": [], "return_values": {}}
    from tests.test_spawned_agent import alive

    sleepers = [
        int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and b"41.5" in _cmdline(p)
    ]
    assert not [pid for pid in sleepers if alive(pid)], "the script's leftover child survived"


def _cmdline(proc_dir: Path) -> bytes:
    try:
        return (proc_dir / "cmdline").read_bytes()
    except OSError:
        return b""
