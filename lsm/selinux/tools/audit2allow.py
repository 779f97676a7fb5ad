"""``audit2allow``: turn denials into a policy module, as real ``audit2allow`` lays it out.

Differences from the real tool, on purpose (when a policy is given):

* **smallest grant**: each ``(source, target, class)`` gets one rule with only the permissions
  that are still denied, each permission explained on its own; a permission a boolean would
  allow is not granted (``#!!!! This avc can be allowed using the boolean 'x'``), nor one a
  constraint blocks (allow rules cannot fix it), nor a role-allow or typebounds problem;
* **neverallow check**: proposals are checked against the policy's neverallow rules (source
  policies only; see :mod:`.neverallow`).
"""

from __future__ import annotations

from collections.abc import Sequence

from attrs import define, field

from lsm.selinux.policy.loader import Policy
from lsm.selinux.ss.services import (
    REASON_ALLOW,
    REASON_BOOLEAN,
    REASON_BOUNDS,
    REASON_CONSTRAINT,
    REASON_RBAC,
    AvReason,
)
from lsm.selinux.tools.audit2why import constraint_causes, explain
from lsm.selinux.tools.audit_parse import AvcDenial

__all__ = ["Group", "Proposal", "format_module", "propose"]

Key = tuple[str, str, str]  # source type, target type ("self" when equal), class


@define(slots=True)
class Group:
    """What to do about one (source, target, class): perms to grant and notes on the rest."""

    key: Key
    grant: set[str] = field(factory=set)
    notes: list[str] = field(factory=list)
    commented: set[str] = field(factory=set)
    warnings: list[str] = field(factory=list)
    #: ioctl commands to grant with ``allowxperm`` (``-x``)
    xperms: set[int] = field(factory=set)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


@define(slots=True)
class Proposal:
    """The groups in log order (the module writer sorts them)."""

    groups: dict[Key, Group] = field(factory=dict)

    def group(self, key: Key) -> Group:
        g = self.groups.get(key)
        if g is None:
            g = self.groups[key] = Group(key)
        return g

    def rules(self) -> list[tuple[str, str, str, tuple[str, ...]]]:
        """The allow rules to emit: ``(stype, ttype, tclass, sorted perms)``."""
        return [(*k, tuple(sorted(g.grant))) for k, g in sorted(self.groups.items()) if g.grant]


def _key(d: AvcDenial) -> Key:
    s, t = d.stype, d.ttype
    return s, ("self" if s == t else t), d.tclass


def _perms_text(perms: Sequence[str]) -> str:
    ps = sorted(perms)
    return ps[0] if len(ps) == 1 else "{ " + " ".join(ps) + " }"


def _note_for(g: Group, r: AvReason, d: AvcDenial, perm: str) -> None:
    if r.code == REASON_BOOLEAN:
        if len(r.booleans) > 1:
            g.note("#!!!! This avc can be allowed using one of the these booleans:\n#     "
                   + ", ".join(n for n, _ in r.booleans))
        else:
            n, v = r.booleans[0]
            g.note(f"#!!!! This avc can be allowed using the boolean '{n}'"
                   f"\n#!!!! (setsebool -P {n} {int(v)}); no allow rule is proposed for it")
    elif r.code == REASON_CONSTRAINT:
        text = ("#!!!! This avc is a constraint violation.  You would need to modify the "
                "attributes of either the source or target types to allow this access."
                "\n#!!!! Allow rules cannot fix it; none is proposed."
                "\n#Constraint rule: \n#\t" + (r.constraint or "").replace("\n", "\n#\t"))
        for a, b in constraint_causes(d.scontext, d.tcontext):
            text += f"\n#\tPossible cause is the source {a} and target {b} are different."
        g.note(text)
    elif r.code == REASON_RBAC:
        g.note(f"#!!!! This avc is a role-based (RBAC) denial: {r.text}; an allow rule for the "
               "types cannot fix it.")
    elif r.code == REASON_BOUNDS:
        g.note("#!!!! This avc is masked by typebounds: add the access to the parent type.")
    elif r.code == REASON_ALLOW:
        g.note("#!!!! This avc is allowed in the current policy")
    g.commented.add(perm)


def propose(denials: Sequence[AvcDenial], policy: Policy | None = None,
            source: str = "<log>", xperms: bool = False) -> Proposal:
    """Group denials and decide, permission by permission, what to grant; with ``xperms``
    (``audit2allow -x``) an ioctl denial also asks for its command in ``allowxperm``."""
    out = Proposal()
    cache: dict[tuple[str, str, str, str], AvReason] = {}
    for d in denials:
        g = out.group(_key(d))
        if xperms and d.ioctlcmd is not None and "ioctl" in d.perms:
            g.xperms.add(d.ioctlcmd)
        for perm in d.perms:
            if policy is None:
                g.grant.add(perm)
                continue
            ck = (d.scontext, d.tcontext, d.tclass, perm)
            r = cache.get(ck)
            if r is None:
                r = cache[ck] = explain(policy, *ck[:3], [perm], f"{source}:{d.lineno}: ")
            if r.code in (2, 1):  # TERULE, DONTAUDIT: an allow rule is the fix
                g.grant.add(perm)
                if r.code == 1:
                    g.note("#!!!! This avc has a dontaudit rule in the current policy")
            elif r.code == REASON_ALLOW and perm == "ioctl" and d.ioctlcmd is not None:
                # allowed as a permission, denied by the command's extended permission
                g.note("#!!!! This avc is allowed in the current policy\n#!!!! This av rule "
                       "may have been overridden by an extended permission av rule")
                g.grant.add(perm)
            else:
                _note_for(g, r, d, perm)
    for g in out.groups.values():
        g.commented -= g.grant
    return out


def format_module(p: Proposal, name: str | None = None) -> str:
    """The module text: ``module`` + ``require`` (with a name) and rules grouped by source."""
    rules = p.rules()
    lines: list[str] = []
    if name is not None:
        types = sorted({t for s, tt, _, _ in rules for t in (s, tt)} - {"self"})
        classes: dict[str, set[str]] = {}
        for _, _, c, perms in rules:
            classes.setdefault(c, set()).update(perms)
        lines += ["", f"module {name} 1.0;", ""]
        if types or classes:
            lines.append("require {")
            lines += [f"\ttype {t};" for t in types]
            lines += [f"\tclass {c} {_perms_text(sorted(ps))};"
                      for c, ps in sorted(classes.items())]
            lines.append("}")
        lines.append("")
    current = None
    for key, g in sorted(p.groups.items()):
        if not g.grant and not g.notes:
            continue
        if key[0] != current:
            if current is not None:
                lines.append("")
            current = key[0]
            lines.append(f"#============= {current} ==============")
        s, t, c = key
        for note in g.notes:
            lines.append("")
            lines.append(note)
        if g.commented:
            lines.append(f"#allow {s} {t}:{c} {_perms_text(sorted(g.commented))};")
        for w in g.warnings:
            lines.append(w)
        if g.grant:
            lines.append(f"allow {s} {t}:{c} {_perms_text(sorted(g.grant))};")
        if g.xperms:
            lines.append(f"allowxperm {s} {t}:{c} ioctl {_xperm_text(sorted(g.xperms))};")
    return "\n".join(lines) + "\n"


def _xperm_text(cmds: Sequence[int]) -> str:
    """sepolgen's XpermSet text: one command bare, else ``{ a b-c }`` (runs as ranges)."""
    runs: list[tuple[int, int]] = []
    for v in cmds:
        if runs and v == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], v)
        else:
            runs.append((v, v))
    if len(runs) == 1 and runs[0][0] == runs[0][1]:
        return hex(runs[0][0])
    return "{ " + " ".join(hex(a) if a == b else f"{hex(a)}-{hex(b)}" for a, b in runs) + " }"
