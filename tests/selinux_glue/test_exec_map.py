"""Mapping files and memory: ``selinux_mmap_file`` (file:map, process:execmem, then
read/write/execute) and the mapping of a program by execve in its new domain."""

from __future__ import annotations

import os
from typing import Any

import pytest

from kernel_sim import (
    EACCES,
    IPC_CREAT,
    IPC_PRIVATE,
    MAP_ANONYMOUS,
    MAP_PRIVATE,
    MAP_SHARED,
    O_RDWR,
    PROT_EXEC,
    PROT_READ,
    PROT_WRITE,
    SHM_EXEC,
    SIGSEGV,
    Kernel,
    SyscallError,
)
from lsm.selinux import BASE_CONF, SELinux, load_policy

TE = """
type launcher_t, domain; type daemon_t, domain; type nomap_t, domain; type nofd_t, domain;
type daemon_exec_t, file_type; type nomap_exec_t, file_type; type nofd_exec_t, file_type;
type blob_t, file_type;
role system_r types { launcher_t daemon_t nomap_t nofd_t };
allow { daemon_exec_t nomap_exec_t nofd_exec_t blob_t } fs_t:filesystem associate;
allow launcher_t self:process { fork sigchld };
allow launcher_t { root_t bin_t tmp_t }:dir search;
allow launcher_t { daemon_exec_t nomap_exec_t nofd_exec_t }:file { execute read open getattr };
type_transition launcher_t daemon_exec_t:process daemon_t;
type_transition launcher_t nomap_exec_t:process nomap_t;
type_transition launcher_t nofd_exec_t:process nofd_t;
allow launcher_t { daemon_t nomap_t nofd_t }:process { transition noatsecure siginh rlimitinh };
allow daemon_t daemon_exec_t:file { entrypoint read execute map };
allow daemon_t launcher_t:fd use;
allow nomap_t nomap_exec_t:file { entrypoint read execute };
allow nomap_t launcher_t:fd use;
allow nofd_t nofd_exec_t:file { entrypoint read execute map };
allow { daemon_t nomap_t nofd_t } launcher_t:process sigchld;
allow launcher_t blob_t:file { read write open map };
allow launcher_t self:shm { create associate read write unix_read unix_write };
"""
CTX = "system_u:system_r:launcher_t:s0"


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> Any:
    te = tmp_path_factory.mktemp("map") / "map.te"
    te.write_text(TE)
    return load_policy(BASE_CONF, te)


def _exec(policy: Any, name: str) -> tuple[Kernel, int, dict[str, Any]]:
    seen: dict[str, Any] = {}

    def program(p: Any) -> Any:
        seen["ran as"] = yield from p.getcon()

    def launcher(p: Any) -> Any:
        pid = yield from p.fork(child)
        _, status = yield from p.waitpid(pid)
        seen["status"] = status

    def child(p: Any) -> Any:
        yield from p.execve(f"/usr/bin/{name}", [name])

    k = Kernel(lsms=[SELinux(policy, mode="enforcing")])
    for prog in ("daemon", "nomap", "nofd"):
        k.install(f"/usr/bin/{prog}", program, label=f"system_u:object_r:{prog}_exec_t:s0")
    pid = k.spawn(launcher, context=CTX)
    k.run()
    return k, pid, seen


def test_a_transition_with_the_mapping_rules_runs_the_program(policy: Any) -> None:
    k, _, seen = _exec(policy, "daemon")
    assert seen["ran as"] == "system_u:system_r:daemon_t:s0"
    assert os.WIFEXITED(seen["status"])
    assert not [line for line in k.audit_log() if line.startswith("type=AVC")]


@pytest.mark.parametrize(("name", "denied"), [
    ("nomap", '{ map } for  pid=3 comm="nomap"'),
    ("nofd", '{ use } for  pid=3 comm="nofd"'),
])
def test_a_program_the_new_domain_cannot_map_kills_the_process(policy: Any, name: str,
                                                               denied: str) -> None:
    """Past the point of no return: execve fails and the process dies of SIGSEGV, with the
    denial checked in the new domain."""
    k, _, seen = _exec(policy, name)
    assert "ran as" not in seen
    assert os.WIFSIGNALED(seen["status"]) and os.WTERMSIG(seen["status"]) == SIGSEGV
    avc = [line for line in k.audit_log() if line.startswith("type=AVC")]
    assert len(avc) == 1 and denied in avc[0]
    assert f"scontext=system_u:system_r:{name}_t:s0" in avc[0]
    syscall = next(line for line in k.audit_log() if line.startswith("type=SYSCALL"))
    assert " syscall=59 success=no exit=-13 " in syscall


def _denials_of(policy: Any, prog: Any) -> list[str]:
    """Run ``prog`` as launcher_t with /tmp/blob (blob_t) installed; the denied perms."""
    k = Kernel(lsms=[SELinux(policy, mode="enforcing")])
    k.install("/tmp/blob", b"x" * 4096, label="system_u:object_r:blob_t:s0", mode=0o666)
    k.spawn(prog, context=CTX)
    k.run()
    return [line.split("{ ")[1].split(" }")[0] for line in k.audit_log()
            if line.startswith("type=AVC")]


def test_mmap_needs_map_and_executable_memory_needs_execmem(policy: Any) -> None:
    seen: dict[str, Any] = {}

    def prog(p: Any) -> Any:
        fd = yield from p.open("/tmp/blob", O_RDWR)
        seen["shared rw"] = yield from p.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd)
        for what, prot, flags, f in (
                ("anon exec", PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1),
                ("private writable exec", PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE, fd),
                ("file exec", PROT_READ | PROT_EXEC, MAP_SHARED, fd)):
            try:
                yield from p.mmap(0, 4096, prot, flags, f)
                seen[what] = 0
            except SyscallError as e:
                seen[what] = e.errno

    denied = _denials_of(policy, prog)
    assert seen["shared rw"] > 0
    assert seen["anon exec"] == seen["private writable exec"] == seen["file exec"] == EACCES
    assert denied == ["execmem", "execmem", "execute"]


def test_executable_sysv_shared_memory_needs_execmem(policy: Any) -> None:
    """shmat(SHM_EXEC) maps the segment's private file executable: process:execmem only."""
    seen: dict[str, Any] = {}

    def prog(p: Any) -> Any:
        h = yield from p.shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0o700)
        seen["rw"] = (yield from p.shmat(h)) > 0
        try:
            yield from p.shmat(h, SHM_EXEC)
        except SyscallError as e:
            seen["exec"] = e.errno

    k = Kernel(lsms=[SELinux(policy, mode="enforcing")])
    k.spawn(prog, context=CTX)
    k.run()
    assert seen == {"rw": True, "exec": EACCES}
    avc = [line for line in k.audit_log() if line.startswith("type=AVC")]
    assert len(avc) == 1 and "{ execmem }" in avc[0] and f"tcontext={CTX} tclass=process" in avc[0]


def test_mprotect_to_executable_checks_execheap_execmem_and_execmod(policy: Any) -> None:
    """The malloc heap needs execheap, anonymous memory execmem, a private copy of a file that
    was written execmod (plus the file's execute); an untouched private map only execute."""
    seen: dict[str, Any] = {}
    rx = PROT_READ | PROT_EXEC

    def prog(p: Any) -> Any:
        heap = p.mem_alloc(4096)
        anon = yield from p.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
        fd = yield from p.open("/tmp/blob", O_RDWR)
        written = yield from p.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd)
        p.mem_write(written, 0, b"\x90")
        clean = yield from p.mmap(0, 4096, PROT_READ, MAP_PRIVATE, fd)
        for what, addr in (("heap", heap), ("anon", anon), ("written", written),
                           ("clean", clean)):
            try:
                yield from p.mprotect(addr, 4096, rx)
                seen[what] = 0
            except SyscallError as e:
                seen[what] = e.errno

    denied = _denials_of(policy, prog)
    assert seen == {"heap": EACCES, "anon": EACCES, "written": EACCES, "clean": EACCES}
    assert denied == ["execheap", "execmem", "execmod", "execute"]
