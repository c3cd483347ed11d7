"""The paper's claims, each beside this run's measurement and a verdict.

Every notebook ends with its claims as a table (``claims_frame``) and saves them to
``run_dir/claims/<notebook>.json`` (``save_claims``); the index page gathers them into one
scorecard (``load_claims``). A verdict is computed from the run's own numbers, never typed in:
``holds`` is True, False, ``NOISE`` where the difference is no larger than the spread seen between
repeats (seeds, machines; recorded in benchmarks/), or None where the claim cannot be measured
here (``note`` says why). ``findings`` turns a notebook's claims into its closing paragraph.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from dalnb.io import atomic_write_json
from dalnb.run import Run

__all__ = [
    "Claim",
    "NOISE",
    "verdict",
    "verdict_class",
    "beyond",
    "findings",
    "count_verdicts",
    "lower",
    "lower_in_every",
    "Margin",
    "paired_margin",
    "at_most",
    "falls",
    "claims_frame",
    "save_claims",
    "load_claims",
]

#: the verdict of a difference no larger than the spread between repeats
NOISE = "within noise"
VERDICTS = {True: "holds", False: "does not hold", NOISE: "within noise", None: "not measured here"}


@dataclass(frozen=True)
class Claim:
    claim: str  # what the paper says, in one sentence
    paper: str  # the paper's own figure, with its dataset
    ours: str  # this run's figure, with its data
    holds: bool | str | None  # NOISE: inside the spread between repeats; None: not measurable here
    note: str = ""

    def __post_init__(self):
        for k in ("claim", "paper", "ours", "note"):
            if not isinstance(getattr(self, k), str):
                raise ValueError(f"Claim.{k}: expected a str, got {type(getattr(self, k)).__name__}")
        if not self.claim.strip():
            raise ValueError("Claim.claim: expected a sentence, got an empty string")
        h = self.holds
        if h is not None and h != NOISE and type(h).__name__ not in ("bool", "bool_"):  # numpy's bool is fine
            raise ValueError(f"Claim.holds: expected True, False, {NOISE!r} or None, got {h!r} ({type(h).__name__})")
        object.__setattr__(self, "holds", h if h is None or h == NOISE else bool(h))
        if self.holds is None and not self.note:
            object.__setattr__(self, "note", "no finite figure in this run")


def verdict(holds: bool | str | None) -> str:
    return VERDICTS[holds]


def verdict_class(holds: bool | str | None) -> str:
    """A CSS class name for a verdict: vtrue, vfalse, vnoise, vnone."""
    return "vnoise" if holds == NOISE else f"v{str(holds).lower()}"


def beyond(gain: float, spread: float | None) -> bool | str | None:
    """A gain (positive: in the claim's direction) weighed against the spread seen between repeats
    of the same measurement: True when it exceeds the spread, False when a loss does, ``NOISE``
    when it is no larger than the spread. Without a measured spread (None or NaN) the sign decides;
    None when the gain is not finite."""
    if not _finite(gain):
        return None
    if spread is None or not math.isfinite(float(spread)) or abs(float(gain)) > float(spread):
        return float(gain) > 0
    return NOISE


def _finite(*xs) -> bool:
    return all(x is not None and math.isfinite(float(x)) for x in xs)


def lower(a: float, b: float) -> bool | None:
    """``a < b``; None when either is missing or not finite (a NaN must not read as "does not hold")."""
    return float(a) < float(b) if _finite(a, b) else None


def at_most(a: float, b: float) -> bool | None:
    """``a <= b`` (a goal such as "at most 0.8x"); None when either is missing or not finite."""
    return float(a) <= float(b) if _finite(a, b) else None


def lower_in_every(pairs: Sequence[tuple[float, float]]) -> bool | None:
    """``a < b`` in every (a, b) pair, e.g. one per seed: a claim of a consistent gain holds only
    where no repeat contradicts it. None when no pair has two finite figures."""
    decided = [lower(a, b) for a, b in pairs]
    decided = [d for d in decided if d is not None]
    return all(decided) if decided else None


@dataclass(frozen=True)
class Margin:
    """How far ``a`` lies below or above ``b`` over repeats (e.g. seeds): ``mean`` of ``a - b``
    (negative: ``a`` is lower), its sample standard deviation ``sd`` (NaN with fewer than two)
    and ``n``, the pairs with two finite figures."""

    mean: float
    sd: float
    n: int

    def __str__(self) -> str:
        if self.n == 0:
            return "no pair with two finite figures"
        spread = f" +- {self.sd:.1f} (sd)" if self.n > 1 else ""
        return f"{self.mean:+.1f}{spread} mm over {self.n} seed{'s' if self.n > 1 else ''}"


def paired_margin(pairs: Sequence[tuple[float, float]]) -> Margin:
    """The mean and spread of ``a - b`` over the (a, b) pairs with two finite figures."""
    d = [float(a) - float(b) for a, b in pairs if _finite(a, b)]
    if not d:
        return Margin(math.nan, math.nan, 0)
    return Margin(statistics.mean(d), statistics.stdev(d) if len(d) > 1 else math.nan, len(d))


def falls(values: Sequence[float]) -> bool | None:
    """True when every value is below the one before it; None with a missing value or fewer than two."""
    v = list(values)
    if len(v) < 2 or not _finite(*v):
        return None
    return all(float(b) < float(a) for a, b in zip(v, v[1:]))


def count_verdicts(claims) -> str:
    """'a holds, b within noise, ...': how many claims have each verdict (verdicts with none left out)."""
    claims = list(claims)
    n = {v: sum(1 for c in claims if _same(c.holds, h)) for h, v in VERDICTS.items()}
    plural = {"holds": "hold", "does not hold": "do not hold"}
    return ", ".join(f"{k} {v if k == 1 else plural.get(v, v)}" for v, k in n.items() if k)


def _same(a, b) -> bool:
    return a is b if isinstance(a, bool) or isinstance(b, bool) else a == b


def findings(claims: Sequence[Claim], extra: Sequence[str] = ()) -> str:
    """A notebook's closing paragraph as Markdown, computed from its claims (and ``extra``
    sentences computed from the run): the count per verdict, then each claim with its verdict and
    this run's figure."""
    summary = count_verdicts(claims)
    lines = [f"Of the {len(claims)} claims measured here: {summary}.", ""]
    for c in claims:
        note = f" ({c.note})" if c.note else ""
        lines.append(f"- **{c.claim}**: {verdict(c.holds)}. This run: {c.ours}{note}.")
    lines += ["", *extra] if extra else []
    return "\n".join(lines)


def claims_frame(claims: Sequence[Claim]):
    """One row per claim: claim, paper, this run, verdict, note (a pandas DataFrame)."""
    import pandas as pd

    return pd.DataFrame(
        [
            {"claim": c.claim, "paper": c.paper, "this run": c.ours, "verdict": verdict(c.holds), "note": c.note}
            for c in claims
        ]
    )


def save_claims(run_dir: str | Path, notebook: str, claims: Sequence[Claim]) -> Path:
    """Write ``run_dir/claims/<notebook>.json`` (atomically; a re-run replaces it)."""
    if not claims:
        raise ValueError(f"save_claims({notebook!r}): expected at least one claim, got none")
    return atomic_write_json(Run(run_dir).claims_dir / f"{notebook}.json", [asdict(c) for c in claims])


def load_claims(run_dir: str | Path) -> list[tuple[str, Claim]]:
    """(notebook, claim) for every saved claim of the run, notebooks in order."""
    out = []
    for p in sorted(Run(run_dir).claims_dir.glob("*.json")):
        try:
            rows = json.loads(p.read_text())
            out += [(p.stem, Claim(**r)) for r in rows]
        except (ValueError, TypeError) as e:
            raise ValueError(f"{p}: not a claims file ({type(e).__name__}: {e})") from e
    return out
