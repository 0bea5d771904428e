"""``soundforge actors`` and ``soundforge queues`` against a real running server.

The server runs in the test's event loop, so each command runs in a thread (as the bench
tests do), and ``top``'s Ctrl-C in a child process. :func:`cli` is ``cli.main`` with the
admin commands registered; once ``cli.py`` registers them it can simply call ``main``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import msgspec
import pytest
import pytest_asyncio

from soundforge.admin_cli import register
from soundforge.cli import _Parser
from soundforge.client import AccessDenied, ClientConfigError, Connection, connection
from soundforge.errors import SoundForgeError
from soundforge.web import url
from tests.jobs.conftest import running_studio
from tests.postgres import PgCluster
from tests.web.conftest import WebServer, api_token, new_user

pytestmark = pytest.mark.asyncio(loop_scope="module")

REPO = Path(__file__).resolve().parent.parent


def cli(argv: list[str]) -> int:
    """``soundforge ARGV`` as ``cli.main`` runs it: one sentence and an exit code on error."""
    parser = _Parser(prog="soundforge")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    register(commands)
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except SoundForgeError as error:
        print(f"soundforge: {error}", file=sys.stderr)
        return error.exit_code


class Run(msgspec.Struct):
    code: int
    out: str
    err: str

    def json(self) -> Any:
        assert self.out.count("\n") == 1, self.out  # one document, on one line
        return json.loads(self.out)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(pg_cluster: PgCluster) -> AsyncIterator[WebServer]:
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(pg_cluster.admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        async with running_studio(pg_cluster.url(name), {"port": 0}, web=True) as studio:
            yield WebServer(studio, await url())
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def token(server: WebServer) -> str:
    """An administrator's API token."""
    return await api_token(await new_user(f"ops-{uuid.uuid4().hex[:8]}@example.com", admin=True))


@pytest.fixture(autouse=True)
def no_client_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Nothing from the developer's environment or ~/.config; wide lines for asserts."""
    for var in ("SOUNDFORGE_URL", "SOUNDFORGE_TOKEN", "SOUNDFORGE_HOST", "SOUNDFORGE_PORT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "250")


@pytest.fixture
def sf(server: WebServer, token: str, capsys: pytest.CaptureFixture[str]) -> Any:
    """``await sf("actors", "tree")``: the command with the admin's URL and token."""

    async def run(*argv: str, auth: bool = True) -> Run:
        flags = ["--url", server.url, "--token", token] if auth else []
        code = await asyncio.wait_for(asyncio.to_thread(cli, [*argv, *flags]), 60)
        out, err = capsys.readouterr()
        return Run(code, out, err)

    return run


def walk(nodes: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for node in nodes:
        yield node
        yield from walk(node.get("children", []))


async def named(sf: Any, target: str) -> dict[str, Any]:
    run = await sf("actors", "tree", "--json")
    assert run.code == 0, run.err
    (found,) = [n for n in walk(run.json()["tree"]) if target in (n.get("child_id"), n.get("name"))]
    return found


def one_sentence(run: Run) -> str:
    assert run.out == "" and run.err.count("\n") == 1, run
    assert run.err.startswith("soundforge: ") and "Traceback" not in run.err
    return run.err


# -- actors ------------------------------------------------------------------------------


async def test_tree_prints_one_line_per_process(sf: Any) -> None:
    run = await sf("actors", "tree")
    assert run.code == 0 and run.err == "", run.err
    lines = run.out.splitlines()
    root = next(line for line in lines if "Root supervisor" in line)
    assert re.search(r"  one_for_one  intensity \d+/\d+ in ", root), root
    assert any("Queues supervisor <0." in line for line in lines)
    producers = [line for line in lines if "producer gen_server <0." in line]
    assert len(producers) == 3 and any("queue download 0/3 running" in p for p in producers)
    assert all("available " in p and "scheduled " in p for p in producers)
    assert all("mailbox" in line and "msg/s" in line for line in lines if " <0." in line)
    snapshot = (await sf("actors", "--json", "tree")).json()  # a flag before the command too
    assert snapshot["type"] == "admin.actors" and snapshot["processes"] > 10
    assert any(n.get("child_id") == "Queues" for n in walk(snapshot["tree"]))


async def test_kill_then_show_the_crash_report(sf: Any) -> None:
    before = (await named(sf, "notifier"))["pid"]
    run = await sf("actors", "kill", "notifier")
    assert run.code == 0 and run.out == f"notifier ({before}) was killed; its supervisor reacts.\n"
    deadline = time.monotonic() + 5.0
    while (await named(sf, "notifier")).get("pid") in (None, before):
        assert time.monotonic() < deadline, "the notifier was not restarted"
        await asyncio.sleep(0.05)
    run = await sf("actors", "show", "notifier")
    assert run.code == 0, run.err
    assert "crash reports: " in run.out and "links" in run.out and "monitors" in run.out
    report = next(line for line in run.out.splitlines() if before in line and "killed" in line)
    assert re.fullmatch(
        rf"  \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d  notifier {re.escape(before)}  killed", report
    )
    detail = (await sf("actors", "show", "notifier", "--json")).json()
    assert detail["process"]["behaviour"] == "Notifier"
    assert detail["crash_reports"][-1]["reason"] == "killed"
    assert detail["crash_reports"][-1]["pid"] == before


async def test_show_a_supervisor_lists_its_summary_and_its_childrens_crashes(sf: Any) -> None:
    run = await sf("actors", "show", "Queues")
    assert run.code == 0, run.err
    assert "strategy" in run.out and "max_restarts" in run.out and "trap exit" in run.out


async def test_restarting_a_supervisor_restarts_its_subtree_in_order(sf: Any) -> None:
    queues = await named(sf, "Queues")
    before = queues["pid"]
    old = {n["pid"] for n in walk([queues]) if n.get("pid")}
    result = (await sf("actors", "restart", "Queues", "--json")).json()
    assert result["action"] == "restart" and result["before"] == before
    assert result["after"] not in (None, before)
    after = await named(sf, "Queues")
    assert after["pid"] == result["after"]
    # every process of the subtree is new, its children started in their specs' order
    assert not old & {n["pid"] for n in walk([after]) if n.get("pid")}
    children = [c for c in after["children"] if c.get("pid")]
    assert [c["child_id"] for c in children] == [c["child_id"] for c in queues["children"]]
    numbers = [int(c["pid"].split(".")[1]) for c in children]
    assert numbers == sorted(numbers)
    run = await sf("actors", "restart", "Queues")
    assert run.code == 0 and run.out.startswith("Queues was restarted as <0.")


async def test_a_stopped_child_stays_stopped_until_restarted(sf: Any) -> None:
    run = await sf("actors", "stop", "pruner")
    assert (
        run.code == 0 and run.out.startswith("pruner (<0.") and run.out.endswith(") was stopped.\n")
    )
    tree = (await sf("actors", "tree")).out
    assert any("pruner" in line and " - stopped" in line for line in tree.splitlines())
    result = (await sf("actors", "restart", "pruner", "--json")).json()
    assert result["before"] is None and result["after"].startswith("<0.")
    assert (await named(sf, "pruner"))["pid"] == result["after"]


async def test_top_once_prints_one_frame_sorted(sf: Any) -> None:
    run = await sf("actors", "top", "--once", "--interval", "0.2")
    assert run.code == 0, run.err
    header, *rest = run.out.splitlines()
    assert "processes" in header and "sorted by rate" in header and "Ctrl-C" not in header
    assert "PID" in rest[0] and "MSG/S" in rest[0]
    assert any(" Queues " in line for line in rest)
    run = await sf("actors", "top", "--once", "--sort", "mailbox")
    assert run.code == 0 and "sorted by mailbox" in run.out
    snapshot = (await sf("actors", "top", "--json", "--interval", "0.2")).json()
    assert any(n.get("rate") is not None for n in walk(snapshot["tree"]))


async def test_top_follows_until_ctrl_c(server: WebServer, token: str) -> None:
    program = "import sys; from tests.test_admin_cli import cli; sys.exit(cli(sys.argv[1:]))"
    child = await asyncio.create_subprocess_exec(
        *(sys.executable, "-u", "-c", program, "actors", "top", "--interval", "0.2"),
        *("--url", server.url, "--token", token),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=REPO,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert child.stdout is not None
    frames = 0
    async with asyncio.timeout(60):
        while frames < 2:  # a pipe gets one frame after another, like top -b
            line = await child.stdout.readline()
            assert line, (await child.communicate())[1].decode()
            frames += b"sorted by rate" in line
        child.send_signal(signal.SIGINT)
        _, err = await child.communicate()
    assert child.returncode == 0 and err == b"", err.decode()


# -- queues ------------------------------------------------------------------------------


async def test_queues_list_pause_and_resume(sf: Any) -> None:
    run = await sf("queues")
    assert run.code == 0, run.err
    assert "AVAILABLE" in run.out and "COMPLETED" in run.out
    rows = {line.split()[0]: line.split()[1:] for line in run.out.splitlines()[2:]}
    for queue in ("download", "processing", "analysis"):
        assert rows[queue][1] == "no", rows  # limit, paused, counts
    try:
        run = await sf("queues", "pause", "download")
        assert (run.code, run.out) == (
            0,
            "queue download is paused on every node; running jobs go on\n",
        )
        queues = {q["queue"]: q for q in (await sf("queues", "list", "--json")).json()}
        assert queues["download"]["paused"] is True and queues["analysis"]["paused"] is False
        assert "yes" in next(
            line for line in (await sf("queues")).out.splitlines() if line.startswith("download")
        )
    finally:
        run = await sf("queues", "resume", "download", "--json")
    assert run.code == 0 and run.json()["paused"] is False


# -- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "code", "words"),
    [
        (["actors", "show", "no such actor"], 66, "no process is called 'no such actor'"),
        (["actors", "restart", "producer"], 75, "names 3 processes"),
        (["actors", "kill", "Root"], 75, "runs the server answering this request"),
        (["queues", "pause", "no-such-queue"], 66, "there is no queue 'no-such-queue'"),
    ],
)
async def test_the_servers_refusals_are_one_sentence(
    sf: Any, argv: list[str], code: int, words: str
) -> None:
    run = await sf(*argv)
    assert run.code == code and words in one_sentence(run).lower()


async def test_a_plain_users_token_is_refused(server: WebServer, sf: Any) -> None:
    plain = await api_token(await new_user(f"plain-{uuid.uuid4().hex[:8]}@example.com"))
    run = await sf("actors", "tree", "--url", server.url, "--token", plain, auth=False)
    assert run.code == 77 and "only administrators can do this" in one_sentence(run).lower()
    run = await sf("queues", "--url", server.url, "--token", "sf_not_a_token", auth=False)
    assert run.code == 77 and "api token is unknown" in one_sentence(run).lower()


async def test_no_server_at_the_url(sf: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    target = f"http://127.0.0.1:{port}"
    run = await sf("actors", "top", "--once", "--url", target, "--token", "sf_x", auth=False)
    assert run.code == 69
    assert one_sentence(run) == (
        f"soundforge: no SoundForge server answers at {target}; start it with `soundforge serve`\n"
    )


async def test_without_a_token_it_says_how_to_get_one(server: WebServer, sf: Any) -> None:
    run = await sf("actors", "tree", "--url", server.url, auth=False)
    assert run.code == 77 and "soundforge tokens create" in one_sentence(run)


# -- where the URL and token come from -------------------------------------------------


async def test_url_and_token_from_the_environment(
    server: WebServer, token: str, sf: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOUNDFORGE_URL", server.url)
    monkeypatch.setenv("SOUNDFORGE_TOKEN", token)
    run = await sf("queues", auth=False)
    assert run.code == 0 and "download" in run.out
    monkeypatch.delenv("SOUNDFORGE_URL")  # then the server settings: this machine's host/port
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    monkeypatch.setenv("SOUNDFORGE_HOST", host)
    monkeypatch.setenv("SOUNDFORGE_PORT", port)
    run = await sf("queues", "--json", auth=False)
    assert run.code == 0 and "download" in {q["queue"] for q in run.json()}


async def test_url_and_token_from_the_config_file(
    server: WebServer, token: str, sf: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "soundforge" / "client.toml"
    config.parent.mkdir()
    config.write_text(f'url = "{server.url}/"\ntoken = "{token}"\n')
    monkeypatch.setenv("SOUNDFORGE_TOKEN", "sf_a_stale_token")  # the environment comes first
    assert (await sf("actors", "tree", auth=False)).code == 77
    monkeypatch.delenv("SOUNDFORGE_TOKEN")
    run = await sf("actors", "tree", auth=False)
    assert run.code == 0 and "Root" in run.out
    config.write_text('url = "nowhere\n')
    run = await sf("actors", "tree", auth=False)
    assert run.code == 78 and "is not valid TOML" in one_sentence(run)


async def test_each_setting_comes_from_the_first_place_that_has_it(tmp_path: Path) -> None:
    config = tmp_path / "soundforge" / "client.toml"
    config.parent.mkdir()
    config.write_text('url = "http://file:1"\ntoken = "sf_file"\n')
    env = {"XDG_CONFIG_HOME": str(tmp_path), "SOUNDFORGE_URL": "http://env:2"}
    assert connection(None, None, env) == Connection("http://env:2", "sf_file")
    assert connection("http://flag:3", "sf_flag", env) == Connection("http://flag:3", "sf_flag")
    config.write_text('token = "sf_file"\n')
    env = {"XDG_CONFIG_HOME": str(tmp_path), "SOUNDFORGE_HOST": "0.0.0.0", "SOUNDFORGE_PORT": "8"}
    assert connection(None, None, env) == Connection("http://127.0.0.1:8", "sf_file")
    with pytest.raises(ClientConfigError, match="not a server URL"):
        connection("localhost:4000", "sf_x", env)
    config.write_text('tokne = "sf_file"\n')
    with pytest.raises(ClientConfigError, match="unknown key 'tokne'"):
        connection(None, None, env)
    config.unlink()
    with pytest.raises(AccessDenied, match="no API token"):
        connection(None, None, env)
