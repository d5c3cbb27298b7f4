"""An evaluation for a person: the headline figures in words, and scores by archetype."""
from __future__ import annotations

from rich.console import Console
from rich.table import Table

from contract.categories import CATEGORIES
from scenarios.verdicts.evaluate import INTENT_THRESHOLD, Evaluation
from scenarios.verdicts.measures import PLANTED_INTENT


def render(evaluation: Evaluation, console=None) -> None:
    console = console or Console()
    sep, fig = evaluation.separation, evaluation.figures
    console.print(f"[bold]Evaluation[/] of {evaluation.contacts:,} contacts (seed {evaluation.seed}, "
                  f"{evaluation.days} days, {evaluation.events:,} provider events, as of {evaluation.as_of})")
    console.print(f"'hot' as a detector of planted intent: precision [bold]{_pct(sep.precision)}[/], recall "
                  f"[bold]{_pct(sep.recall)}[/] ({sep.true_positives} of {sep.planted} planted sellers/buyers hot; "
                  f"{sep.hot} hot in all)")
    for intent, row in sep.per_intent.items():
        console.print(f"  planted {intent}s: {row['hot']} of {row['planted']} hot (recall {_pct(row['recall'])})")
    console.print(f"ranking: auc_seller [bold]{_num(fig['auc_seller'])}[/] (planted sellers vs other owners and "
                  f"sellers, by seller_likelihood), auc_buyer [bold]{_num(fig['auc_buyer'])}[/] (planted buyers vs "
                  f"other buyers, by buyer_activity_score)")
    console.print(f"steadiness: weekly_category_change_rate [bold]{_pct(fig['weekly_category_change_rate'])}[/] "
                  f"(people whose behaviour never changes), steady_cold_share [bold]{_pct(fig['steady_cold_share'])}[/] "
                  f"(steady readers opening half their mail or more, scored cold)")
    it = evaluation.intent
    console.print(f"seller_likelihood or buyer_activity_score >= {INTENT_THRESHOLD} as the detector: precision "
                  f"[bold]{_pct(it.precision)}[/], recall [bold]{_pct(it.recall)}[/]")
    console.print(f"machine-only engagement rated hot: [bold]{evaluation.machine_hot}[/] (privacy-proxy openers, bot-clicked)")
    table = Table(title="Propensity score by archetype")
    for column in ("archetype", "n", "min", "p25", "median", "p75", "max", *CATEGORIES):
        table.add_column(column, justify="left" if column == "archetype" else "right", no_wrap=True)
    for name, d in evaluation.by_archetype.items():
        planted = " *" if name in PLANTED_INTENT else ""
        table.add_row(name + planted, str(d.n), str(d.min), f"{d.p25:g}", f"{d.median:g}", f"{d.p75:g}", str(d.max),
                      *(str(d.categories[c]) for c in CATEGORIES))
    console.print(table)
    console.print("* planted intent (surging sellers, active buyers)")


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
