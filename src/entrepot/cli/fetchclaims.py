"""``entrepot fetch --claims``: the claims in doubt of a fetch's source, shown and settled.

A central fetcher that died between marking a claim *landing* and marking
it done leaves the claim in doubt (:mod:`entrepot.ship.landing`): every run
of a fetch of that source says so (and lists them under ``in_doubt`` in its
JSON), and an operator who knows whether the file reached the holder's spool
settles it: ``--finish NAME`` (it is there: the object is deleted by the next
fetch) or ``--release NAME`` (it is not: the object is fetched again).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from entrepot.cli.console import print_error, say, shown
from entrepot.cli.exitcodes import ExitCode
from entrepot.cli.ledgers import LedgerChoice, open_ledger

if TYPE_CHECKING:
    from entrepot.ship.jobs import RouteJob

__all__ = ["FinishOption", "ReleaseOption", "in_doubt", "settle_by_hand", "warn_in_doubt"]

FinishOption = Annotated[
    str | None,
    typer.Option("--finish", help="A file in doubt landed (its spool has it): finish it."),
]
ReleaseOption = Annotated[
    str | None,
    typer.Option("--release", help="A file in doubt did not land: fetch it again."),
]


def in_doubt(job: RouteJob) -> dict[str, list[dict[str, Any]]]:
    """``{"in_doubt": [...]}``: the claims of a fetch's source its last run found in
    doubt, as JSON (nothing for a ``ship``)."""
    from entrepot.ship.claimed import landing_of

    if job.kind != "fetch":
        return {}
    found = []
    for claim in getattr(job.route, "in_doubt", ()):
        landing = landing_of(claim)
        found.append(
            {
                "name": (claim.detail or {}).get("name"),
                "key": claim.key,
                "holder": claim.holder,
                "host": landing.get("host"),
                "spool": landing.get("spool"),
                "local": landing.get("local"),
                "landing_at": claim.landing_at.isoformat() if claim.landing_at else None,
            }
        )
    return {"in_doubt": found}


def warn_in_doubt(job: RouteJob, as_json: bool) -> None:
    """One line on standard error for each claim in doubt (none in JSON: it is there)."""
    for claim in [] if as_json else in_doubt(job).get("in_doubt", []):
        print_error(
            f"{shown(str(claim['name']))}: in doubt — instance {shown(str(claim['holder']))} "
            f"died landing it into {shown(str(claim['spool']))} on {shown(str(claim['host']))}; "
            "settled when it starts again, or by hand: entrepot fetch … --finish/--release NAME",
            label="in doubt",
        )


def settle_by_hand(
    job: RouteJob, where: LedgerChoice, finish: str | None, release: str | None
) -> int:
    """``--finish NAME`` / ``--release NAME``: the operator's answer for a claim in doubt."""
    from entrepot.ship import landing
    from entrepot.ship.claimed import FetchClaims, source_identity

    if (finish is None) == (release is None) or not job.route.options.claims:
        raise typer.BadParameter("give --claims and one of --finish NAME or --release NAME")
    name = finish if finish is not None else str(release)
    with open_ledger(*where) as ledger:
        instance = job.route.instance or ledger.instance
        claims = FetchClaims(ledger, source_identity(job.route), instance)
        landing.settle_by_hand(claims, name, landed=finish is not None)
    then = "the next fetch deletes the object" if finish else "the next fetch fetches it again"
    say(f"{'finished' if finish else 'released'} the claim in doubt on {shown(name)}: {then}")
    return ExitCode.OK
