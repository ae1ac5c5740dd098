"""The one way the kit starts git: hardened, bounded, and the same for every call.

A deliverable may arrive inside a repository somebody else prepared, whose ``.git/config`` can
name programs for git to run (``core.fsmonitor``, hooks, ``core.pager``, ``credential.helper``,
``core.askPass``, filter and diff drivers...). Git runs them for ordinary read-only commands
such as ``git ls-files`` (fsmonitor) or ``git status`` (filters). So every git command the kit
runs goes through :func:`run_git`, which

* turns off every setting a command would run a program for: ``core.fsmonitor``, hooks
  (``core.hooksPath=/dev/null``), the pager, ``core.askPass`` and ``credential.helper`` (git's
  list is reset). Network commands run only in caches the kit created itself
  (:mod:`modelzoo_kit.gitremote`); in anybody else's repository every command is offline;
* never runs content conversions: the kit only runs commands that do not read work-tree
  content (``ls-files``, ``rev-parse``, ``ls-tree``, ``log``, ``cat-file``...), so a
  repository's ``filter.<x>.clean``/``smudge`` and ``diff.<x>.textconv`` never run; the user's
  and the system's attribute files are off too (``core.attributesFile=/dev/null``,
  ``GIT_ATTR_NOSYSTEM``);
* reads no system config (``GIT_CONFIG_NOSYSTEM=1``), ignores replace refs
  (``GIT_NO_REPLACE_OBJECTS``), never prompts (``GIT_TERMINAL_PROMPT=0``, empty
  ``GIT_ASKPASS``), takes no lock it does not need (``GIT_OPTIONAL_LOCKS=0``), and drops the
  variables that would point git at another repository, inject configuration or run a
  program (``GIT_DIR``, ``GIT_CONFIG_PARAMETERS``, ``GIT_EXTERNAL_DIFF``, ``GIT_PAGER``...);
* allows only plain transports: http(s), git and ssh (git's "always" set); ``ext::`` and
  ``fd::`` are never allowed, and with ``GIT_PROTOCOL_FROM_USER=0`` every other transport
  (``file://``, remote helpers) only where a caller adds ``protocol.<x>.allow`` itself;
  ``offline`` allows none at all;
* bounds every command in time (the whole process group is killed), its output in size, and
  a fetch's growth on disk.

What git says on stderr is echoed back in :class:`GitCommandError` with credentials masked
(:func:`modelzoo_kit.display.mask_credentials`). A test greps the package for any other way of
starting git.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from pathlib import Path

from modelzoo_kit.display import mask_credentials
from modelzoo_kit.errors import ModelzooError

#: Protocol names no git knows: "only these may be used" with this list means "none at all".
_NO_NETWORK = "modelzoo-offline"

#: Default bound on what one command may print (stdout and stderr together).
MAX_OUTPUT_BYTES = 256 * 1024**2

#: Added to every git command: restrictions only, never a relaxation of the user's config.
SAFE_CONFIG: tuple[str, ...] = (
    "-c", "core.hooksPath=/dev/null",
    "-c", "core.fsmonitor=false",
    "-c", "core.pager=cat",
    "-c", "core.askPass=",
    "-c", "credential.helper=",
    "-c", "core.attributesFile=/dev/null",
    "-c", "protocol.ext.allow=never",
    "-c", "protocol.fd.allow=never",
    "-c", "maintenance.auto=false",
    "-c", "gc.auto=0",
    "-c", "fetch.recurseSubmodules=false",
    "-c", "submodule.recurse=false",
)  # fmt: skip

#: Inherited variables that would point git elsewhere, inject config, or run a program.
_DROPPED_ENV_PREFIXES = ("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_", "GIT_TRACE")
_DROPPED_ENV = {
    "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_NAMESPACE", "GIT_CEILING_DIRECTORIES",
    "GIT_DISCOVERY_ACROSS_FILESYSTEM", "GIT_CONFIG", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT",
    "GIT_CONFIG_SYSTEM", "GIT_EXTERNAL_DIFF", "GIT_PAGER", "PAGER", "GIT_EDITOR", "EDITOR",
    "VISUAL", "GIT_SEQUENCE_EDITOR", "GIT_ATTR_SOURCE", "GIT_REPLACE_REF_BASE", "GIT_GRAFT_FILE",
    "GIT_ALLOW_PROTOCOL",
}  # fmt: skip


class GitCommandError(ModelzooError, RuntimeError):
    """A git command failed; ``kind`` says why in words a report can use."""

    def __init__(self, message: str, kind: str, stderr: str = ""):
        super().__init__(mask_credentials(message))
        # network | not-a-repository | auth | timeout | too-large | refused | missing | failed
        self.kind = kind
        self.stderr = mask_credentials(stderr)


def git_env(offline: bool = False, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment every git command runs with."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in _DROPPED_ENV and not key.startswith(_DROPPED_ENV_PREFIXES)
    }
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_ATTR_NOSYSTEM="1",
        GIT_NO_REPLACE_OBJECTS="1",
        GIT_OPTIONAL_LOCKS="0",
        GIT_TERMINAL_PROMPT="0",
        GIT_PROTOCOL_FROM_USER="0",
        GIT_ASKPASS="",
        SSH_ASKPASS="",
        GCM_INTERACTIVE="never",
        GIT_PAGER="cat",
        LC_ALL="C",
        LANG="C",
    )
    if offline:
        env["GIT_ALLOW_PROTOCOL"] = _NO_NETWORK
    env.update(extra or {})
    return env


def classify(stderr: str, offline: bool) -> str:
    text = stderr.lower()
    if "not allowed" in text and "transport" in text:
        return "network" if offline else "refused"
    if any(s in text for s in ("could not resolve", "failed to connect", "connection refused",
                               "network is unreachable", "timed out", "name resolution",
                               "no route to host")):
        return "network"
    if any(s in text for s in ("authentication failed", "terminal prompts disabled",
                               "could not read username", "permission denied")):
        return "auth"
    if any(s in text for s in ("does not appear to be a git repository", "not found",
                               "not a git repository", "repository not found", "no such file")):
        return "not-a-repository"
    return "failed"


#: git's own prefixes for the lines that say what went wrong
_MEANINGFUL = ("fatal:", "error:", "remote:", "warning:", "ssh:", "ERROR:")


def meaningful_lines(stderr: str, limit: int = 4) -> str:
    """What git said went wrong, in one line: its ``fatal:``/``error:``/``remote:`` lines (the
    first names the address it used) in order, without hints, progress or repeats; the last line
    when none has such a prefix."""
    lines = [line.strip() for line in stderr.replace("\r", "\n").splitlines() if line.strip()]
    kept: list[str] = []
    for line in lines:
        if line.startswith(_MEANINGFUL) and line not in kept:
            kept.append(line)
    if not kept:
        return lines[-1] if lines else "no message"
    return " / ".join(kept[:limit])


def folder_size(folder: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def run_git(
    args: list[str],
    *,
    cwd: Path | None = None,
    timeout_s: float = 60.0,
    offline: bool = False,
    stdin: bytes | None = None,
    watch: Path | None = None,
    max_bytes: int | None = None,
    max_output_bytes: int = MAX_OUTPUT_BYTES,
    check: bool = True,
    config: tuple[str, ...] = (),
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``git`` hardened, with a time limit, an output limit and (for fetches) a size limit.

    ``watch`` is a folder whose growth is bounded by ``max_bytes`` while the command runs.
    Raises :class:`GitCommandError` (``kind`` timeout, too-large, missing, or, with ``check``,
    the classified failure)."""
    command = ["git", "--no-pager", *SAFE_CONFIG, *config, *args]
    what = next((a for a in args if not a.startswith("-") and "=" not in a), "")
    try:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=git_env(offline, extra_env),
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # so a timeout can stop git's children (ssh, upload-pack) too
        )
    except OSError as exc:
        raise GitCommandError(f"git {what} could not start: {exc.strerror}", "missing") from None
    stopped: list[str] = []
    lock = threading.Lock()

    def stop(reason: str) -> None:
        with lock:
            if stopped:
                return
            stopped.append(reason)
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    received = [0]
    chunks: dict[str, list[bytes]] = {"out": [], "err": []}

    def drain(name: str, stream) -> None:  # type: ignore[no-untyped-def]
        for chunk in iter(lambda: stream.read(65536), b""):
            with lock:
                received[0] += len(chunk)
                over = received[0] > max_output_bytes
            if over:
                stop("output")
                break
            chunks[name].append(chunk)
        stream.close()

    readers = [
        threading.Thread(target=drain, args=("out", process.stdout), daemon=True),
        threading.Thread(target=drain, args=("err", process.stderr), daemon=True),
    ]
    for reader in readers:
        reader.start()

    done = threading.Event()
    watcher = None
    start_size = growth = 0
    if watch is not None and max_bytes is not None:
        start_size = folder_size(watch)

        def guard() -> None:
            while not done.wait(0.1):
                if folder_size(watch) - start_size > max_bytes:
                    stop("too-large")
                    return

        watcher = threading.Thread(target=guard, daemon=True)
        watcher.start()
    try:
        if stdin is not None and process.stdin is not None:
            try:
                process.stdin.write(stdin)
                process.stdin.close()
            except BrokenPipeError:
                pass
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            stop("timeout")
            process.wait()
        for reader in readers:
            reader.join()
    finally:
        done.set()
        if watcher is not None:
            watcher.join()
    if watch is not None and max_bytes is not None:
        growth = folder_size(watch) - start_size
        if not stopped and growth > max_bytes:
            stopped.append("too-large")  # finished between two looks: still over the limit
    out, err = b"".join(chunks["out"]), b"".join(chunks["err"])
    stderr = err.decode("utf-8", errors="replace")
    if stopped:
        if stopped[0] == "timeout":
            raise GitCommandError(f"git {what} took longer than {timeout_s:.0f} s", "timeout")
        if stopped[0] == "output":
            raise GitCommandError(
                f"git {what} printed more than the limit of {max_output_bytes} bytes",
                "too-large",
            )
        raise GitCommandError(
            f"git {what} received more than the limit of {max_bytes} bytes ({growth} bytes)",
            "too-large",
        )
    if check and process.returncode != 0:
        kind = classify(stderr, offline)
        raise GitCommandError(f"git {what} failed: {meaningful_lines(stderr)}", kind, stderr)
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def git_output(
    args: list[str],
    *,
    cwd: Path | None = None,
    timeout_s: float = 60.0,
    extra_env: dict[str, str] | None = None,
) -> str | None:
    """Output of a read-only git command in a local repository, or None when it fails."""
    try:
        result = run_git(args, cwd=cwd, timeout_s=timeout_s, offline=True, check=False,
                         extra_env=extra_env)
    except GitCommandError:
        return None
    if result.returncode != 0:
        return None
    return result.stdout.decode("utf-8", errors="surrogateescape")


def head_commit(repository: Path) -> str | None:
    """The commit checked out in the repository whose top folder is ``repository`` (a nested
    repository or submodule: its ``.git`` may be a folder or a ``gitdir:`` file), or None when
    it has none. Git never looks above ``repository`` for another one."""
    repository = Path(repository).absolute()
    out = git_output(
        ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"],
        cwd=repository,
        extra_env={"GIT_CEILING_DIRECTORIES": str(repository.parent)},
    )
    return out.strip() if out and out.strip() else None
