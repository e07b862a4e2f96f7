"""Processes of the launch benchmark: gunicorn instances, the loopback platform, the tool's CLI.

Every process listens on 127.0.0.1 only, is started with a time limit on becoming ready, and is
stopped by :class:`Processes` when the benchmark ends, also on an error or Ctrl-C.
"""

from __future__ import annotations

import http.client
import os
import runpy
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

PROJECT_ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONF = PROJECT_ROOT / "config" / "gunicorn.conf.py"
READY_SECONDS = 60


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(roots: list[int]) -> float:
    """User and system CPU seconds of the processes ``roots`` and all their descendants,
    including children they have reaped (``/proc/PID/stat``). Counts the servers' own work,
    whatever else the machine runs, where wall-clock figures suffer from a shared machine."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        # fields[1] is ppid; utime, stime, cutime, cstime are fields 11-14 after the name.
        ticks = sum(int(v) for v in fields[11:15])
        stats[int(entry.name)] = (int(fields[1]), ticks / CLOCK_TICKS)
    wanted = set(roots)
    changed = True
    while changed:
        changed = False
        for pid, (ppid, _) in stats.items():
            if ppid in wanted and pid not in wanted:
                wanted.add(pid)
                changed = True
    return sum(stats[pid][1] for pid in wanted if pid in stats)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gunicorn_settings(env: dict[str, str] | None = None) -> dict[str, object]:
    """What ``config/gunicorn.conf.py`` sets under ``env`` (default: this environment)."""
    saved = dict(os.environ)
    try:
        if env is not None:
            os.environ.update(env)
        values = runpy.run_path(str(GUNICORN_CONF))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return {k: v for k, v in values.items() if not k.startswith("_") and not callable(v)}


def wait_until_ready(
    port: int, process: subprocess.Popen[bytes], log: Path, probe: str | None
) -> None:
    """Until the port takes connections and, with ``probe``, a GET of it gets any HTTP answer:
    gunicorn listens before its workers have loaded the app, and on a busy machine a first
    request could otherwise wait for a worker longer than the driver's timeout."""
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Prozess beendet ({process.returncode}); Log: {log}\n" + _tail(log))
        try:
            if probe is None:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=READY_SECONDS)
            try:
                connection.request("GET", probe)
                connection.getresponse().read()
                return
            finally:
                connection.close()
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"Port {port} nach {READY_SECONDS} s nicht bereit; Log: {log}")


def _tail(log: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def run_cli(env: dict[str, str], *args: str) -> str:
    """``flask --app wsgi ARGS`` in the project with ``env``; raises with its output on failure."""
    completed = subprocess.run(  # noqa: S603  (our own interpreter, fixed arguments)
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"flask {' '.join(args)} scheiterte:\n{completed.stdout}\n{completed.stderr}"
        )
    return completed.stdout


class Processes:
    """The benchmark's child processes by name; all of them are stopped on exit."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(
        self,
        name: str,
        command: list[str],
        port: int,
        env: dict[str, str] | None = None,
        probe: str | None = "/",
    ) -> str:
        """Start ``command`` and wait until it listens on ``port``; returns its base URL."""
        log = self.log_dir / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(  # noqa: S603  (commands built by the benchmark)
                command,
                cwd=PROJECT_ROOT,
                env={**os.environ, **(env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.running[name] = process
        wait_until_ready(port, process, log, probe)
        return f"http://127.0.0.1:{port}"

    def gunicorn(
        self, name: str, app: str, port: int, env: dict[str, str], workers: int | None = None
    ) -> str:
        """``gunicorn -c config/gunicorn.conf.py APP`` bound to ``port``."""
        overrides = {"GUNICORN_BIND": f"127.0.0.1:{port}", **env}
        if workers is not None:
            overrides["GUNICORN_WORKERS"] = str(workers)
        command = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), app]
        return self.start(name, command, port, overrides)

    def log_sizes(self) -> dict[str, int]:
        """Current size of every log, to read what was written after (``new_log_lines``)."""
        return {log.name: log.stat().st_size for log in self.log_dir.glob("*.log")}

    def new_log_lines(self, since: dict[str, int], prefix: str) -> list[str]:
        """Lines that the logs of processes named ``prefix…`` got after ``since``."""
        lines: list[str] = []
        for log in sorted(self.log_dir.glob(f"{prefix}*.log")):
            with log.open("rb") as file:
                file.seek(since.get(log.name, 0))
                lines += file.read().decode(errors="replace").splitlines()
        return lines

    def pid(self, name: str) -> int:
        return self.running[name].pid

    def stop(self, name: str) -> None:
        process = self.running.pop(name, None)
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)  # gunicorn: graceful stop of master and workers
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)

    def __enter__(self) -> Processes:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_all()
        if exc_type is not None:
            # The temporary directory goes with the run: show what the servers said.
            for log in sorted(self.log_dir.glob("*.log")):
                lines = log.read_text(errors="replace").splitlines()
                trouble = [
                    line
                    for line in lines
                    if any(word in line for word in ("Error", "Traceback", "TIMEOUT", "CRITICAL"))
                ]
                shown = "\n".join(trouble[:10] + lines[-8:])
                if shown:
                    print(f"--- {log.name}\n{shown}", file=sys.stderr)
