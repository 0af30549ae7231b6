"""Start and stop throwaway PostgreSQL servers on a data directory.

Role: find the server binaries, `initdb` a cluster, start `postgres` on a unix
socket (as an unprivileged user when we are root, because PostgreSQL refuses
to run as root) and stop it. Used by the clone backends, `mayfly db` and the
test fixture.

It must not decide anything about masking or cloning, and never touch a
server it did not start.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

FAST_SETTINGS: tuple[tuple[str, str], ...] = (
    ("listen_addresses", "''"),
    ("fsync", "off"),
    ("synchronous_commit", "off"),
    ("full_page_writes", "off"),
    ("wal_level", "minimal"),
    ("max_wal_senders", "0"),
    ("shared_buffers", "256MB"),
    ("max_wal_size", "4GB"),
    ("checkpoint_timeout", "30min"),
    ("max_connections", "40"),
    ("logging_collector", "off"),
)


class PostgresError(RuntimeError):
    """The PostgreSQL binaries are missing or a server would not start/stop."""


def find_bindir() -> Path:
    """Directory holding initdb/postgres/pg_ctl: $PG_BINDIR, Debian's newest, or PATH."""
    env = os.environ.get("PG_BINDIR")
    if env:
        return Path(env)
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    for candidate in reversed(debian):
        if (candidate / "initdb").exists() and (candidate / "postgres").exists():
            return candidate
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise PostgresError(
        "PostgreSQL server binaries not found; run scripts/ensure-postgres "
        "(or apt-get install postgresql) or set PG_BINDIR"
    )


def service_user() -> str | None:
    """The OS user to run the server as: None when we are not root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise PostgresError("running as root and neither 'postgres' nor 'nobody' exists")


def _as_user(cmd: list[str], user: str | None) -> list[str]:
    if user is None:
        return cmd
    return ["runuser", "-u", user, "--", *cmd]


def give_to(path: Path, user: str | None) -> None:
    """Hand a directory tree to the service user (no-op when not root)."""
    if user is None:
        return
    entry = pwd.getpwnam(user)
    if path.stat().st_uid != entry.pw_uid:
        subprocess.run(["chown", "-R", f"{entry.pw_uid}:{entry.pw_gid}", str(path)], check=True)
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


def initdb(datadir: Path, *, bindir: Path | None = None, user: str | None = None) -> None:
    """Create a fresh cluster with trust auth for the `postgres` role."""
    bindir = bindir or find_bindir()
    datadir.mkdir(parents=True, exist_ok=True)
    give_to(datadir, user)
    cmd = [str(bindir / "initdb"), "-D", str(datadir), "-U", "postgres", "--auth=trust"]
    cmd += ["--no-sync", "-E", "UTF8", "--locale=C"]
    if not (bindir / "initdb").exists():
        raise PostgresError(
            f"{bindir / 'initdb'} does not exist; run scripts/ensure-postgres or fix PG_BINDIR"
        )
    done = subprocess.run(_as_user(cmd, user), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise PostgresError(f"initdb failed in {datadir}: {done.stderr.strip()[-800:]}")
    with (datadir / "postgresql.conf").open("a") as conf:
        conf.write("\n# mayfly: throwaway server settings\n")
        for key, value in FAST_SETTINGS:
            conf.write(f"{key} = {value}\n")


@dataclass(frozen=True, slots=True)
class PgServer:
    """A server we started: its data directory, socket directory and port."""

    datadir: Path
    socket_dir: Path
    port: int
    user: str | None
    bindir: Path

    def dsn(self, dbname: str = "postgres") -> str:
        return f"host={self.socket_dir} port={self.port} user=postgres dbname={dbname}"

    def stop(self, *, mode: str = "fast") -> None:
        cmd = [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "stop"]
        subprocess.run(_as_user(cmd, self.user), capture_output=True, check=False)


def free_port(socket_dir: Path, start: int = 55432) -> int:
    """A port number whose unix socket name is free in `socket_dir`."""
    port = start + os.getpid() % 1000
    while (socket_dir / f".s.PGSQL.{port}").exists():
        port += 1
    return port


def _failed(log: Path, offset: int) -> bool:
    if not log.exists():
        return False
    with log.open("rb") as f:
        f.seek(offset)
        lines = f.read().decode(errors="replace").splitlines()
    return any("FATAL" in line and "is starting up" not in line for line in lines)


def start(
    datadir: Path,
    socket_dir: Path,
    *,
    port: int | None = None,
    user: str | None = None,
    bindir: Path | None = None,
    timeout: float = 30.0,
) -> PgServer:
    """Start postgres on `datadir`, listening only on a unix socket; wait until ready."""
    bindir = bindir or find_bindir()
    socket_dir.mkdir(parents=True, exist_ok=True)
    give_to(socket_dir, user)
    give_to(datadir, user)
    (datadir / "postmaster.pid").unlink(missing_ok=True)
    port = port or free_port(socket_dir)
    log = datadir / "mayfly-server.log"
    offset = log.stat().st_size if log.exists() else 0
    opts = f"-k {socket_dir} -p {port}"
    cmd = [
        str(bindir / "pg_ctl"),
        "-D",
        str(datadir),
        "-o",
        opts,
        "-l",
        str(log),
        "-s",
        "-W",
        "start",
    ]
    subprocess.run(_as_user(cmd, user), capture_output=True, text=True, check=False)
    server = PgServer(datadir, socket_dir, port, user, bindir)
    deadline = time.monotonic() + timeout
    ready = [
        str(bindir / "pg_isready"),
        "-q",
        "-h",
        str(socket_dir),
        "-p",
        str(port),
        "-U",
        "postgres",
    ]
    while time.monotonic() < deadline:
        if subprocess.run(ready, check=False).returncode == 0:
            return server
        if _failed(log, offset):
            break
        time.sleep(0.01)
    tail = log.read_text(errors="replace")[offset:][-1500:] if log.exists() else "(no log)"
    server.stop(mode="immediate")
    raise PostgresError(f"PostgreSQL did not start on {datadir} within {timeout:.0f}s:\n{tail}")
