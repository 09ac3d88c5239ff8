"""Files the user points the app at, and files the app writes (issue 11, items 3, 5, 10, 14
and 15), tried from outside as a careless user or an attacker would:

- a config file or database that is a device, a FIFO or a directory is refused at once
  (no hang, no 7 GB read), with one line and exit 2; a config file over 1 MiB too;
- a path with a missing directory is refused, and no directory is created for it;
- writes never follow a symlink planted beside or at the target;
- directories the app creates are 0700, even the parents it creates, under ``umask 000``;
  a config file holding an API key that others can read gets one warning with the fix;
- the full-screen app refuses to start without a terminal, and points to ``ask``.
"""

from __future__ import annotations

import os
import pty
import select
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant_core import paths
from tests.support.openai_replay import ReplayServer, chat_stream

from .processes import CLI, REPO, cli_env, run_cli

HANG_LIMIT_S = 20  # far above the ~1 s these commands take: only a hang reaches it


def one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("investor-assistant: error:"), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert "Traceback" not in result.stderr


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    yield path


# -- not a regular file (item 10) ------------------------------------------------------------
def special_files(tmp_path: Path, fifo: Path) -> dict[str, tuple[Path, str]]:
    link = tmp_path / "link-to-zero"
    link.symlink_to("/dev/zero")
    return {
        "/dev/zero": (Path("/dev/zero"), "character device"),
        "/dev/urandom": (Path("/dev/urandom"), "character device"),
        "fifo": (fifo, "FIFO"),
        "directory": (tmp_path, "directory"),
        "symlink to /dev/zero": (link, "character device"),
    }


@pytest.mark.parametrize(
    "kind", ["/dev/zero", "/dev/urandom", "fifo", "directory", "symlink to /dev/zero"]
)
@pytest.mark.parametrize("command", [["config", "show"], ["threads", "list"], ["ask", "hi"], []])
def test_a_config_file_that_is_not_a_regular_file_is_refused_at_once(
    home: Path, tmp_path: Path, fifo: Path, kind: str, command: list[str]
) -> None:
    path, what = special_files(tmp_path, fifo)[kind]
    # [] is the full-screen app: with a named driver it gets past the terminal check.
    env = cli_env(home, TEXTUAL_DRIVER="textual.drivers.headless_driver:HeadlessDriver")
    started = time.monotonic()
    result = run_cli(["--config", str(path), *command], env, timeout=HANG_LIMIT_S)
    one_line_error(result, str(path), what, "not a regular file")
    assert time.monotonic() - started < HANG_LIMIT_S / 2


def test_a_config_file_over_one_mebibyte_is_refused(home: Path, tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    big.write_text("# padding\n" * 110_000)  # 1.1 MB of valid TOML
    result = run_cli(["--config", str(big), "config", "show"], cli_env(home))
    one_line_error(result, str(big), "larger than 1 MiB")
    ok = tmp_path / "ok.toml"
    ok.write_text("# padding\n" * 100_000 + 'approval = "ask"\n')  # just under
    shown = run_cli(["--config", str(ok), "config", "show"], cli_env(home))
    assert shown.returncode == 0 and "ask" in shown.stdout, shown


@pytest.mark.parametrize("kind", ["/dev/zero", "fifo", "directory"])
@pytest.mark.parametrize("command", [["threads", "list"], ["ask", "hi"]])
def test_a_database_that_is_not_a_regular_file_is_refused_at_once(
    home: Path, tmp_path: Path, fifo: Path, kind: str, command: list[str]
) -> None:
    path, what = special_files(tmp_path, fifo)[kind]
    result = run_cli(["--db", str(path), *command], cli_env(home), timeout=HANG_LIMIT_S)
    one_line_error(result, str(path), what, "--db FILE")


# -- missing directories (item 14) -------------------------------------------------------------
@pytest.mark.parametrize("where", ["flag", "env", "file"])
def test_a_database_in_a_missing_directory_is_refused_and_nothing_is_created(
    home: Path, tmp_path: Path, where: str
) -> None:
    db = tmp_path / "typo" / "dir" / "x.db"
    env = cli_env(home)
    args = ["threads", "list"]
    if where == "flag":
        args = ["--db", str(db), *args]
    elif where == "env":
        env["INVESTOR_ASSISTANT_DB"] = str(db)
    else:
        cfg = tmp_path / "config.toml"
        cfg.write_text(f"db = {str(db)!r}\n")
        args = ["--config", str(cfg), *args]
    result = run_cli(args, env)
    one_line_error(result, str(db), f"directory {db.parent} does not exist", "create it first")
    assert not (tmp_path / "typo").exists()
    asked = run_cli(["--db", str(db), "ask", "Should I buy Apple?"], cli_env(home))
    one_line_error(asked, str(db))
    assert not (tmp_path / "typo").exists()


def test_an_export_to_a_missing_directory_is_refused_and_nothing_is_created(
    home: Path, tmp_path: Path
) -> None:
    env = cli_env(home, db=tmp_path / "t.db")
    assert run_cli(["ask", "Should I buy Apple?"], env).returncode == 0
    thread = run_cli(["threads", "list", "--json"], env).stdout.split('"id": "')[1].split('"')[0]
    target = tmp_path / "typo" / "dir" / "apple.md"
    result = run_cli(["threads", "export", thread, "-o", str(target)], env)
    one_line_error(result, f"cannot write {target}", f"directory {target.parent} does not exist")
    assert not (tmp_path / "typo").exists()
    fine = run_cli(["threads", "export", thread, "-o", str(tmp_path / "apple.md")], env)
    assert fine.returncode == 0, fine


def test_config_set_into_a_missing_directory_is_refused_but_the_default_one_is_made(
    home: Path, tmp_path: Path
) -> None:
    cfg = tmp_path / "typo" / "config.toml"
    result = run_cli(["--config", str(cfg), "config", "set", "approval", "ask"], cli_env(home))
    one_line_error(result, f"directory {cfg.parent} does not exist")
    assert not cfg.parent.exists()
    made = run_cli(["config", "set", "approval", "ask"], cli_env(home))
    assert made.returncode == 0, made
    assert (home / "config" / "investor-assistant" / "config.toml").is_file()


# -- planted symlinks (item 3) --------------------------------------------------------------------
@pytest.fixture
def victim(tmp_path: Path) -> Path:
    path = tmp_path / "victim.txt"
    path.write_text("precious\n")
    os.chmod(path, 0o644)
    return path


def untouched(victim: Path) -> None:
    assert victim.read_text() == "precious\n"
    assert stat.S_IMODE(victim.stat().st_mode) == 0o644


def test_a_symlink_planted_at_the_old_temporary_name_is_not_followed(
    tmp_path: Path, victim: Path
) -> None:
    target = tmp_path / "export.md"
    (tmp_path / f".{target.name}.{os.getpid()}.tmp").symlink_to(victim)
    paths.write_private_text(target, "new text\n")
    untouched(victim)
    assert target.read_text() == "new text\n" and stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_symlink_planted_at_the_next_temporary_name_is_not_followed(
    tmp_path: Path, victim: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever name the temporary gets, it is created exclusively (O_EXCL: a symlink there,
    even a dangling one, makes it pick another name instead of opening it)."""
    target = tmp_path / "config.toml"
    names = iter(["planted", "dangling", "fresh"])
    monkeypatch.setattr(tempfile, "_get_candidate_names", lambda: names)
    (tmp_path / f".{target.name}.plantedtmp").symlink_to(victim)
    (tmp_path / ".config.toml.planted.tmp").symlink_to(victim)
    (tmp_path / ".config.toml.dangling.tmp").symlink_to(tmp_path / "nowhere")
    paths.write_private_text(target, "x = 1\n")
    untouched(victim)
    assert not (tmp_path / "nowhere").exists()
    assert target.read_text() == "x = 1\n" and not target.is_symlink()
    leftovers = {p.name for p in tmp_path.iterdir()} - {"victim.txt", "config.toml"}
    assert leftovers == {
        ".config.toml.plantedtmp",
        ".config.toml.planted.tmp",
        ".config.toml.dangling.tmp",
    }


def test_a_symlink_at_the_target_is_replaced_not_written_through(
    home: Path, tmp_path: Path, victim: Path
) -> None:
    """Documented choice: the link is replaced by a private regular file; what it pointed
    to is left alone (an export or `config set` never overwrites or chmods another file)."""
    env = cli_env(home, db=tmp_path / "t.db")
    assert run_cli(["ask", "Should I buy Apple?"], env).returncode == 0
    thread = run_cli(["threads", "list", "--json"], env).stdout.split('"id": "')[1].split('"')[0]
    out = tmp_path / "apple.md"
    out.symlink_to(victim)
    assert run_cli(["threads", "export", thread, "-o", str(out)], env).returncode == 0
    untouched(victim)
    assert not out.is_symlink() and "Apple" in out.read_text()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600

    cfg = tmp_path / "config.toml"
    cfg.symlink_to(victim)
    result = run_cli(["--config", str(cfg), "config", "set", "approval", "ask"], env)
    # The victim is no TOML: the edit is refused before anything is written.
    one_line_error(result, "malformed TOML")
    untouched(victim)
    victim.write_text('approval = "auto"\n')
    os.chmod(victim, 0o644)
    assert run_cli(["--config", str(cfg), "config", "set", "approval", "ask"], env).returncode == 0
    assert (
        victim.read_text() == 'approval = "auto"\n' and stat.S_IMODE(victim.stat().st_mode) == 0o644
    )
    assert not cfg.is_symlink() and cfg.read_text() == 'approval = "ask"\n'


def test_a_write_never_replaces_a_directory_or_a_fifo(tmp_path: Path, fifo: Path) -> None:
    for target, what in ((tmp_path, "directory"), (fifo, "FIFO")):
        with pytest.raises(OSError) as error:
            paths.write_private_text(target, "x")
        assert what in str(error.value.strerror)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


# -- permissions (item 5) ---------------------------------------------------------------------------
def test_every_directory_the_app_creates_is_private_under_umask_000(home: Path) -> None:
    """Parents too: with XDG dirs that do not exist yet (a fresh account), the app creates
    them — ~/.config, ~/.local/share, ~/.cache — and each must be 0700, not 0777."""
    env = cli_env(home)
    with ReplayServer() as server:
        server.enqueue(chat_stream("Fine."))
        base = ["--provider", "compatible", "--base-url", server.base_url, "--model", "m"]
        asked = subprocess.run(
            [str(CLI), *base, "ask", "Should I buy Apple?"],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            preexec_fn=lambda: os.umask(0),
        )
    assert asked.returncode == 0, asked.stderr
    subprocess.run(
        [str(CLI), "config", "set", "approval", "ask"],
        env=env,
        check=True,
        capture_output=True,
        preexec_fn=lambda: os.umask(0),
    )
    directories = [home, *(p for p in home.rglob("*") if p.is_dir())]
    assert len(directories) >= 7  # home, data, config, cache and the app's dir in each
    for directory in directories:
        mode = stat.S_IMODE(directory.stat().st_mode)
        assert mode == 0o700, f"{directory} is {mode:o}"


def test_private_dir_makes_each_missing_parent_private(tmp_path: Path) -> None:
    existing = tmp_path / "existing"
    existing.mkdir(mode=0o755)
    os.chmod(existing, 0o755)
    old = os.umask(0)
    try:
        paths.private_dir(existing / "a" / "b" / "c")
    finally:
        os.umask(old)
    for directory in (existing / "a", existing / "a" / "b", existing / "a" / "b" / "c"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    assert stat.S_IMODE(existing.stat().st_mode) == 0o755  # not the app's to change


@pytest.mark.parametrize("mode", [0o644, 0o666, 0o640, 0o604])
def test_a_config_file_with_a_key_that_others_can_read_gets_one_warning(
    home: Path, tmp_path: Path, mode: int
) -> None:
    cfg = tmp_path / "my config.toml"
    cfg.write_text('api_key = "sk-file-0123456789abcdef"\nprovider = "offline"\n')
    os.chmod(cfg, mode)
    result = run_cli(["--config", str(cfg), "threads", "list"], cli_env(home))
    assert result.returncode == 0, result
    assert result.stderr.count("warning:") == 1, result.stderr
    assert f"chmod 600 '{cfg}'" in result.stderr and f"mode {mode:o}" in result.stderr
    assert "0123456789abcdef" not in result.stderr
    os.chmod(cfg, 0o600)
    quiet = run_cli(["--config", str(cfg), "threads", "list"], cli_env(home))
    assert "warning" not in quiet.stderr, quiet
    cfg.write_text('approval = "ask"\n')  # no key: nothing to protect
    os.chmod(cfg, 0o644)
    assert "warning" not in run_cli(["--config", str(cfg), "config", "show"], cli_env(home)).stderr


async def test_the_app_shows_the_permission_warning_as_a_notification(tmp_path: Path) -> None:
    from assistant_core.config import load_settings
    from assistant_core.session import build_session
    from tui.app import InvestorApp

    cfg = tmp_path / "config.toml"
    cfg.write_text('api_key = "sk-file-0123456789abcdef"\n')
    os.chmod(cfg, 0o644)
    settings = load_settings(
        {"config": str(cfg), "provider": "offline", "db": str(tmp_path / "t.db")}, {}
    )
    app = InvestorApp(build_session(settings), first_run_hint=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        while not app.ready.is_set():
            await pilot.pause(0.05)
        notes = [(n.title, n.message, n.severity) for n in app._notifications]
    assert len(notes) == 1, notes
    title, message, severity = notes[0]
    assert (title, severity) == ("Settings", "warning")
    assert f"chmod 600 {cfg}" in message and "0123456789abcdef" not in message


# -- no terminal (item 15) -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("stdin", "stdout", "missing"),
    [
        ("devnull", "pipe", "stdin and stdout are not one"),
        ("tty", "pipe", "stdout is not one"),
        ("devnull", "tty", "stdin is not one"),
    ],
)
def test_the_app_without_a_terminal_refuses_and_points_to_ask(
    home: Path, stdin: str, stdout: str, missing: str
) -> None:
    master, slave = pty.openpty()
    try:
        proc = subprocess.run(
            [str(CLI)],
            env=cli_env(home),
            cwd=REPO,
            stdin=slave if stdin == "tty" else subprocess.DEVNULL,
            stdout=slave if stdout == "tty" else subprocess.PIPE,
            stderr=subprocess.PIPE,
            timeout=HANG_LIMIT_S,
        )
    finally:
        os.close(slave)
        os.close(master)
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert missing in err and 'investor-assistant ask "QUESTION"' in err
    assert len(err.strip().splitlines()) == 1
    assert b"\x1b" not in (proc.stdout or b"")  # no escape codes into the pipe


def test_the_terminal_check_steps_aside_for_a_named_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    """textual-serve runs the app with TEXTUAL_DRIVER set to its web driver (and tests and
    benchmarks may name the headless one): no terminal is needed then."""
    from assistant_core.errors import ConfigError
    from tui.cli.launch import check_terminal

    monkeypatch.setattr("sys.stdin", open(os.devnull))  # noqa: SIM115 (closed by pytest)
    monkeypatch.delenv("TEXTUAL_DRIVER", raising=False)
    with pytest.raises(ConfigError, match="needs a terminal"):
        check_terminal()
    monkeypatch.setenv("TEXTUAL_DRIVER", "textual.drivers.web_driver:WebDriver")
    check_terminal()


def test_the_app_on_a_real_terminal_still_starts_and_quits(home: Path) -> None:
    master, slave = pty.openpty()
    env = cli_env(home, TERM="xterm-256color")
    env.pop("TEXTUAL_DRIVER", None)
    proc = subprocess.Popen(
        [str(CLI)],
        env=env,
        cwd=REPO,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
    )
    os.close(slave)
    seen = b""
    try:
        deadline = time.monotonic() + 30
        while b"DEMO" not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
        assert b"DEMO" in seen, seen[-500:]
        os.write(master, b"\x11")  # Ctrl+Q
        code = proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    assert code == 0
    assert b"needs a terminal" not in seen
