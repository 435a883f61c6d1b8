"""The four sourcing labels: the only place a label id is spelled out."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Label:
    """One label with what the UI and reports need to show it."""

    id: str
    name: str
    colour: str
    description: str


LABELS: tuple[Label, ...] = (
    Label(
        "official_claim",
        "Official claim",
        "#3b6fb6",
        "What an official party says about itself or its own actions.",
    ),
    Label(
        "independent_confirmation",
        "Independent confirmation",
        "#2e8b57",
        "A claim checked or corroborated by someone independent of the party that made it.",
    ),
    Label(
        "unverified_assertion",
        "Unverified assertion",
        "#c0392b",
        "Stated as fact with no checkable source, an anonymous one, or marked unverified.",
    ),
    Label(
        "analyst_speculation",
        "Analyst speculation",
        "#d68910",
        "Interpretation, prediction or inference rather than a report.",
    ),
)

LABEL_IDS: tuple[str, ...] = tuple(label.id for label in LABELS)
LABEL_TO_ID: dict[str, int] = {label: i for i, label in enumerate(LABEL_IDS)}
ID_TO_LABEL: dict[int, str] = dict(enumerate(LABEL_IDS))
BY_ID: dict[str, Label] = {label.id: label for label in LABELS}

# Labels whose sentences a reviewer should source first, least sourced first.
NEEDS_SOURCING: tuple[str, ...] = ("unverified_assertion", "analyst_speculation")


def check_label(label: str) -> str:
    """Return `label` if it is a known label id, else raise ValueError naming the valid ones."""
    if label not in LABEL_TO_ID:
        raise ValueError(f"unknown label {label!r}; expected one of {', '.join(LABEL_IDS)}")
    return label
