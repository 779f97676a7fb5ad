"""Random small policies for differential tests against checkpolicy.

Each policy is complete (MLS, two sensitivities, four categories) and valid by construction,
but mixes the statements whose details are easy to get wrong: attribute-keyed rules, ``self``,
``-`` exclusions, ``*`` and ``~`` permission sets, dontaudit merging, conditionals with every
operator (including a final ``not``), tunables, type/role/range transitions, typebounds
that hold, constraints over names and levels.
"""

from __future__ import annotations

import random

_CLASSES = {
    "process": ["fork", "transition", "signal", "sigkill", "ptrace", "getattr", "dyntransition"],
    "file": ["read", "write", "create", "getattr", "open", "unlink", "execute", "entrypoint",
             "ioctl"],
    "dir": ["read", "write", "search", "add_name", "getattr"],
    "msgq": ["create", "read", "write", "enqueue", "associate", "destroy"],
    "fd": ["use"],
}


def random_policy(seed: int) -> str:
    """A complete policy.conf text for ``seed``."""
    rng = random.Random(seed)
    out: list[str] = [f"class {c}" for c in _CLASSES]
    out += ["sid kernel", "sid unlabeled"]
    out += [f"class {c} {{ {' '.join(p)} }}" for c, p in _CLASSES.items()]
    for kind, which in (("default_user", "source"), ("default_role", "target"),
                        ("default_type", "source"), ("default_range", "target low-high")):
        if rng.random() < 0.3:
            out.append(f"{kind} {rng.choice(list(_CLASSES))} {which};")
    out += ["sensitivity s0;", "sensitivity s1;", "dominance { s0 s1 }"]
    out += [f"category c{i};" for i in range(4)]
    out += ["level s0:c0.c3;", "level s1:c0.c3;"]
    ntypes = rng.randint(3, 7)
    types = [f"t{i}_t" for i in range(ntypes)] + ["obj_t"]
    aliases = {"t0_t": "t0_alias_t"} if rng.random() < 0.5 else {}
    attrs = [f"at{i}" for i in range(rng.randint(1, 3))]
    members = {a: rng.sample(types, rng.randint(0, len(types))) for a in attrs}
    mls_sets = rng.sample(types, 2)
    exempt = " ".join(mls_sets)
    out.append(f"mlsconstrain file {{ read write }} ((l1 dom l2) or (t1 == {{ {exempt} }}));")
    out.append("mlsconstrain process signal ((h1 dom h2) and (l1 domby h2));")
    if rng.random() < 0.5:
        out.append("mlsvalidatetrans file ((l1 eq l2) or (h1 domby h2));")
    out += [f"attribute {a};" for a in attrs]
    for t in types:
        mine = [a for a in attrs if t in members[a]]
        alias = f" alias {aliases[t]}" if t in aliases else ""
        out.append(f"type {t}{alias}{''.join(', ' + a for a in mine)};")
    bools = [f"b{i}" for i in range(rng.randint(0, 3))]
    out += [f"bool {b} {rng.choice(['true', 'false'])};" for b in bools]
    tunables = [f"tun{i}" for i in range(rng.randint(0, 2))]
    out += [f"tunable {t} {rng.choice(['true', 'false'])};" for t in tunables]
    names = types + attrs + list(aliases.values())

    def tset(allow_self: bool = False) -> str:
        pick = rng.sample(names, rng.randint(1, 3))
        if allow_self and rng.random() < 0.25:
            pick.append("self")
        if rng.random() < 0.2 and len(pick) > 0:
            pick.append("-" + rng.choice(types))
        return pick[0] if len(pick) == 1 else "{ " + " ".join(pick) + " }"

    def rule(conditional: bool = False) -> str:
        kind = rng.choice(["allow", "allow", "allow", "auditallow", "dontaudit"])
        cls = rng.choice(list(_CLASSES))
        perms = _CLASSES[cls]
        r = rng.random()
        if r < 0.1 and not conditional:
            pset = "*"
        elif r < 0.2:
            pset = "~{ " + rng.choice(perms) + " }"
        else:
            pset = "{ " + " ".join(rng.sample(perms, rng.randint(1, len(perms)))) + " }"
        return f"{kind} {tset()} {tset(True)}:{cls} {pset};"

    out += [rule() for _ in range(rng.randint(4, 14))]
    ops = ["&&", "||", "^", "==", "!="]
    for _ in range(rng.randint(0, 3)):
        pool = tunables if tunables and rng.random() < 0.3 else bools
        if not pool:
            continue
        expr = rng.choice(pool)
        if len(pool) > 1 and rng.random() < 0.6:
            expr = f"{expr} {rng.choice(ops)} {rng.choice(pool)}"
        if rng.random() < 0.4:
            expr = f"!({expr})"
        body = " ".join(rule(True) for _ in range(rng.randint(1, 3)))
        other = " ".join(rule(True) for _ in range(rng.randint(0, 2)))
        out.append(f"if ({expr}) {{ {body} }}" + (f" else {{ {other} }}" if other else ""))
    if rng.random() < 0.5:
        cls = rng.choice(list(_CLASSES))
        perms = " ".join(rng.sample(_CLASSES[cls], min(2, len(_CLASSES[cls]))))
        out.append(f"neverallow {tset()} {tset(True)}:{cls} {{ {perms} }};")
    if rng.random() < 0.4:
        lo = rng.randint(0, 0x20)
        xperms = f"{{ 0x{lo:x} 0x{lo + 1:x}-0x{lo + 9:x} }}"
        out.append(f"allowxperm {tset()} {tset(True)}:file ioctl {xperms};")
    plain = types
    for _ in range(rng.randint(0, 3)):
        s, t = rng.choice(names), rng.choice(names)
        kind = rng.choice(["type_transition", "type_transition", "type_change", "type_member"])
        out.append(f"{kind} {s} {t}:{rng.choice(['file', 'dir'])} {rng.choice(plain)};")
    if rng.random() < 0.5:
        out.append(f'type_transition {rng.choice(names)} {rng.choice(plain)}:file '
                   f'{rng.choice(plain)} "name{rng.randint(0, 3)}";')
    if rng.random() < 0.5:
        out.append(f"range_transition {rng.choice(plain)} {rng.choice(plain)}:process s1:c1;")
    if rng.random() < 0.3:
        parent, child = rng.sample(plain, 2)
        out.append(f"typebounds {parent} {child};")
        out.append(f"allow {parent} {child}:process *;")
    if rng.random() < 0.3:
        out.append(f"permissive {rng.choice(plain)};")
    out += ["role ra;", "role rb;", f"role ra types {{ {' '.join(types)} }};",
            f"role rb types {{ {' '.join(rng.sample(types, 2))} }};"]
    if rng.random() < 0.5:
        out.append("allow ra rb;")
    if rng.random() < 0.5:
        out.append(f"role_transition ra {rng.choice(plain)} rb;")
    out.append("user ua roles { ra rb } level s0 range s0 - s1:c0.c3;")
    out.append("user ub roles rb level s0:c1 range s0:c1 - s1:c1,c2;")
    trusted = rng.choice(names)
    out.append(f"constrain process {{ transition signal }} (u1 == u2 or t1 == {trusted});")
    out.append(f"constrain file write (r1 == r2 or t2 != {{ {' '.join(rng.sample(names, 2))} }});")
    if rng.random() < 0.5:
        out.append(f"validatetrans file (u1 == u2 or t3 == {rng.choice(names)});")
    out.append("sid kernel ua:ra:t0_t:s0 - s1:c0.c3")
    out.append("sid unlabeled ua:object_r:obj_t:s0")
    return "\n".join(out) + "\n"


_BASE_TYPES = ["user_t", "tmp_t", "etc_t", "init_t", "bin_t"]
_BASE_ATTRS = ["domain", "file_type"]


def random_module(seed: int) -> str:
    """A checkmodule-style module on the shipped base: requires, own types, rules."""
    rng = random.Random(seed)
    own = [f"m{i}_t" for i in range(rng.randint(1, 4))]
    own_attr = "m_attr" if rng.random() < 0.5 else None
    classes = {c: p for c, p in _CLASSES.items() if c != "fd"}
    out = [f"module rand{seed} 1.{seed % 10};", "require {"]
    out += [f"\ttype {t};" for t in _BASE_TYPES]
    out += [f"\tattribute {a};" for a in _BASE_ATTRS]
    out.append("\trole user_r;")
    out += [f"\tclass {c} {{ {' '.join(p)} }};" for c, p in classes.items()]
    out.append("}")
    if own_attr:
        out.append(f"attribute {own_attr};")
    for t in own:
        extra = [a for a in (*_BASE_ATTRS, own_attr) if a and rng.random() < 0.5]
        out.append(f"type {t}{''.join(', ' + a for a in extra)};")
    out.append(f"role user_r types {{ {' '.join(own)} }};")
    names = own + _BASE_TYPES + _BASE_ATTRS + ([own_attr] if own_attr else [])

    def tset(allow_self: bool = False) -> str:
        pick = rng.sample(names, rng.randint(1, 3))
        if allow_self and rng.random() < 0.25:
            pick.append("self")
        if rng.random() < 0.2:
            pick.append("-" + rng.choice(own))
        return pick[0] if len(pick) == 1 else "{ " + " ".join(pick) + " }"

    def rule() -> str:
        kind = rng.choice(["allow", "allow", "auditallow", "dontaudit"])
        cls = rng.choice(list(classes))
        perms = " ".join(rng.sample(classes[cls], rng.randint(1, len(classes[cls]))))
        return f"{kind} {tset()} {tset(True)}:{cls} {{ {perms} }};"

    out += [rule() for _ in range(rng.randint(3, 10))]
    if rng.random() < 0.6:
        out.append(f"bool rb{seed} {rng.choice(['true', 'false'])};")
        out.append(f"if (rb{seed}) {{ {rule()} }} else {{ {rule()} }}")
    for _ in range(rng.randint(0, 2)):
        out.append(f"type_transition {rng.choice(names)} {rng.choice(names)}:file "
                   f"{rng.choice(own)};")
    return "\n".join(out) + "\n"
