"""mprotect(2): argument errors, holes, VM_MAYWRITE, splitting a mapping, and the
``file_mprotect`` hook once per mapping of the range."""

from __future__ import annotations

from typing import Any

from kernel_sim import Kernel
from kernel_sim import constants as c
from lsm.module import BpfLsm
from tests.kernel.helpers import Gen, check_ok, err

PAGE = c.PAGE_SIZE
RW = c.PROT_READ | c.PROT_WRITE


def test_errors_and_a_split_mapping() -> None:
    out: dict[str, Any] = {}
    calls: list[tuple[int, int, int]] = []
    m = BpfLsm("watch")

    @m.hook("file_mprotect")
    def file_mprotect(vma: Any, reqprot: int, prot: int) -> int:
        calls.append((vma.start, vma.size, prot))
        return 0

    def prog(p: Any) -> Gen:
        a = yield from p.mmap(0, 3 * PAGE, RW, c.MAP_PRIVATE | c.MAP_ANONYMOUS)
        out["a"] = a
        out["unaligned"] = yield from err(p.mprotect(a + 1, PAGE, c.PROT_READ))
        out["bad_prot"] = yield from err(p.mprotect(a, PAGE, 0x100))
        out["hole"] = yield from err(p.mprotect(a, 4 * PAGE, c.PROT_READ))  # past the end
        out["zero"] = yield from err(p.mprotect(a, 0, c.PROT_READ))
        out["middle"] = yield from err(p.mprotect(a + PAGE, PAGE, c.PROT_READ))
        p.mem_write(a, 0, b"ok")  # the first page is still writable
        out["prots"] = sorted((mp.start - a, mp.size, mp.prot)
                              for mp in p.process.mm.maps.values() if mp.start >= a)
        fd = yield from p.open("/tmp/ro", c.O_RDONLY)
        ro = yield from p.mmap(0, PAGE, c.PROT_READ, c.MAP_SHARED, fd)
        out["maywrite"] = yield from err(p.mprotect(ro, PAGE, RW))
        p.mem_write(a + PAGE, 0, b"x")  # read-only now: SIGSEGV

    k = Kernel(lsms=[m])
    k.install("/tmp/ro", b"r" * PAGE, mode=0o644)
    pid = k.spawn(prog)
    k.run()
    assert k.exit_status(pid) is not None and k.exit_status(pid) & 0x7F == c.SIGSEGV
    assert out["unaligned"] == out["bad_prot"] == c.EINVAL
    assert out["hole"] == c.ENOMEM and out["zero"] == 0 and out["middle"] == 0
    assert out["prots"][:3] == [(0, PAGE, RW), (PAGE, PAGE, c.PROT_READ), (2 * PAGE, PAGE, RW)]
    assert out["maywrite"] == c.EACCES
    assert calls == [(out["a"], 3 * PAGE, c.PROT_READ)]  # the hook sees the whole mapping


def test_a_refusal_leaves_the_mapping_as_it_was() -> None:
    out: dict[str, Any] = {}
    m = BpfLsm("noexec")

    @m.hook("file_mprotect")
    def file_mprotect(vma: Any, reqprot: int, prot: int) -> int:
        return -c.EACCES if prot & c.PROT_EXEC else 0

    def prog(p: Any) -> Gen:
        a = p.mem_alloc(PAGE)
        out["exec"] = yield from err(p.mprotect(a, PAGE, c.PROT_READ | c.PROT_EXEC))
        out["prot"] = p.process.mm.find(a).prot

    k = Kernel(lsms=[m])
    pid = k.spawn(prog)
    k.run()
    check_ok(k, pid)
    assert out == {"exec": c.EACCES, "prot": RW}
