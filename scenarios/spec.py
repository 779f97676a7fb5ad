"""Declarative scenarios: one TOML file per scenario, turned into a :class:`Scenario`.

The file names the programs (generator functions ``prog(p, ctx, *args)`` in a module of
``scenarios/programs/`` or a ``.py`` beside the file), the processes to spawn, the files to
install, the secrets to follow, the policy and its variants, run-time administrator actions
and the expectations checked after the run.  See README "Writing a scenario" for the keys.
Every problem in a file is reported as :class:`ScenarioFormatError` naming the file, the key
and what was expected.
"""

from __future__ import annotations

import errno as errno_mod
import importlib
import importlib.util
import inspect
import os
import signal as signal_mod
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kernel_sim import Kernel
from scenarios.base import Check, Context, Scenario, Variant

MODES = ("dac", "enforcing", "permissive", "disabled")


class ScenarioFormatError(ValueError):
    """A scenario file is malformed: ``file: key: what was expected``."""

    def __init__(self, file: Path | str, key: str, expected: str) -> None:
        super().__init__(f"{file}: {key}: {expected}")
        self.file, self.key, self.expected = str(file), key, expected


class _Reader:
    """Typed access to one table of the file, with errors naming the key path."""

    def __init__(self, file: Path, table: dict[str, Any], where: str = "") -> None:
        self.file, self.table, self.where = file, table, where

    def key(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else name

    def fail(self, name: str, expected: str) -> ScenarioFormatError:
        return ScenarioFormatError(self.file, self.key(name), expected)

    def get(self, name: str, kind: type | tuple[type, ...], default: Any = ...,
            expected: str = "") -> Any:
        if name not in self.table:
            if default is ...:
                raise self.fail(name, f"missing; expected {expected or _kind(kind)}")
            return default
        value = self.table[name]
        if isinstance(value, bool) and bool not in _tuple(kind):
            raise self.fail(name, f"expected {expected or _kind(kind)}, got {value!r}")
        if not isinstance(value, kind):
            raise self.fail(name, f"expected {expected or _kind(kind)}, got {value!r}")
        return value

    def strings(self, name: str, default: Any = ...) -> list[str]:
        value = self.get(name, (list, str), default, "a string or a list of strings")
        if isinstance(value, str):
            return [value]
        if value is not None and not all(isinstance(v, str) for v in value):
            raise self.fail(name, f"expected a list of strings, got {value!r}")
        return value

    def tables(self, name: str) -> list[_Reader]:
        value = self.get(name, list, [], "an array of tables ([[name]])")
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise self.fail(f"{name}[{i}]", f"expected a table, got {item!r}")
            out.append(_Reader(self.file, item, self.key(f"{name}[{i}]")))
        return out

    def only(self, allowed: set[str]) -> None:
        for k in self.table:
            if k not in allowed:
                raise self.fail(k, f"unknown key; expected one of {', '.join(sorted(allowed))}")


def _tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _kind(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
             list: "a list", dict: "a table"}
    return " or ".join(names.get(k, k.__name__) for k in _tuple(kind))


def _errno(r: _Reader, name: str, value: str) -> int:
    code = getattr(errno_mod, value, None) if value.startswith("E") else None
    if not isinstance(code, int):
        raise r.fail(name, f"expected an errno name like 'EACCES', got {value!r}")
    return code


def _signal(r: _Reader, name: str, value: str) -> int:
    sig = getattr(signal_mod, value, None) if value.startswith("SIG") else None
    if sig is None:
        raise r.fail(name, f"expected a signal name like 'SIGKILL', got {value!r}")
    return int(sig)


def _story(text: str) -> str:
    """The leading ``#`` comment block of the file: the plain-words explanation."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line[1:].removeprefix(" "))
    return "\n".join(lines).strip()


def _load_programs(file: Path, r: _Reader) -> list[Any]:
    mods = []
    for ref in r.strings("programs", []):
        try:
            if ref.endswith(".py"):
                path = file.parent / ref
                spec = importlib.util.spec_from_file_location(f"scenario_prog_{path.stem}", path)
                if spec is None or spec.loader is None or not path.exists():
                    raise ImportError(f"no such file {path}")
                mod = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(mod)
            else:
                mod = importlib.import_module(ref if "." in ref else f"scenarios.programs.{ref}")
        except ImportError as e:
            raise r.fail("programs", f"expected an importable module or a .py file beside "
                                     f"the scenario ({e})") from None
        mods.append(mod)
    return mods


def _program(r: _Reader, name: str, mods: list[Any]) -> Callable[..., Any]:
    ref = r.get(name, str)
    for mod in mods:
        fn = getattr(mod, ref, None)
        if fn is not None:
            if not inspect.isgeneratorfunction(fn):
                raise r.fail(name, f"{ref} is not a generator function prog(p, ctx, ...)")
            return fn
    raise r.fail(name, f"expected a program defined in {', '.join(m.__name__ for m in mods)}"
                       f"; {ref!r} is not")


# -- expectations ------------------------------------------------------------------------------
def _applies(r: _Reader, variants: set[str]) -> set[str] | None:
    v = r.strings("variant", None)
    if v is None:
        return None
    for name in v:
        if name not in variants and name not in MODES:
            raise r.fail("variant", f"expected one of {', '.join(sorted(variants))} or a "
                                    f"mode, got {name!r}")
    return set(v)


Expectation = Callable[[Context], Check]


def _expectation(r: _Reader, secrets: set[str]) -> Expectation:
    common = {"variant", "what"}
    what = r.get("what", str, "")
    if "flow" in r.table:
        r.only(common | {"flow", "to", "reaches"})
        secret, to = r.get("flow", str), r.get("to", str)
        if secret not in secrets:
            raise r.fail("flow", f"expected a declared secret ({', '.join(sorted(secrets))})")
        reaches = r.get("reaches", bool, False)

        def flow(ctx: Context) -> Check:
            chain = ctx.flow.path(secret, to)
            text = " => ".join(h.describe() for h in chain) or "never reached"
            return Check(what or f"secret {secret} {'reaches' if reaches else 'must not reach'}"
                         f" {to}", bool(chain) == reaches, text)
        return flow
    if "syscall" in r.table:
        r.only(common | {"syscall", "by", "outcome", "present", "arg"})
        call, by = r.get("syscall", str), r.get("by", str)
        outcome = r.get("outcome", str, "ok", "'ok' or an errno name")
        code = 0 if outcome == "ok" else _errno(r, "outcome", outcome)
        present = r.get("present", bool, True)
        arg = r.get("arg", (str, int), None)

        def sysc(ctx: Context) -> Check:
            seen = []
            assert ctx.kernel.tracer is not None
            pid = ctx.pids.get(by)
            for ev in ctx.kernel.tracer.events:
                if ev.get("syscall") != call or (ev.get("pid") != pid
                                                 and ev.get("comm") != by[:15]):
                    continue
                if arg is not None and arg not in ev.get("args", []):
                    continue
                seen.append(ev.get("errno", "ok"))
            want = "ok" if code == 0 else errno_mod.errorcode[code]
            hit = want in seen
            verb = "succeeds" if code == 0 else "fails with " + want
            return Check(what or f"{by}: {call} {'' if present else 'never '}{verb}",
                         hit == present, ", ".join(seen) or "not called")
        return sysc
    if "avc" in r.table:
        r.only(common | {"avc", "present", "granted"})
        fields = r.get("avc", dict, expected="a table of AVC fields, e.g. {tclass = \"shm\"}")
        for k, v in fields.items():
            if not isinstance(v, str):
                raise r.fail(f"avc.{k}", f"expected a string, got {v!r}")
        present = r.get("present", bool, True)
        granted = r.get("granted", bool, False)

        def avc(ctx: Context) -> Check:
            recs = ctx.avc(denied=not granted, **fields)
            desc = " ".join(f"{k}={v}" for k, v in fields.items())
            return Check(what or f"an AVC {'granted' if granted else 'denial'} {desc} is "
                                 f"{'logged' if present else 'absent'}",
                         bool(recs) == present, _avc_brief(recs[0]) if recs else "no record")
        return avc
    if "process" in r.table:
        r.only(common | {"process", "exit", "killed_by", "running"})
        name = r.get("process", str)
        if "exit" in r.table:
            want_exit: int | None = r.get("exit", int)
            want_sig = None
        elif "killed_by" in r.table:
            want_exit, want_sig = None, _signal(r, "killed_by", r.get("killed_by", str))
        else:
            want_exit = want_sig = None
        running = r.get("running", bool, False)

        def proc(ctx: Context) -> Check:
            st = ctx.status(name) if name in ctx.pids else None
            seen = _status(st)
            if running:
                return Check(what or f"{name} is still running", st is None, seen)
            if want_sig is not None:
                ok = st is not None and os.WIFSIGNALED(st) and os.WTERMSIG(st) == want_sig
                return Check(what or f"{name} is killed by {signal_mod.Signals(want_sig).name}",
                             ok, seen)
            ok = st is not None and os.WIFEXITED(st) and os.WEXITSTATUS(st) == want_exit
            return Check(what or f"{name} exits with status {want_exit}", ok, seen)
        return proc
    if "note" in r.table:
        r.only(common | {"note", "match", "count", "present"})
        event = r.get("note", str)
        match = r.get("match", dict, {})
        count = r.get("count", int, None)
        present = r.get("present", bool, True)

        def note(ctx: Context) -> Check:
            found = ctx.find(event, **match)
            desc = " ".join(f"{k}={v}" for k, v in match.items())
            if count is not None:
                return Check(what or f"note {event} {desc} seen {count} time(s)",
                             len(found) == count, str(len(found)))
            return Check(what or f"note {event} {desc} {'seen' if present else 'absent'}",
                         bool(found) == present, f"{len(found)} note(s)")
        return note
    if "audit" in r.table:
        r.only(common | {"audit", "present"})
        needle = r.get("audit", str)
        present = r.get("present", bool, True)

        def audit(ctx: Context) -> Check:
            hit = [line for line in ctx.kernel.audit_log() if needle in line]
            return Check(what or f"audit log {'has' if present else 'lacks'} {needle!r}",
                         bool(hit) == present, hit[0][:120] if hit else "no record")
        return audit
    raise ScenarioFormatError(r.file, r.where, "expected one of the keys flow, syscall, avc, "
                                               "process, note, audit")


def _status(st: int | None) -> str:
    if st is None:
        return "running"
    if os.WIFSIGNALED(st):
        return f"killed by {signal_mod.Signals(os.WTERMSIG(st)).name}"
    return f"exit {os.WEXITSTATUS(st)}"


def _avc_brief(line: str) -> str:
    parts = {f.split("=", 1)[0]: f.split("=", 1)[1] for f in line.split() if "=" in f}
    perms = line.split("{ ")[1].split(" }", maxsplit=1)[0] if "{ " in line else "?"
    return (f"{{ {perms} }} {parts.get('scontext', '?')} -> {parts.get('tcontext', '?')}"
            f":{parts.get('tclass', '?')}")


# -- the file ----------------------------------------------------------------------------------
TOP = {"name", "summary", "primitives", "programs", "default_variant", "policy", "variants",
       "secret", "file", "process", "at", "expect"}


def load(path: str | Path) -> Scenario:
    """Read one scenario file; raise :class:`ScenarioFormatError` if it is malformed."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except OSError as e:
        raise ScenarioFormatError(file, "(file)", f"expected a readable file ({e})") from None
    except tomllib.TOMLDecodeError as e:
        raise ScenarioFormatError(file, "(syntax)", f"expected valid TOML ({e})") from None
    r = _Reader(file, data)
    r.only(TOP)
    name = r.get("name", str, expected="the scenario's name (kebab-case)")
    summary = r.get("summary", str, expected="a one-line summary")
    primitives = r.strings("primitives")
    story = _story(text)
    if not story:
        raise ScenarioFormatError(file, "(header)", "expected the file to start with a # "
                                  "comment explaining the attack and the defense")
    mods = _load_programs(file, r)
    if not mods:
        raise r.fail("programs", "missing; expected the module(s) defining the programs")

    pol = _Reader(file, r.get("policy", dict, {}), "policy")
    pol.only({"fragments", "booleans"})
    fragments = pol.strings("fragments", [])
    for f in fragments:
        if not (file.parent / f).exists():
            raise pol.fail("fragments", f"expected existing policy files; {f} not found")
    booleans = _bools(pol, "booleans")

    variants: dict[str, Variant] = {}
    vt = r.get("variants", dict, expected="[variants.vulnerable] and [variants.hardened]")
    for vname, vdata in vt.items():
        if not isinstance(vdata, dict):
            raise r.fail(f"variants.{vname}", "expected a table with mode = ...")
        vr = _Reader(file, vdata, f"variants.{vname}")
        vr.only({"mode", "fragments", "booleans"})
        mode = vr.get("mode", str)
        if mode not in MODES:
            raise vr.fail("mode", f"expected one of {', '.join(MODES)}, got {mode!r}")
        vfr = vr.strings("fragments", None)
        for f in vfr or ():
            if not (file.parent / f).exists():
                raise vr.fail("fragments", f"expected existing policy files; {f} not found")
        vb = dict(booleans)
        vb.update(_bools(vr, "booleans"))
        variants[vname] = Variant(vname, mode, tuple(vfr) if vfr is not None else None,
                                  tuple(sorted(vb.items())))
    for need in ("vulnerable", "hardened"):
        if need not in variants:
            raise r.fail(f"variants.{need}", "missing; every scenario has a vulnerable and a "
                                             "hardened variant")
    default_variant = r.get("default_variant", str, "vulnerable")
    if default_variant not in variants:
        raise r.fail("default_variant", f"expected one of {', '.join(variants)}")

    secrets: dict[str, tuple[bytes, str]] = {}
    for sr in r.tables("secret"):
        sr.only({"name", "value", "owner"})
        secrets[sr.get("name", str)] = (sr.get("value", str).encode(), sr.get("owner", str))

    files = []
    for fr in r.tables("file"):
        fr.only({"path", "kind", "content", "secret", "program", "mode", "uid", "gid", "label"})
        kind = fr.get("kind", str, "file")
        if kind not in ("file", "dir", "fifo", "program"):
            raise fr.fail("kind", f"expected file, dir, fifo or program, got {kind!r}")
        content: Any = fr.get("content", str, "").encode()
        if "secret" in fr.table:
            s = fr.get("secret", str)
            if s not in secrets:
                raise fr.fail("secret", "expected the name of a [[secret]]")
            content = secrets[s][0] + content
        if kind == "program":
            content = _program(fr, "program", mods)
        files.append((kind, fr.get("path", str), content,
                      fr.get("mode", int, 0o755 if kind in ("dir", "program") else 0o644),
                      fr.get("uid", int, 0), fr.get("gid", int, 0), fr.get("label", str, None)))

    procs = []
    for pr in r.tables("process"):
        pr.only({"name", "program", "args", "comm", "uid", "gid", "groups", "context", "start",
                 "caps"})
        pname = pr.get("name", str)
        prog = _program(pr, "program", mods)
        args = pr.get("args", list, [])
        procs.append((pname, prog, args, pr.get("comm", str, pname), pr.get("uid", int, 0),
                      pr.get("gid", int, 0), pr.get("groups", list, []),
                      pr.get("context", str, None), float(pr.get("start", (int, float), 0)),
                      pr.get("caps", int, None)))
    names = [p[0] for p in procs]
    if len(set(names)) != len(names):
        raise r.fail("process", "expected unique process names")
    if not procs:
        raise r.fail("process", "missing; expected at least one [[process]]")

    actions: list[tuple[float, str, Any, str, set[str] | None]] = []
    for ar in r.tables("at"):
        ar.only({"t", "setsebool", "setenforce", "load_policy", "what", "variant"})
        t = float(ar.get("t", (int, float)))
        only = _applies(ar, set(variants))
        if "setsebool" in ar.table:
            actions.append((t, "setsebool", _bools(ar, "setsebool"), ar.get("what", str, ""),
                            only))
        elif "setenforce" in ar.table:
            actions.append((t, "setenforce", ar.get("setenforce", int), ar.get("what", str, ""),
                            only))
        elif "load_policy" in ar.table:
            frs = ar.strings("load_policy")
            for f in frs:
                if not (file.parent / f).exists():
                    raise ar.fail("load_policy", f"expected existing policy files; {f} missing")
            actions.append((t, "load_policy", frs, ar.get("what", str, ""), only))
        else:
            raise ar.fail("(action)", "expected setsebool, setenforce or load_policy")

    expects: list[tuple[set[str] | None, Expectation]] = []
    for er in r.tables("expect"):
        expects.append((_applies(er, set(variants)), _expectation(er, set(secrets))))
    if not expects:
        raise r.fail("expect", "missing; expected at least one [[expect]]")

    def setup(k: Kernel, ctx: Context) -> None:
        for kind, fpath, content, mode, uid, gid, label in files:
            if kind == "dir":
                k.mkdir(fpath, mode, uid=uid, gid=gid, label=label)
            elif kind == "fifo":
                k.mkfifo(fpath, mode, uid=uid, gid=gid, label=label)
            else:
                k.install(fpath, content, label=label, mode=mode, uid=uid, gid=gid)
        for pname, prog, args, comm, uid, gid, groups, context, start, caps in procs:
            def spawn(pname: str = pname, prog: Any = prog, args: list[Any] = args,
                      comm: str = comm, uid: int = uid, gid: int = gid,
                      groups: list[int] = groups, context: str | None = context,
                      caps: int | None = caps) -> None:
                real = [_arg(ctx, a) for a in args]
                ctx.pids[pname] = k.spawn(prog, ctx, *real, comm=comm, uid=uid, gid=gid,
                                          groups=groups, context=context, caps=caps)
            if start > 0:
                ctx.at(start, spawn)
            else:
                spawn()
        se = ctx.selinux
        for t, act, value, what, only in actions:
            if se is None or (only is not None and ctx.variant not in only
                              and ctx.mode not in only):
                continue
            ctx.at(t, _action(se, act, value, file.parent), what or _describe(act, value))

    def expect(ctx: Context) -> list[Check]:
        return [fn(ctx) for when, fn in expects
                if when is None or ctx.variant in when or (ctx.mode in when
                and ctx.variant not in variants)]

    sc = Scenario(name=name, summary=summary, primitives=tuple(primitives), story=story,
                  setup=setup, expect=expect, policy=tuple(fragments),
                  default_mode=variants[default_variant].mode, variants=variants,
                  secrets=secrets, source=str(file), base_dir=file.parent,
                  needs_trace=True)
    return sc


def _arg(ctx: Context, a: Any) -> Any:
    """``"$pid:NAME"`` is the pid of an earlier process; ``"$secret:NAME"`` a secret's bytes."""
    if isinstance(a, str) and a.startswith("$pid:"):
        return ctx.pids[a[5:]]
    if isinstance(a, str) and a.startswith("$secret:"):
        return ctx.secrets[a[8:]]
    return a


def _bools(r: _Reader, name: str) -> dict[str, bool]:
    value = r.get(name, dict, {}, "a table of boolean names = true/false")
    for k, v in value.items():
        if not isinstance(v, bool):
            raise r.fail(f"{name}.{k}", f"expected true or false, got {v!r}")
    return dict(value)


def _describe(act: str, value: Any) -> str:
    if act == "setsebool":
        return "setsebool " + " ".join(f"{k} {'on' if v else 'off'}" for k, v in value.items())
    if act == "setenforce":
        return f"setenforce {value}"
    return "load_policy base + " + " ".join(value)


def _action(se: Any, act: str, value: Any, base: Path) -> Callable[[], None]:
    def run() -> None:
        if act == "setsebool":
            se.setsebool(value)
        elif act == "setenforce":
            se.setenforce(value)
        else:
            from lsm.selinux import BASE_CONF, load_policy

            se.load_policy(load_policy(str(BASE_CONF), *(str(base / f) for f in value)))
    return run
