"""neverallow_split: the reporting job reads the totals, never the card data."""

from __future__ import annotations

from typing import Any

from kernel_sim import O_CREAT, O_RDONLY, O_WRONLY, Kernel, SyscallError
from scenarios.labs.model import Case, CaseCtx

TOTALS = b"total=1234.56\n"
CARDS = b"4111111111111111\n"


def ctx_of(t: str) -> str:
    return f"system_u:system_r:{t}:s0"


def world(k: Kernel) -> None:
    k.mkdir("/run/pay", 0o755, label="system_u:object_r:pay_data_t:s0")
    k.install("/run/pay/cards", CARDS, label="system_u:object_r:pay_data_t:s0", mode=0o644)


def payment(p: Any, ctx: CaseCtx) -> Any:
    try:
        fd = yield from p.open("/run/pay/totals", O_WRONLY | O_CREAT, 0o644)
        yield from p.write(fd, TOTALS)
        yield from p.close(fd)
        ctx.done("totals written")
    except SyscallError as e:
        ctx.fail("payment writing the totals", e)
    return 0


def reader(path: str, legit: bool) -> Any:
    def prog(p: Any, ctx: CaseCtx) -> Any:
        yield from p.nanosleep(0.001)
        try:
            fd = yield from p.open(path, O_RDONLY)
            data = yield from p.read(fd, 64)
        except SyscallError as e:
            if legit:
                ctx.fail(f"reading {path}", e)
            return 0
        if legit and data == TOTALS:
            ctx.done("totals read")
        elif not legit:
            ctx.breach(f"read {path}: {data!r}")
        return 0

    return prog


def legit(k: Kernel, ctx: CaseCtx) -> None:
    world(k)
    k.spawn(payment, ctx, comm="payment", context=ctx_of("payment_t"))
    k.spawn(reader("/run/pay/totals", True), ctx, comm="report", context=ctx_of("reporting_t"))


def steal(who: str, path: str) -> Any:
    def setup(k: Kernel, ctx: CaseCtx) -> None:
        world(k)
        k.spawn(payment, ctx, comm="payment", context=ctx_of("payment_t"))
        k.spawn(reader(path, False), ctx, comm=who.removesuffix("_t"), context=ctx_of(who))

    return setup


CASES = [
    Case("nightly-report", "legit", "payment_t writes the totals; reporting_t reads them",
         legit, goals=("totals written", "totals read"),
         hint="which type does /run/pay/totals get when payment_t creates it?"),
    Case("report-reads-cards", "attack", "reporting_t reads the card data",
         steal("reporting_t", "/run/pay/cards")),
    Case("intruder-reads-totals", "attack", "intruder_t reads the totals",
         steal("intruder_t", "/run/pay/totals"), visible=False),
    Case("intruder-reads-cards", "attack", "intruder_t reads the card data",
         steal("intruder_t", "/run/pay/cards"), visible=False),
]
