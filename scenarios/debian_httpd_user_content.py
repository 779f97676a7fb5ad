"""On Debian's own policy: Apache and users' home directories, with a boolean.

alice keeps a private note in her home directory (mode 0644, labelled user_home_t).  A
compromised Apache (httpd_t, root) tries to read it.  DAC allows it.  Debian's policy
denies it, and audit2why would say a boolean allows it: httpd_read_user_content.  The
administrator turns that boolean on at t=5 ms (as for a site serving ~user pages); Apache's
next attempt succeeds.  The scenario shows a boolean trading confinement for a feature.
"""

from __future__ import annotations

from typing import Any

from kernel_sim import EACCES, O_RDONLY, Kernel, SyscallError
from scenarios._debian import DEBIAN_POLICY, system
from scenarios.base import Check, Context, Scenario

NOTE = b"alice's bank PIN: 1234"


def apache(p: Any, ctx: Context) -> Any:
    for when in (0.001, 0.010):
        yield from p.nanosleep(when - p.kernel.now)
        try:
            fd = yield from p.open("/home/alice/notes.txt", O_RDONLY)
            data = yield from p.read(fd, 100)
            yield from p.close(fd)
            ctx.note("read", who="httpd", data=data)
        except SyscallError as e:
            ctx.note("denied", who="httpd", op="read note", errno=e.errno)
    return 0


def setup(k: Kernel, ctx: Context) -> None:
    k.mkdir("/home", 0o755, label="system_u:object_r:home_root_t:s0")
    k.mkdir("/home/alice", 0o755, uid=1000, gid=1000,
            label="unconfined_u:object_r:user_home_dir_t:s0")
    k.install("/home/alice/notes.txt", NOTE, mode=0o644, uid=1000, gid=1000,
              label="unconfined_u:object_r:user_home_t:s0")
    ctx.pids["httpd"] = k.spawn(apache, ctx, comm="apache2", uid=0, context=system("httpd_t"))
    se = ctx.selinux
    if se is not None:
        ctx.at(0.005, lambda: se.setsebool("httpd_read_user_content", True),
               "setsebool httpd_read_user_content on")


def expect(ctx: Context) -> list[Check]:
    outcomes = [("read" if n["event"] == "read" else n["errno"]) for n in ctx.notes
                if n.get("who") == "httpd"]
    if ctx.mode == "enforcing":
        return [Check("denied (EACCES) until httpd_read_user_content is on, then read",
                      outcomes == [EACCES, "read"], str(outcomes)),
                Check("the denial names user_home_t",
                      bool(ctx.avc(comm="apache2", tclass="file")) and
                      "user_home_t" in ctx.avc(comm="apache2", tclass="file")[0], "see audit")]
    return [Check("without MAC both reads succeed", outcomes == ["read", "read"],
                  str(outcomes))]


SCENARIO = Scenario(
    name="debian-httpd-user-content",
    summary="Debian's httpd_read_user_content boolean opens users' homes to Apache at run time",
    primitives=("files", "booleans", "debian-policy"),
    story=__doc__ or "",
    setup=setup,
    expect=expect,
    default_mode="enforcing",
    binary_policy=DEBIAN_POLICY,
)
