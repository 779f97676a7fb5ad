"""Read AVC denials from an audit log: our format, auditd's, dmesg's and bare ``avc:`` lines.

Accepted record shapes (the AVC body is the kernel's, see :func:`lsm.selinux.audit.format_avc`)::

    type=AVC msg=audit(1700000000.123:45): avc:  denied  { read } for  pid=.. scontext=..
    audit: type=1400 audit(1700000000.123:45): avc:  denied  { read } for ...
    avc:  denied  { read } for ...

Other records (SYSCALL, PATH, SELINUX_ERR, ...) and ``granted`` AVCs are skipped, as
``audit2allow`` skips them.  A line that claims to be an AVC but cannot be parsed is an error
(:class:`~lsm.selinux.tools.ToolError`) naming the file and line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from attrs import frozen

from lsm.selinux.tools import ToolError

__all__ = ["AvcDenial", "parse_lines", "read_log"]

_STAMP = re.compile(r"audit\((\d+(?:\.\d+)?):(\d+)\)")
_AVC = re.compile(r"avc:\s+(denied|granted)\s+\{([^}]*)\}\s+for\s(.*)$")
_FIELD = re.compile(r'(\w+)=("[^"]*"|\S+)')


@frozen
class AvcDenial:
    """One denied AVC record: the access and where it was read from."""

    scontext: str
    tcontext: str
    tclass: str
    perms: tuple[str, ...]
    permissive: bool
    comm: str
    serial: int
    line: str
    lineno: int
    #: the ioctl command of an ``ioctl`` denial (``ioctlcmd=0x5403``), if the record has one
    ioctlcmd: int | None = None

    @property
    def stype(self) -> str:
        """The source type (third field of the context)."""
        return _ctx_type(self.scontext)

    @property
    def ttype(self) -> str:
        """The target type."""
        return _ctx_type(self.tcontext)


def _ctx_type(ctx: str) -> str:
    return ctx.split(":")[2]


def _is_avc_line(line: str) -> bool:
    return "type=AVC" in line or "type=1400" in line or line.lstrip().startswith("avc:")


def parse_lines(lines: Iterable[str], source: str = "<log>") -> list[AvcDenial]:
    """Every denial in ``lines``; raises :class:`ToolError` for a malformed AVC record."""
    out: list[AvcDenial] = []
    for lineno, raw in enumerate(lines, 1):
        line = raw.rstrip("\n")
        if not _is_avc_line(line):
            continue
        m = _AVC.search(line)
        if m is None:
            raise ToolError(f"{source}:{lineno}: malformed AVC record: {line[:120]!r}")
        if m.group(1) != "denied":
            continue
        perms = tuple(m.group(2).split())
        fields = {k: v.strip('"') for k, v in _FIELD.findall(m.group(3))}
        missing = [k for k in ("scontext", "tcontext", "tclass") if k not in fields]
        if missing or not perms:
            what = f"no {', '.join(missing)}" if missing else "no permissions"
            raise ToolError(f"{source}:{lineno}: malformed AVC record ({what}): {line[:120]!r}")
        for key in ("scontext", "tcontext"):
            if fields[key].count(":") < 2:
                raise ToolError(f"{source}:{lineno}: malformed AVC record: bad {key} "
                                f"{fields[key]!r}")
        stamp = _STAMP.search(line)
        try:
            ioctlcmd = int(fields["ioctlcmd"], 16) if "ioctlcmd" in fields else None
        except ValueError:
            raise ToolError(f"{source}:{lineno}: malformed AVC record: bad ioctlcmd "
                            f"{fields['ioctlcmd']!r}") from None
        out.append(AvcDenial(
            scontext=fields["scontext"], tcontext=fields["tcontext"], tclass=fields["tclass"],
            perms=perms, permissive=fields.get("permissive") == "1",
            comm=fields.get("comm", ""), serial=int(stamp.group(2)) if stamp else 0,
            line=line.strip(), lineno=lineno, ioctlcmd=ioctlcmd,
        ))
    return out


def read_log(path: str | Path) -> list[AvcDenial]:
    """The denials of the log file at ``path`` (``-`` is standard input)."""
    if str(path) == "-":
        import sys

        return parse_lines(sys.stdin, "<stdin>")
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise ToolError(f"cannot read audit log {path}: {e.strerror or e}") from None
    return parse_lines(text.splitlines(), str(path))
