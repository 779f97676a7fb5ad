"""The SELinux hook glue on a running kernel: labels, decisions, errno, audit records."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from kernel_sim import (
    EACCES,
    IPC_CREAT,
    IPC_PRIVATE,
    O_RDONLY,
    O_RDWR,
    RLIMIT_NOFILE,
    SIGTERM,
    Kernel,
    SyscallError,
)
from lsm.selinux import BASE_CONF, SELinux, load_policy

POLICY = """
type alpha_t, domain;
type beta_t, domain;
type alpha_exec_t, file_type;
type beta_exec_t, file_type;
type alpha_tmp_t, file_type;
role system_r types { alpha_t beta_t };
allow { alpha_t beta_t } self:process { fork sigchld signal signull getattr };
allow { alpha_t beta_t } { root_t tmp_t bin_t }:dir { search getattr };
allow alpha_t beta_t:process signal;
allow alpha_t self:fifo_file { read write getattr };
type_transition alpha_t tmp_t:fifo_file alpha_tmp_t;
allow alpha_t tmp_t:dir { write add_name };
allow alpha_t alpha_tmp_t:fifo_file { create read write open getattr };
allow alpha_tmp_t fs_t:filesystem associate;
allow alpha_t self:msgq { create associate unix_read unix_write read write enqueue };
allow alpha_t self:msg { send receive };
allow alpha_t alpha_exec_t:file { execute read open getattr execute_no_trans };
allow alpha_t beta_exec_t:file { execute read open getattr };
type_transition alpha_t beta_exec_t:process beta_t;
allow alpha_t beta_t:process transition;
allow beta_t beta_exec_t:file { entrypoint read execute map };
allow beta_t alpha_t:fd use;
bool alpha_may_signal_back false;
if (alpha_may_signal_back) { allow beta_t alpha_t:process signal; }
"""

ALPHA = "system_u:system_r:alpha_t:s0"
BETA = "system_u:system_r:beta_t:s0"


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> Any:
    te = tmp_path_factory.mktemp("pol") / "local.te"
    te.write_text(POLICY)
    return load_policy(BASE_CONF, te)


def run(policy: Any, progs: list[tuple[Callable[..., Any], str]], mode: str = "enforcing",
        setup: Callable[[Kernel], None] | None = None) -> tuple[Kernel, SELinux, list[int]]:
    se = SELinux(policy, mode=mode)
    k = Kernel(lsms=[se])
    if setup is not None:
        setup(k)
    pids = [k.spawn(prog, context=ctx, uid=0) for prog, ctx in progs]
    k.run()
    return k, se, pids


def test_fifo_is_labelled_by_type_transition_and_beta_is_denied(policy: Any) -> None:
    seen: dict[str, Any] = {}

    def alpha(p: Any) -> Any:
        yield from p.mkfifo("/tmp/f", 0o666)
        seen["con"] = yield from p.getfilecon("/tmp/f")

    def beta(p: Any) -> Any:
        yield from p.nanosleep(0.001)
        try:
            yield from p.open("/tmp/f", O_RDONLY)
        except SyscallError as e:
            seen["beta"] = e.errno

    k, _, _ = run(policy, [(alpha, ALPHA), (beta, BETA)])
    assert seen["con"] == "system_u:object_r:alpha_tmp_t:s0"
    assert seen["beta"] == EACCES
    avc = [line for line in k.audit_log() if "type=AVC" in line]
    assert len(avc) == 1
    assert "avc:  denied  { read } for  pid=3 comm=\"beta\"" in avc[0]
    assert "tcontext=system_u:object_r:alpha_tmp_t:s0 tclass=fifo_file permissive=0" in avc[0]
    syscall = [line for line in k.audit_log() if "type=SYSCALL" in line]
    assert syscall and "success=no exit=-13" in syscall[0]
    assert avc[0].split("):")[0].split(":")[-1] == syscall[0].split("):")[0].split(":")[-1]


def test_signals_follow_the_policy_and_booleans_flip_it(policy: Any) -> None:
    results: dict[str, Any] = {}

    def beta(p: Any, target: list[int]) -> Any:
        yield from p.nanosleep(0.001)
        try:
            yield from p.kill(target[0], 0)
            results["beta->alpha"] = 0
        except SyscallError as e:
            results["beta->alpha"] = e.errno

    def alpha(p: Any) -> Any:
        yield from p.nanosleep(0.01)

    for value in (False, True):
        se = SELinux(policy, mode="enforcing")
        k = Kernel(lsms=[se])
        if value:
            se.setsebool("alpha_may_signal_back", True)
        target: list[int] = []
        target.append(k.spawn(alpha, context=ALPHA))
        k.spawn(beta, target, context=BETA)
        k.run()
        expected_perm_ok = value
        # signull is not granted by the conditional rule (only signal), so kill(0) stays denied
        assert results["beta->alpha"] == EACCES
        if expected_perm_ok:
            assert any("MAC_CONFIG_CHANGE" in line and "alpha_may_signal_back" in line
                       for line in k.audit_log())


def test_kill_denied_then_allowed_by_boolean(policy: Any) -> None:
    outcome: list[Any] = []

    def victim(p: Any) -> Any:
        yield from p.nanosleep(0.01)

    def killer(p: Any, pid: int) -> Any:
        try:
            yield from p.kill(pid, SIGTERM)
            outcome.append("sent")
        except SyscallError as e:
            outcome.append(e.errno)

    for flip in (False, True):
        se = SELinux(policy, mode="enforcing")
        k = Kernel(lsms=[se])
        if flip:
            se.setsebool({"alpha_may_signal_back": True})
        v = k.spawn(victim, context=ALPHA)
        k.spawn(killer, v, context=BETA)
        k.run()
    assert outcome == [EACCES, "sent"]


def test_permissive_logs_once_then_caches_the_grant(policy: Any) -> None:
    def beta(p: Any, pid: int) -> Any:
        for _ in range(3):
            yield from p.kill(pid, 0)

    def alpha(p: Any) -> Any:
        yield from p.nanosleep(0.01)

    se = SELinux(policy, mode="permissive")
    k = Kernel(lsms=[se])
    a = k.spawn(alpha, context=ALPHA)
    k.spawn(beta, a, context=BETA)
    k.run()
    avc = [line for line in k.audit_log() if "type=AVC" in line]
    assert len(avc) == 1 and "{ signull }" in avc[0] and "permissive=1" in avc[0]


def test_exec_domain_transition(policy: Any) -> None:
    seen: dict[str, Any] = {}

    def beta_main(p: Any) -> Any:
        seen["after"] = yield from p.getcon()

    def alpha(p: Any) -> Any:
        seen["before"] = yield from p.getcon()
        yield from p.execve("/usr/bin/beta", ["beta"])

    def setup(k: Kernel) -> None:
        k.install("/usr/bin/beta", beta_main, label="system_u:object_r:beta_exec_t:s0")

    k, _, pids = run(policy, [(alpha, ALPHA)], setup=setup)
    assert seen == {"before": ALPHA, "after": BETA}
    assert os.WIFEXITED(k.exit_status(pids[0]))


def test_sysv_queue_is_labelled_with_the_creator_and_denied_to_others(policy: Any) -> None:
    seen: dict[str, Any] = {}

    def alpha(p: Any) -> Any:
        qid = yield from p.msgget(0x1234, IPC_CREAT | 0o666)
        yield from p.msgsnd(qid, 1, b"hi")
        seen["qid"] = qid

    def beta(p: Any) -> Any:
        yield from p.nanosleep(0.001)
        try:
            yield from p.msgget(0x1234, 0o666)
        except SyscallError as e:
            seen["beta"] = e.errno

    if not hasattr(Kernel, "__init__") or not hasattr(__import__("kernel_sim.task").task.Task,
                                                      "msgget"):
        pytest.skip("System V message queues are not in this tree yet")
    k, _, _ = run(policy, [(alpha, ALPHA), (beta, BETA)])
    assert seen["beta"] == EACCES
    avc = [line for line in k.audit_log() if "type=AVC" in line]
    assert avc and "tclass=msgq" in avc[0] and "ipc_key=4660  scontext=" in avc[0]
    assert f"tcontext={ALPHA}" in avc[0]
    assert IPC_PRIVATE == 0


def test_pipe_reads_revalidate_every_time(policy: Any) -> None:
    def alpha(p: Any) -> Any:
        r, w = yield from p.pipe()
        for _ in range(5):
            yield from p.write(w, b"x")
            yield from p.read(r, 1)

    k, se, pids = run(policy, [(alpha, ALPHA)])
    assert os.WEXITSTATUS(k.exit_status(pids[0])) == 0
    stats = se.avc_stats()
    assert stats["lookups"] >= 10  # pipes never take the open-file shortcut
    assert stats["hits"] >= 8


def test_disabled_mode_installs_no_hooks(policy: Any) -> None:
    def beta(p: Any) -> Any:
        fd = yield from p.open("/etc", O_RDONLY)
        yield from p.close(fd)

    k, _se, pids = run(policy, [(beta, BETA)], mode="disabled")
    assert k.audit_log() == []
    assert os.WEXITSTATUS(k.exit_status(pids[0])) == 0
    assert O_RDWR == 2


def test_policy_reload_keeps_sids_and_changes_decisions(policy: Any, tmp_path: Any) -> None:
    """A reload mid-run: the same SIDs, the new rules, a MAC_POLICY_LOAD record."""
    outcome: list[Any] = []
    te = tmp_path / "more.te"
    te.write_text(POLICY + "allow beta_t alpha_t:process signull;\n")
    wider = load_policy(BASE_CONF, te)

    def victim(p: Any) -> Any:
        yield from p.nanosleep(0.02)

    def prober(p: Any, pid: int) -> Any:
        for _ in range(2):
            try:
                yield from p.kill(pid, 0)
                outcome.append("ok")
            except SyscallError as e:
                outcome.append(e.errno)
            yield from p.nanosleep(0.01)

    se = SELinux(policy, mode="enforcing")
    k = Kernel(lsms=[se])
    v = k.spawn(victim, context=ALPHA)
    k.spawn(prober, v, context=BETA)
    before = se.server.context_to_sid(BETA)
    k.env.process(_at(k, 0.005, lambda: se.load_policy(wider)))
    k.run()
    assert outcome == [EACCES, "ok"]
    assert se.server.context_to_sid(BETA) == before
    assert any(line.startswith("type=MAC_POLICY_LOAD") for line in k.audit_log())


def _at(k: Kernel, when: float, fn: Callable[[], None]) -> Any:
    yield k.env.timeout(when)
    fn()


def test_inlined_hit_path_keeps_the_avc_statistics(policy: Any) -> None:
    """file_permission inlines avc_has_perm's hit test; the counters must not change."""

    def alpha(p: Any) -> Any:
        r, w = yield from p.pipe()
        for _ in range(20):
            yield from p.write(w, b"x")
            yield from p.read(r, 1)

    stats = []
    for inline in (True, False):
        se = SELinux(policy, mode="enforcing")
        if not inline:  # a coverage callback forces every check through avc_has_perm
            se.coverage = lambda *a: None
        k = Kernel(lsms=[se])
        k.spawn(alpha, context=ALPHA)
        k.run()
        stats.append(se.avc_stats())
    assert stats[0] == stats[1]
    assert stats[0]["lookups"] >= 40


def test_group_and_session_queries_need_process_permissions(policy: Any) -> None:
    """getpgid/getsid of another process: process:getpgid and process:getsession."""
    seen: dict[str, Any] = {}

    def beta(p: Any) -> Any:
        yield from p.nanosleep(0.01)

    def alpha(p: Any, target: int) -> Any:
        yield from p.nanosleep(0.001)
        for name, call in (("getpgid", p.getpgid(target)), ("getsid", p.getsid(target))):
            try:
                yield from call
            except SyscallError as e:
                seen[name] = e.errno
        seen["own"] = yield from p.getpgid(0)  # no check for the caller itself

    se = SELinux(policy, mode="enforcing")
    k = Kernel(lsms=[se])
    target = k.spawn(beta, context=BETA)
    k.spawn(alpha, target, context=ALPHA)
    k.run()
    assert seen["getpgid"] == EACCES and seen["getsid"] == EACCES and seen["own"] > 0
    avc = [line for line in k.audit_log() if line.startswith("type=AVC")]
    assert len(avc) == 2
    assert "{ getpgid }" in avc[0] and "{ getsession }" in avc[1]
    assert all(f"tcontext={BETA} tclass=process" in line for line in avc)


def test_rlimits_reset_without_rlimitinh_and_hard_changes_need_setrlimit(policy: Any) -> None:
    seen: dict[str, Any] = {}

    def beta_main(p: Any) -> Any:
        seen["after_exec"] = yield from p.getrlimit(RLIMIT_NOFILE)

    def alpha(p: Any) -> Any:
        yield from p.setrlimit(RLIMIT_NOFILE, (4096, 4096))  # soft only: no MAC check
        try:
            yield from p.setrlimit(RLIMIT_NOFILE, (2048, 2048))
        except SyscallError as e:
            seen["hard"] = e.errno
        yield from p.execve("/usr/bin/beta", ["beta"])

    def setup(k: Kernel) -> None:
        k.install("/usr/bin/beta", beta_main, label="system_u:object_r:beta_exec_t:s0")

    k, _, _ = run(policy, [(alpha, ALPHA)], setup=setup)
    assert seen == {"hard": EACCES, "after_exec": (1024, 4096)}  # back to init's soft limit
    avc = {line.split("{ ")[1].split(" }")[0]: line for line in k.audit_log()
           if line.startswith("type=AVC")}
    assert f"tcontext={ALPHA} tclass=process" in avc["setrlimit"]
    assert f"tcontext={BETA} tclass=process" in avc["rlimitinh"]


def test_capget_and_capset_need_process_permissions(policy: Any) -> None:
    seen: dict[str, Any] = {}

    def beta(p: Any) -> Any:
        yield from p.nanosleep(0.01)

    def alpha(p: Any, target: int) -> Any:
        yield from p.nanosleep(0.001)
        for name, call in (("getcap", p.capget(target)), ("setcap", p.capset(0, 0, 0))):
            try:
                yield from call
                seen[name] = 0
            except SyscallError as e:
                seen[name] = e.errno

    k = Kernel(lsms=[SELinux(policy, mode="enforcing")])
    target = k.spawn(beta, context=BETA)
    k.spawn(alpha, target, context=ALPHA)
    k.run()
    assert seen == {"getcap": EACCES, "setcap": EACCES}
    avc = [line for line in k.audit_log() if line.startswith("type=AVC")]
    assert "{ getcap }" in avc[0] and f"tcontext={BETA} tclass=process" in avc[0]
    assert "{ setcap }" in avc[1] and f"tcontext={ALPHA} tclass=process" in avc[1]


def test_renicing_another_process_needs_setsched(policy: Any) -> None:
    seen: dict[str, Any] = {}

    def beta(p: Any) -> Any:
        yield from p.nanosleep(0.01)

    def alpha(p: Any, target: int) -> Any:
        yield from p.nanosleep(0.001)
        try:
            yield from p.setpriority(0, target, 19)  # root, so DAC allows it
        except SyscallError as e:
            seen["renice"] = e.errno

    k = Kernel(lsms=[SELinux(policy, mode="enforcing")])
    target = k.spawn(beta, context=BETA)
    k.spawn(alpha, target, context=ALPHA)
    k.run()
    assert seen == {"renice": EACCES}
    avc = [line for line in k.audit_log() if line.startswith("type=AVC")]
    assert len(avc) == 1 and "{ setsched }" in avc[0] and f"tcontext={BETA}" in avc[0]


@pytest.mark.parametrize(("caps", "needs_open"), [
    (("open_perms",), True),
    (("extended_socket_class",), False),  # its bit used to be mistaken for open_perms
])
def test_file_open_needs_open_exactly_under_the_open_perms_capability(
        policy: Any, caps: tuple[str, ...], needs_open: bool) -> None:
    from lsm.selinux.ss.policydb_consts import POLICYCAP_NAMES

    seen: dict[str, Any] = {}

    def alpha(p: Any) -> Any:  # alpha_t may read its own FIFOs but not open them
        try:
            yield from p.open("/tmp/f", O_RDONLY | 0o4000)  # O_NONBLOCK: no writer needed
            seen["rc"] = 0
        except SyscallError as e:
            seen["rc"] = e.errno

    saved = policy.policydb.policycaps
    policy.policydb.policycaps = sum(1 << POLICYCAP_NAMES.index(n) for n in caps)
    try:
        k, _, _ = run(policy, [(alpha, ALPHA)],
                      setup=lambda k: k.mkfifo("/tmp/f", 0o666, label=ALPHA))
    finally:
        policy.policydb.policycaps = saved
    opened = [line for line in k.audit_log() if "{ open }" in line]
    assert seen["rc"] == (EACCES if needs_open else 0)
    assert bool(opened) == needs_open
