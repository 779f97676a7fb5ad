"""Shared helpers: tiny policies, compiling text, and the checkpolicy / audit2why oracles."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

from lsm.selinux.policy.base import BASE_CONF, splice
from lsm.selinux.policy.compiler import compile_text
from lsm.selinux.ss.policydb import MlsLevel, PolicyDB

POLICIES = Path(__file__).with_name("policies")

#: the head of a minimal non-MLS policy: classes, SIDs, permissions
MINI_HEAD = """\
class process
class file
class dir
class msgq
sid kernel
sid unlabeled
common file { read write getattr create open unlink ioctl }
class process { fork transition signal dyntransition sigkill ptrace }
class file inherits file { execute entrypoint }
class dir inherits file { search add_name }
class msgq { create enqueue read write associate }
"""

#: the tail of the minimal policy: a user and the SID contexts
MINI_TAIL = """\
user sys_u roles { sys_r };
sid kernel sys_u:sys_r:a_t
sid unlabeled sys_u:object_r:a_t
"""

#: declarations most mini tests need (between head and tail)
MINI_DECLS = """\
attribute doms;
type a_t, doms;
type b_t, doms;
type c_t;
role sys_r;
role sys_r types { a_t b_t };
"""


def mini(body: str = "", *, decls: str = MINI_DECLS, head: str = MINI_HEAD,
         tail: str = MINI_TAIL) -> PolicyDB:
    """Compile the minimal policy with ``body`` spliced in before the users."""
    return compile_text(("mini.conf", head + decls + body + "\n" + tail))


def with_base(fragment: str, name: str = "local.te") -> PolicyDB:
    """Compile the shipped base plus a fragment or module given as text."""
    return compile_text((str(BASE_CONF), BASE_CONF.read_text()), (name, fragment))


def checkpolicy(conf_text: str, tmp: Path, *, mls: bool = True) -> Path:
    """Build ``conf_text`` with real checkpolicy (policy version 33); return the binary."""
    src, out = tmp / "policy.conf", tmp / "policy.33"
    src.write_text(conf_text)
    cmd = ["checkpolicy", *(["-M"] if mls else []), "-c", "33", "-o", str(out), str(src)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def checkpolicy_fragment(fragment: str, tmp: Path) -> Path:
    """Real checkpolicy on the base with ``fragment`` spliced into its TE section."""
    return checkpolicy(splice(fragment), tmp)


def checkmodule_link(module: Path, tmp: Path, name: str) -> Path:
    """The real module pipeline: checkmodule base + module, package, link, expand.

    ``name`` is the module's name (checkmodule wants it to match the output file).
    """
    steps = [
        ["checkmodule", "-M", "-o", str(tmp / "base.mod"), str(BASE_CONF)],
        ["checkmodule", "-M", "-m", "-o", str(tmp / f"{name}.mod"), str(module)],
        ["semodule_package", "-o", str(tmp / "base.pp"), "-m", str(tmp / "base.mod")],
        ["semodule_package", "-o", str(tmp / f"{name}.pp"), "-m", str(tmp / f"{name}.mod")],
        ["semodule_link", "-o", str(tmp / "out.lnk"), str(tmp / "base.pp"),
         str(tmp / f"{name}.pp")],
        ["semodule_expand", str(tmp / "out.lnk"), str(tmp / "policy.33")],
    ]
    for cmd in steps:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, " ".join(cmd) + "\n" + proc.stdout + proc.stderr
    return tmp / "policy.33"


# -- contexts for decision comparisons


def level_str(db: PolicyDB, level: MlsLevel) -> str:
    """``s0:c1,c3`` form of a level."""
    text = db.sens_name(level.sens)
    cats = [db.cat_name(v) for v in range(1, db.cats.nprim + 1) if level.cats >> (v - 1) & 1]
    return text + (":" + ",".join(cats) if cats else "")


def object_contexts(db: PolicyDB) -> dict[str, str]:
    """One valid context per type: ``<first user>:object_r:<type>[:<user's low level>]``."""
    user = next(iter(db.users))
    suffix = ""
    if db.mls:
        assert user.range is not None
        suffix = ":" + level_str(db, user.range.low)
    return {t.name: f"{user.name}:object_r:{t.name}{suffix}" for t in db.types if not t.attribute}


def sampled_contexts(db: PolicyDB, rng: random.Random, n: int = 60) -> list[str]:
    """Valid process-like contexts: users x their roles x the roles' types x levels in range."""
    pool: list[str] = []
    for user in db.users:
        for role in db.roles:
            if role.value == 1 or not user.roles >> (role.value - 1) & 1:
                continue
            for t in db.types:
                if t.attribute or not role.types >> (t.value - 1) & 1:
                    continue
                base = f"{user.name}:{role.name}:{t.name}"
                if not db.mls:
                    pool.append(base)
                    continue
                assert user.range is not None
                low, high = user.range.low, user.range.high
                levels = {level_str(db, low), level_str(db, high)}
                for _ in range(2):
                    sens = rng.randint(low.sens, high.sens)
                    allowed = next(s for s in db.levels if s.level.sens == sens).level.cats
                    cats = rng.getrandbits(max(db.cats.nprim, 1)) & high.cats & allowed
                    cats |= low.cats
                    levels.add(level_str(db, MlsLevel(sens, cats)))
                for lo in sorted(levels):
                    pool.append(f"{base}:{lo}")
                pool.append(f"{base}:{level_str(db, low)}-{level_str(db, high)}")
    rng.shuffle(pool)
    return pool[:n]


#: audit2why's BOUNDS code
_BOUNDS = 6


def compare_decisions(db: PolicyDB, binary: Path,
                      triples: list[tuple[str, str, str]]) -> tuple[int, list[str]]:
    """Compare our compute_av with libsepol's for each (scon, tcon, tclass).

    For each triple, libsepol must ALLOW exactly our allowed set and refuse every other
    permission of the class (one query per refused permission).  Returns the number of
    triples checked and a description of each disagreement.
    """
    from lsm.selinux.policy.loader import Policy
    from tests.oracles import audit2why_analyze

    policy = Policy(db)
    queries: list[tuple[str, str, str, list[str]]] = []
    expect: list[tuple[int, bool]] = []
    for i, (scon, tcon, tclass) in enumerate(triples):
        allowed = policy.compute_av(scon, tcon, tclass).allowed
        if allowed:
            queries.append((scon, tcon, tclass, sorted(allowed)))
            expect.append((i, True))
        for perm in db.lookup_class(tclass).all_perms:
            if perm not in allowed:
                queries.append((scon, tcon, tclass, [perm]))
                expect.append((i, False))
    results = audit2why_analyze(binary, queries)
    bad: dict[int, str] = {}
    for query, (code, _), (i, ours) in zip(queries, results, expect, strict=True):
        if code == _BOUNDS:
            # libsepol flags BOUNDS for *every* permission once typebounds masked any one of
            # them (sepol_compute_av_reason), so the answer says nothing about this perm
            continue
        if (code == 0) != ours and i not in bad:
            bad[i] = f"{' '.join(query[:3])} {query[3]}: ours={'allow' if ours else 'deny'} " \
                     f"libsepol={code}"
    return len(triples), list(bad.values())
