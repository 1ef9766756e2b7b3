"""The commands the docs tell a user to run, run: every shell and Python block of README.md,
docs/*.md and examples/README.md is either executed here against the session's real broker (and,
when its marker asks, a real `loan-scorer run` with its HTTP API), or marked illustrative with a
reason. The grammar of the markers is in tests/docs/blocks.py; how to mark a new block is in
README.md ("Docs that run")."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from tests.docs.blocks import (
    REPO,
    Block,
    Marker,
    MarkerError,
    documented_blocks,
    documented_files,
    parse_blocks,
    parse_marker,
    unlabelled_fences,
)
from tests.integration.scorer_harness import ScorerTopics
from tests.integration.scorer_process import ScorerProcess

BLOCKS: Final = documented_blocks()
RUNNABLE: Final = [block for block in BLOCKS if block.marker is not None and block.marker.runs]
# The defaults a user's `loan-scorer` reads, so the documented commands run as written.
TOPICS: Final = ScorerTopics("loan-applications", "loan-scores", "loan-applications.dlq")
GROUP: Final = "loan-scorer"
BLOCK_BOUND_S: Final = 60.0
CREATE_KEY: Final = ("api-key", "create", "--name", "docs", "--scope", "score")

# What stands in for the reader's machine. (text in the docs, its replacement, the fixture the
# replacement needs or "" for none). Replacements are formatted with the session's addresses.
STAND_INS: Final = (
    ("127.0.0.1:9092", "{bootstrap}", ""),  # the reader's broker: the session's
    ("make kafka-up", ":", ""),  # "a broker ..., if you have none": the session's is up
    ("localhost:8000", "127.0.0.1:{http_port}", "scorer"),
    ("http://loan-scorer.credit-risk:8000", "http://127.0.0.1:{http_port}", "scorer"),
    # `loan-scorer run &`: the scorer fixture runs the same CLI (`python -m consumer run`, default
    # topics and group, tests/integration/scorer_process.py's settings), started once and waited
    # for on /readyz rather than raced by the next line.
    (".venv/bin/loan-scorer run &", ":", "scorer"),
)


def _block_id(block: Block) -> str:
    return block.where


def with_stand_ins(block: Block, addresses: dict[str, str]) -> str:
    code = block.code
    assert block.marker is not None
    for text, replacement, needs in STAND_INS:
        if not needs or needs in block.marker.fixtures:
            code = code.replace(text, replacement.format(**addresses))
    return code


# -- the markers ---------------------------------------------------------------------------------


def test_every_block_is_run_or_says_why_not() -> None:
    unmarked = [block.where for block in BLOCKS if block.marker is None]
    assert not unmarked, (
        "blocks without <!-- docs-run: ... --> or <!-- illustrative: reason --> (see "
        f"tests/docs/blocks.py): {unmarked}"
    )


def test_every_fence_names_its_language() -> None:
    found = {
        str(path.relative_to(REPO)): lines
        for path in documented_files()
        if (lines := unlabelled_fences(path.read_text(encoding="utf-8")))
    }
    assert not found, f"fences without a language (a command could hide there): {found}"


def test_the_docs_run_more_than_a_token() -> None:
    """A marker flipped to illustrative is a decision to see: the count only moves on purpose."""
    assert len(RUNNABLE) >= 6, [block.where for block in RUNNABLE]


def test_markers_read_as_documented(tmp_path: Path) -> None:
    assert parse_marker("text") is None
    assert parse_marker("<!-- illustrative: needs a cluster -->") == Marker(
        runs=False, reason="needs a cluster"
    )
    assert parse_marker('<!-- docs-run: scorer exit=1 expect="a b" expect=c -->') == Marker(
        runs=True, fixtures=frozenset({"scorer"}), exit_status=1, expect=("a b", "c")
    )
    assert parse_marker("<!-- docs-run -->") == Marker(runs=True)
    with pytest.raises(MarkerError, match="reason"):
        parse_marker("<!-- illustrative: -->")
    with pytest.raises(MarkerError, match="unknown"):
        parse_marker("<!-- docs-run: broker -->")

    text = (
        "intro\n<!-- docs-run -->\n\n```sh\necho hi\n```\n\n```yaml\na: 1\n```\n"
        "- item\n  <!-- illustrative: why -->\n  ```bash\n  make x\n  ```\n"
        "```python\nprint()\n```\n"
    )
    blocks = parse_blocks(tmp_path / "page.md", text)
    assert [(b.line, b.language, b.code) for b in blocks] == [
        (4, "sh", "echo hi"),
        (13, "bash", "make x"),
        (16, "python", "print()"),
    ]
    assert [b.marker for b in blocks] == [
        Marker(runs=True),
        Marker(runs=False, reason="why"),
        None,
    ]
    assert unlabelled_fences("```\nx\n```\n```sh\ny\n```\n") == [1]


def test_every_stand_in_replaces_text_a_run_block_holds() -> None:
    """A stand-in no block needs any more is a rewrite nobody reviews: it goes."""
    for text, _replacement, needs in STAND_INS:
        holders = [b for b in RUNNABLE if text in b.code]
        assert holders, f"no run block holds {text!r}"
        assert all(b.marker is not None and needs in b.marker.fixtures for b in holders if needs), (
            f"{text!r} needs {needs!r}: {[b.where for b in holders]}"
        )


def test_a_block_stops_at_its_first_failure_and_leaves_nothing_running(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", "")}
    assert run_block("echo one\nfalse\necho two", "sh", tmp_path, env) == (1, "one\n")
    assert run_block("false | cat\necho two", "sh", tmp_path, env) == (1, "")
    assert run_block("import sys; print('py'); sys.exit(3)", "python", tmp_path, env) == (3, "py\n")
    status, output = run_block("sleep 300 &\necho $! > pid", "sh", tmp_path, env)
    assert (status, output) == (0, "")
    pid = int((tmp_path / "pid").read_text())
    deadline = time.monotonic() + 5
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # the SIGTERM is sent; the zombie is reaped by init
    stat = Path(f"/proc/{pid}/stat")
    assert not stat.exists() or stat.read_text().split()[2] == "Z", "the background job survived"


# -- running them --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Path:
    """A reader's checkout as the docs assume it: `.venv`, `examples/`, a model in build/model
    (`make model`), the demo's API key file, and the files the pages name as the reader's own."""
    root = tmp_path_factory.mktemp("docs-run")
    (root / ".venv").symlink_to(sys.prefix)
    (root / "examples").symlink_to(REPO / "examples")
    (root / "build").mkdir()
    (root / "build" / "model").symlink_to(model_dir)
    (root / "build" / "demo-api-keys").touch()
    shutil.copy(REPO / "examples" / "application.v1.invalid.json", root / "suspect-event.json")
    # README's re-scoring: a challenger in models/ (the model stands in) and a policy file.
    (root / "models").mkdir()
    (root / "models" / "challenger").symlink_to(model_dir)
    shutil.copy(REPO / "scoring" / "policy" / "policy-v2.yaml", root / "policy-v2.yaml")
    return root


@pytest.fixture(scope="module")
def scorer(
    kafka_bootstrap: str, kafka_admin: AdminClient, model_dir: Path, workdir: Path
) -> Iterator[ScorerProcess]:
    existing = set(kafka_admin.list_topics(timeout=10).topics)
    missing = [
        NewTopic(name, num_partitions=1, replication_factor=1)
        for name in (TOPICS.input, TOPICS.output, TOPICS.dlq)
        if name not in existing
    ]
    for future in kafka_admin.create_topics(missing).values() if missing else ():
        future.result(30)
    process = ScorerProcess(
        kafka_bootstrap,
        TOPICS,
        GROUP,
        model_dir,
        workdir / "scorer.log",
        LOAN_SCORER_API_KEYS_FILE=str(workdir / "build" / "demo-api-keys"),
    )
    process.start()
    try:
        process.wait_ready()
        yield process
    finally:
        process.kill()


@pytest.fixture(scope="module")
def api_key(workdir: Path) -> str:
    """$API_KEY of the runbook's commands ("any key"): one made as README says, with the CLI."""
    created = subprocess.run(  # our own CLI, fixed arguments
        [sys.executable, "-m", "consumer", *CREATE_KEY],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    key, line = created.stdout.splitlines()[:2]
    with (workdir / "build" / "demo-api-keys").open("a", encoding="utf-8") as keys:
        keys.write(line + "\n")
    return key


def run_block(code: str, language: str, cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """The block as a reader pastes it, in its own process group: what it leaves running in the
    background (`cmd &`) is stopped with it."""
    if language in {"python", "py"}:
        argv = [sys.executable, "-c", code]
    else:
        argv = ["bash", "-e", "-o", "pipefail", "-c", code]
    output = cwd / "block-output.txt"
    with output.open("wb") as sink:
        process = subprocess.Popen(  # the documented commands, as the docs write them
            argv, cwd=cwd, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            status = process.wait(BLOCK_BOUND_S)
        except subprocess.TimeoutExpired:
            status = -1
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            time.sleep(0.1)
    return status, output.read_text(errors="replace")


@pytest.mark.integration
@pytest.mark.parametrize("block", RUNNABLE, ids=_block_id)
def test_documented_block_runs(
    block: Block, request: pytest.FixtureRequest, kafka_bootstrap: str, workdir: Path
) -> None:
    assert block.marker is not None
    addresses = {"bootstrap": kafka_bootstrap}
    extra_env: dict[str, str] = {}
    if "scorer" in block.marker.fixtures:
        scorer: ScorerProcess = request.getfixturevalue("scorer")
        addresses["http_port"] = str(scorer.port)
        extra_env["API_KEY"] = request.getfixturevalue("api_key")
    bin_dir = str(Path(sys.executable).parent)
    env = {
        # Not pytest-cov's subprocess variables either: a block runs in the scratch checkout,
        # where coverage finds no pyproject.toml, measures without branches and its data file
        # then cannot be combined with the session's (CI's INTERNALERROR).
        **{k: v for k, v in os.environ.items() if not k.startswith(("LOAN_SCORER_", "COV_CORE_"))},
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "LOAN_SCORER_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "NO_COLOR": "1",
        **extra_env,
    }
    status, output = run_block(with_stand_ins(block, addresses), block.language, workdir, env)
    assert status == block.marker.exit_status, f"{block.where} exited {status}:\n{output[-4000:]}"
    print(output)  # shown with -rA or on failure: what the reader would see
    for expected in block.marker.expect:
        assert expected in output, f"{block.where}: {expected!r} not in:\n{output[-4000:]}"
