"""libsepol's security server driven through ``checkpolicy -b POLICY -d`` (its test menu).

The menu calls libsepol's ``sepol_context_to_sid``, ``sepol_transition_sid`` /
``member_sid`` / ``change_sid``, ``sepol_port_sid``, ``sepol_node_sid``, ``sepol_netif_sid``,
``sepol_fs_use`` and ``sepol_genfs_sid`` on a binary policy: an oracle for what
``selinux.audit2why`` does not expose.  A whole batch of requests is one checkpolicy run; the
answer to each request is the text printed between two ``Choose:`` prompts.

libsepol differs from the kernel in two documented ways that callers must leave out of a
comparison: ``compute_sid`` has no socket-class rule (sockets get ``object_r`` and the target
type instead of the creator's role and type) and no named (filename) transitions.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from tests.oracles import require

_SID = re.compile(r"\bsid (\d+)")
_LIST = re.compile(r"\bsid (\d+) -> scontext (\S+)")
#: the menu reads answers with a fixed 80-byte buffer: longer lines derail the session
MAX_ANSWER = 78

#: menu options
COMPUTE_AV = "0"
CONTEXT_TO_SID = "2"
TRANSITION = "3"
MEMBER = "4"
CHANGE = "5"
LIST_SIDS = "6"
PORT = "9"
NETIF = "a"
NODE = "b"
FS_USE = "c"
GENFS = "d"


def run_menu(policy: str | Path, commands: list[list[str]], *, mls: bool) -> list[str]:
    """Run ``commands`` (each: the option, then its answers) and return each one's output."""
    require("checkpolicy")
    exe = shutil.which("checkpolicy")
    assert exe is not None
    args = [exe, "-b", str(policy), "-d"]
    if mls:
        args.insert(1, "-M")
    too_long = [a for cmd in commands for a in cmd if len(a) > MAX_ANSWER]
    if too_long:
        raise ValueError(f"answers longer than {MAX_ANSWER} characters: {too_long[:3]}")
    script = "".join("\n".join(cmd) + "\n" for cmd in commands) + "q\n"
    proc = subprocess.run(
        args, input=script, capture_output=True, text=True, check=False, timeout=600
    )
    chunks = proc.stdout.split("Choose:")[1:]
    if len(chunks) < len(commands):
        raise RuntimeError(f"checkpolicy -d stopped early: {proc.stderr[-500:]}")
    return chunks[: len(commands)]


def sid_of(text: str) -> int | None:
    """The SID a request printed (None if it printed an error instead)."""
    m = _SID.search(text)
    return int(m.group(1)) if m else None


def _sids(
    policy: str | Path, contexts: list[str], *, mls: bool
) -> tuple[list[list[str]], dict[str, str]]:
    """context_to_sid requests for ``contexts`` and the SID each gets.  A first run learns the
    SIDs; a second run that replays the same requests first can then refer to them."""
    convert = [[CONTEXT_TO_SID, c] for c in contexts]
    sids = [sid_of(out) for out in run_menu(policy, convert, mls=mls)]
    if any(s is None for s in sids):
        bad = [c for c, s in zip(contexts, sids, strict=True) if s is None]
        raise ValueError(f"libsepol rejects contexts: {bad[:5]}")
    return convert, {c: str(s) for c, s in zip(contexts, sids, strict=True)}


def compute_avs(
    policy: str | Path, requests: list[tuple[str, str, str]], *, mls: bool
) -> list[frozenset[str]]:
    """For each ``(scontext, tcontext, class)`` the permission names libsepol allows."""
    convert, sid = _sids(policy, sorted({c for s, t, _ in requests for c in (s, t)}), mls=mls)
    calls = [[COMPUTE_AV, sid[s], sid[t], c] for s, t, c in requests]
    outputs = run_menu(policy, [*convert, *calls], mls=mls)[len(convert) :]
    result: list[frozenset[str]] = []
    for out in outputs:
        m = re.search(r"allowed \{([^}]*)\}", out)
        if m is None:
            raise RuntimeError(f"unexpected compute_av output: {out[:200]!r}")
        result.append(frozenset(m.group(1).split()))
    return result


def compute_sids(
    policy: str | Path, requests: list[tuple[str, str, str, str]], *, mls: bool
) -> list[str]:
    """For each ``(kind, scontext, tcontext, class)`` (kind: transition/member/change) the new
    context libsepol computes, or ``"error"``."""
    convert, sid = _sids(policy, sorted({c for _, s, t, _ in requests for c in (s, t)}), mls=mls)
    option = {"transition": TRANSITION, "member": MEMBER, "change": CHANGE}
    calls = [[option[k], sid[s], sid[t], c] for k, s, t, c in requests]
    outputs = run_menu(policy, [*convert, *calls, [LIST_SIDS]], mls=mls)
    table = {int(n): ctx for n, ctx in _LIST.findall(outputs[-1])}
    results: list[str] = []
    for out in outputs[len(convert) : -1]:
        new = sid_of(out)
        results.append(table.get(new, "error") if new is not None else "error")
    return results


def lookups(policy: str | Path, requests: list[list[str]], *, mls: bool) -> list[str]:
    """Run labelling lookups (port/node/netif/fs_use/genfs menu requests) and return each
    answer normalised to context strings: ``"<sid context>"``, ``"if=<ctx> msg=<ctx>"``,
    ``"use <how> <ctx>"`` or ``"error"``."""
    outputs = run_menu(policy, [*requests, [LIST_SIDS]], mls=mls)
    table = {int(n): ctx for n, ctx in _LIST.findall(outputs[-1])}
    answers: list[str] = []
    for req, out in zip(requests, outputs[:-1], strict=True):
        if req[0] == NETIF:
            m = re.search(r"if_sid (\d+) default_msg_sid (\d+)", out)
            answers.append(
                f"if={table[int(m.group(1))]} msg={table[int(m.group(2))]}" if m else "error"
            )
        elif req[0] == FS_USE:
            how = re.search(r"fstype\?\s+([^\n]*)\n", out)
            sid = sid_of(out)
            answers.append(
                f"{how.group(1).strip() if how else '?'} {table.get(sid, '-') if sid else '-'}"
            )
        else:
            sid = sid_of(out)
            answers.append(table.get(sid, "error") if sid is not None else "error")
    return answers
