"""mmap/munmap (Linux ``mm/mmap.c``, ``mm/util.c``) on the simulator's address spaces.

A shared file mapping's backing *is* the inode's contents (``inode.data``), so every process
mapping the file, and read()/write() on it, see the same bytes; a private mapping gets a copy.
A shared anonymous mapping is backed by its own object (Linux: a shmem file), which fork
shares with the child.

Order, as in ``ksys_mmap_pgoff`` -> ``vm_mmap_pgoff`` -> ``do_mmap``: offset alignment
(EINVAL), the fd (EBADF), then ``security_mmap_file`` **before** ``do_mmap``'s own checks
(length, MAP_SHARED/MAP_PRIVATE, the file's open mode -> EACCES).  Deliberate differences:
``security_mmap_addr`` (mmap_min_addr) is not modelled; a private file mapping is a snapshot
taken at mmap time (Linux shares pages until the first write); accesses past the end of a
mapped file extend it instead of raising SIGBUS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kernel_sim import constants as c
from kernel_sim.errors import SyscallError
from kernel_sim.namei import check
from kernel_sim.process import Mapping
from kernel_sim.vfs import FMODE_READ, FMODE_WRITE

if TYPE_CHECKING:
    from kernel_sim.process import AddressSpace
    from kernel_sim.task import Task
    from kernel_sim.vfs import File

MAP_TYPE = 0x0F
PAGE_MASK = ~(c.PAGE_SIZE - 1)


class AnonShmem:
    """The object behind a MAP_SHARED|MAP_ANONYMOUS mapping (Linux: ``/dev/zero (deleted)``)."""

    __slots__ = ("data",)

    def __init__(self, size: int) -> None:
        self.data = bytearray(size)


def page_align(n: int) -> int:
    return (n + c.PAGE_SIZE - 1) & PAGE_MASK


def mmap_region(mm: AddressSpace, addr: int, size: int, m_fixed: bool) -> int:
    """Pick the address: the hint with MAP_FIXED (replacing what was there), else a free one."""
    if m_fixed:
        unmap_range(mm, addr, size)
        return addr
    return mm.place(size)


def do_mmap(task: Task, addr: int, length: int, prot: int, flags: int, fd: int,
            offset: int) -> int:
    if offset % c.PAGE_SIZE or offset < 0:
        raise SyscallError(c.EINVAL)
    k = task.kernel
    file: File | None = None
    if not flags & c.MAP_ANONYMOUS:
        file = task.process.files.get(fd)
    check(k.security.mmap_file(file, prot, prot, flags))
    if not length or length < 0:
        raise SyscallError(c.EINVAL)
    size = page_align(length)
    maptype = flags & MAP_TYPE
    if maptype not in (c.MAP_SHARED, c.MAP_PRIVATE):
        raise SyscallError(c.EINVAL)
    fixed = bool(flags & c.MAP_FIXED)
    if fixed and addr % c.PAGE_SIZE:
        raise SyscallError(c.EINVAL)
    mm = task.process.mm
    if file is None:
        if maptype == c.MAP_SHARED:
            obj = AnonShmem(size)
            m = Mapping(0, size, obj.data, prot, True, "anon-shared", obj)
        else:
            m = Mapping(0, size, bytearray(size), prot, False, "anon")
        m.start = mmap_region(mm, addr, size, fixed)
        mm.add(m)
        return m.start
    inode = file.inode
    if maptype == c.MAP_SHARED:
        if prot & c.PROT_WRITE and not file.f_mode & FMODE_WRITE:
            raise SyscallError(c.EACCES)
    if not file.f_mode & FMODE_READ:
        raise SyscallError(c.EACCES)
    if not inode.is_reg() or file.ops.kind != "regular":
        raise SyscallError(c.ENODEV)  # no ->mmap: mqueue files, pipes, sockets, directories
    if inode.data is None:
        inode.data = bytearray()
    if maptype == c.MAP_SHARED:
        m = Mapping(0, size, inode.data, prot, True, "file", inode, offset, file)
    else:
        snap = bytearray(inode.data[offset:offset + size])
        snap.extend(bytes(size - len(snap)))
        m = Mapping(0, size, snap, prot, False, "file-private", inode, file=file)
    m.start = mmap_region(mm, addr, size, fixed)
    mm.add(m)
    return m.start


def unmap_range(mm: AddressSpace, addr: int, size: int) -> None:
    """Remove [addr, addr+size) from ``mm``, splitting mappings that straddle its ends."""
    end = addr + size
    for m in [m for m in mm.maps.values() if m.start < end and addr < m.start + m.size]:
        _cut(mm, m, addr, end)


def _cut(mm: AddressSpace, m: Mapping, addr: int, end: int) -> Mapping:
    """Take the part of ``m`` inside [addr, end) out of ``mm`` (the parts outside stay
    mapped, as mappings of their own) and return it."""
    del mm.maps[m.start]
    lo, hi = max(m.start, addr), min(m.start + m.size, end)
    if m.start < lo:
        mm.add(m.piece(m.start, lo - m.start))
    if hi < m.start + m.size:
        mm.add(m.piece(hi, m.start + m.size - hi))
    return m.piece(lo, hi - lo)


def do_munmap(task: Task, addr: int, length: int) -> int:
    """munmap(2): EINVAL for an unaligned address or a zero length; unmapped holes are fine."""
    if not isinstance(addr, int) or addr % c.PAGE_SIZE or not length or length < 0:
        raise SyscallError(c.EINVAL)
    unmap_range(task.process.mm, addr, page_align(length))
    return 0


_PROT_SEM = 0x8


def do_mprotect(task: Task, addr: int, length: int, prot: int) -> int:
    """mprotect(2): EINVAL for an unaligned address or unknown bits, ENOMEM for a hole in the
    range, EACCES to make a shared file mapping writable through a read-only file; then, vma
    by vma, ``security_file_mprotect`` and the change (an error leaves the earlier ones
    changed, as Linux's loop does)."""
    if (not isinstance(addr, int) or not isinstance(length, int) or not isinstance(prot, int)
            or addr % c.PAGE_SIZE or length < 0
            or prot & ~(c.PROT_READ | c.PROT_WRITE | c.PROT_EXEC | _PROT_SEM)):
        raise SyscallError(c.EINVAL)
    prot &= ~_PROT_SEM  # accepted and ignored, as on x86
    if not length:
        return 0
    end = addr + page_align(length)
    mm = task.process.mm
    vmas = sorted((m for m in mm.maps.values() if m.start < end and addr < m.start + m.size),
                  key=lambda m: m.start)
    pos = addr
    for m in vmas:
        if m.start > pos:
            raise SyscallError(c.ENOMEM)
        pos = m.start + m.size
    if pos < end:
        raise SyscallError(c.ENOMEM)
    k = task.kernel
    for m in vmas:
        if (m.shared and prot & c.PROT_WRITE and m.file is not None
                and not m.file.f_mode & FMODE_WRITE):
            raise SyscallError(c.EACCES)  # no VM_MAYWRITE
        check(k.security.file_mprotect(m, prot, prot))
        middle = _cut(mm, m, addr, end)
        middle.prot = prot
        mm.add(middle)
    return 0


def mem_alloc(task: Task, size: int) -> int:
    """Zeroed private anonymous memory for the calling process (malloc; no syscall, no hook).

    The threads of a process share ``process.mm``, so they all see it; fork copies it.
    """
    if size <= 0:
        raise SyscallError(c.EINVAL)
    mm = task.process.mm
    size = page_align(size)
    m = Mapping(mm.place(size), size, bytearray(size), c.PROT_READ | c.PROT_WRITE, False,
                "heap")
    mm.add(m)
    return m.start
