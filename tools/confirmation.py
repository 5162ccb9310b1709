"""Asking the user before spending: the confirmation question of the generating tools (MCP elicitation),
or, where the host cannot ask but shows MCP Apps, the job card's Generate / Drop (`tools/confirm_spend.py`).

A question must be asked before the tool body runs, so each generating tool has a hidden parameter
resolved by its `confirm_*` resolver: it reads the call prepared once for both it and the tool body
(`tools/preparing.py`: the request, its checked media and its quote) and either decides without asking
(below the threshold; over a cap anyway; the host cannot ask) or returns `Elicit(question, ...)`. The
question is a pure function of the arguments and settings, because on protocol 2026-07-28 the resolver
runs again when the client retries with the answer and must ask the same thing. The tool body then hands
the settled `Consent` to the spending guard.
"""

from __future__ import annotations

from mcp.server.apps import client_supports_apps
from mcp.server.mcpserver import (
    AcceptedElicitation,
    CancelledElicitation,
    DeclinedElicitation,
    Elicit,
    ElicitationResult,
)
from mcp_types.version import is_version_at_least
from pydantic import BaseModel, Field, PrivateAttr

from ..server.catalogue.pricing import Estimate
from ..server.generation.service import GenerationRequest, Prepared
from ..server.generation.spending_guard import Consent, usd
from .results import ToolContext, app_state

PROMPT_SHOWN = 160  # characters of the prompt quoted in the question: enough to recognise it


class SpendConfirmation(BaseModel):
    """The confirmation form: one tick box (elicitation forms are flat)."""

    confirm: bool = Field(
        title="Spend it",
        description="Tick to let the server submit this paid request; leave it unticked or decline to stop.",
    )
    # Not part of the form: set when the resolver settles the matter without asking.
    _decided_by: Consent | None = PrivateAttr(default=None)
    _what: str = PrivateAttr(default="")  # with "in_card": what the card says will be made

    @classmethod
    def decided(cls, by: Consent, *, what: str = "") -> SpendConfirmation:
        answer = cls(confirm=by in ("not_needed", "policy_proceed"))
        answer._decided_by = by
        answer._what = what
        return answer

    @property
    def what(self) -> str:
        return self._what

    @property
    def consent(self) -> Consent:
        if self._decided_by is not None:
            return self._decided_by
        return "yes" if self.confirm else "no"


SpendApproval = ElicitationResult[SpendConfirmation]


def held_for_card(approval: SpendApproval | None) -> SpendConfirmation | None:
    """The settled answer when the request waits for the person's Generate in the job card, else None."""
    if isinstance(approval, AcceptedElicitation) and approval.data.consent == "in_card":
        return approval.data
    return None


def consent_of(approval: SpendApproval | None) -> Consent | None:
    """The user's answer (or what stood in for it) as the spending guard reads it."""
    if approval is None:
        return None
    if isinstance(approval, DeclinedElicitation):
        return "no"
    if isinstance(approval, CancelledElicitation):
        return "dismissed"
    assert isinstance(approval, AcceptedElicitation)
    return approval.data.consent


async def confirm(
    ctx: ToolContext, prepared: Prepared, what: str
) -> SpendConfirmation | Elicit[SpendConfirmation]:
    """Decide without asking where possible, else the question for the host to put to the user."""
    state = app_state(ctx)
    settings = state.settings
    threshold = settings.confirm_above_usd
    if threshold is None or prepared.quote is None:  # no threshold, or an earlier call's job: no spend
        return SpendConfirmation.decided("not_needed")
    request = prepared.request
    total = prepared.quote.total
    if total.max_usd <= threshold:
        return SpendConfirmation.decided("not_needed")
    if await state.generations.guard.refusal(total) is not None:
        return SpendConfirmation.decided("over_limit")  # refused anyway: asking would waste the user's time
    if not host_can_ask(ctx):
        if client_supports_apps(ctx):  # the job card asks: the tool holds the request for its answer
            return SpendConfirmation.decided("in_card", what=describe(request, what))
        return SpendConfirmation.decided(
            "policy_proceed" if settings.confirm_policy == "proceed" else "policy_refuse"
        )
    return Elicit(
        question(
            total,
            describe(request, what),
            request.prompt,
            threshold=threshold,
            simulated=settings.simulated,
            count=request.count,
            family=request.endpoint.family,
        ),
        SpendConfirmation,
    )


def host_can_ask(ctx: ToolContext) -> bool:
    """Whether a question can reach the user: form elicitation declared, and a way to send it."""
    capabilities = ctx.client_capabilities
    elicitation = capabilities.elicitation if capabilities is not None else None
    # A bare `elicitation: {}` (from before modes existed) means forms; url-only does not.
    if elicitation is None or (elicitation.form is None and elicitation.url is not None):
        return False
    version = ctx.protocol_version
    if version is None:
        return False
    if is_version_at_least(version, "2026-07-28"):
        return True  # the question rides the tool result (input_required); no back-channel needed
    return bool(ctx.session.can_send_request)


def question(
    estimate: Estimate,
    what: str,
    prompt: str,
    *,
    threshold: float,
    simulated: bool,
    count: int = 1,
    family: str = "2.0",
) -> str:
    """The confirmation question: the same words for the same request and settings, every time."""
    model = f"Seedance {family}"
    videos = f"one {model} video" if count <= 1 else f"{count} {model} videos (one job each)"
    shown = prompt if len(prompt) <= PROMPT_SHOWN else prompt[: PROMPT_SHOWN - 1].rstrip() + "…"
    lines = [
        f"Spend up to {usd(estimate.max_usd)} on {videos}?",
        f"What: {what}.",
        f'Prompt: "{shown}"',
        f"Price: {_price_phrase(estimate)}.",
        f"You asked to confirm any request above {usd(threshold)} (SEEDANCE_CONFIRM_ABOVE_USD).",
    ]
    if simulated:
        lines.append("This server runs on its offline simulator: nothing will be charged.")
    return "\n".join(lines)


def describe(request: GenerationRequest, what: str) -> str:
    """`what` ("image-to-video from your start frame", ...) with the request's size, length and sound."""
    low, high = request.endpoint.auto_seconds
    length = f"{low}–{high} s (auto)" if request.duration == "auto" else f"{request.duration} s"
    ratio = "aspect ratio auto" if request.aspect_ratio == "auto" else request.aspect_ratio
    audio = request.values.get("generate_audio")  # absent from a draft's finish: it keeps the draft's
    sound = "" if audio is None else ", with audio" if audio else ", silent"
    return f"{request.tier}-tier {what}, {request.resolution}, {ratio}, {length}{sound}"


def _price_phrase(estimate: Estimate) -> str:
    if estimate.is_range:
        return (
            f"{usd(estimate.min_usd)} to {usd(estimate.max_usd)} from the published price; the limits count "
            "the upper bound"
        )
    return f"{usd(estimate.max_usd)} from the published price"
