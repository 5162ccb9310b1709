"""The one door every generation goes through: check → price → guard → upload → journal → submit → follow.

Tools build a `GenerationRequest` from their arguments and the catalogue, `prepare` it once (dedupe,
checks, media, price: shared by the confirmation question and the submit), then `submit` it; nothing
else uploads to or submits to a provider. Everything that can refuse a request (limits, prices, caps)
runs before anything is uploaded or submitted, so a refused call costs nothing. `estimate_cost` prices
with `price`, the same checks and formula without holding anything.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..catalogue.declaration import Endpoint
from ..catalogue.endpoints import ENDPOINTS, FAMILIES, api_of, counting_param, endpoint, tiers_of
from ..catalogue.pricing import Estimate, estimate, reference_video_seconds
from ..config import Settings
from ..errors import InputError
from ..inputs import CheckedInputs, check_frames, check_references, release, upload_inputs
from ..jobs.manager import JobManager
from ..journal.sqlite import JobRecord
from ..media.finished_videos import allowed_dirs_for
from ..media.remote import policy_for
from ..providers.base import JobSpec
from ..setting_secrets import contains_secret, secret_values
from .spending_guard import Consent, SpendingGuard

# A provider's name in messages, and the setting that selects it.
PROVIDER_KEYS = {"oxen": ("Oxen.ai", "OXEN_API_KEY"), "fal": ("fal.ai", "FAL_KEY")}


@dataclass(frozen=True)
class GenerationRequest:
    """One request as the user made it: the endpoint chosen, and the values of its catalogue parameters
    in the seeds' names (media as given: URL, data, path), with the defaults filled in."""

    tool: str  # "generate_video" or "reference_video": part of the de-duplication key
    endpoint: Endpoint
    values: Mapping[str, Any]
    # Only for pricing: the combined seconds of reference videos whose length cannot be measured.
    stated_video_seconds: float | None = None
    # Only for pricing: settings the take is billed by when they are not the request's own (a draft's
    # resolution; the duration and framing of the draft a finish completes).
    billed_as: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    finishes: str | None = None  # the job id of the draft this request finishes

    @classmethod
    def of(
        cls,
        tool: str,
        *,
        family: str,
        tier: str,
        mode: str,
        values: Mapping[str, Any],
        stated_video_seconds: float | None = None,
        billed_as: Mapping[str, str] | None = None,
        finishes: str | None = None,
    ) -> GenerationRequest:
        """The request for `values` (tool arguments; names the catalogue does not know are ignored) on
        the endpoint of `family`, `tier` and `mode`; refused naming the field when none serves it."""
        entry = endpoint(family, tier, mode)
        if entry is None:
            tiers = ", ".join(tiers_of(family))
            raise InputError(
                "tier",
                f"Seedance {family} has no {tier} tier for {mode}; its tiers: {tiers}. Pick one of those.",
            )
        known = {
            p.name: values[p.name] if values.get(p.name) is not None else p.default for p in entry.params
        }
        billed = dict(billed_as or {})
        if values.get("draft"):
            if entry.drafts is None:
                drafting = ", ".join(sorted({e.family for e in ENDPOINTS if e.drafts is not None}))
                raise InputError(
                    "draft", f"{entry.label} makes no drafts; use model {drafting!r}, or drop draft"
                )
            billed["resolution"] = entry.drafts.resolution  # whatever resolution says
        known_values, billed_values = MappingProxyType(known), MappingProxyType(billed)
        return cls(tool, entry, known_values, stated_video_seconds, billed_values, finishes)

    @property
    def tier(self) -> str:
        return self.endpoint.tier

    @property
    def mode(self) -> str:
        return self.endpoint.mode

    @property
    def prompt(self) -> str:
        return str(self.values.get("prompt") or "")

    @property
    def resolution(self) -> str:
        """The resolution billed (and made): a draft's is its endpoint's draft resolution."""
        return str(self.billed_as.get("resolution") or self.values["resolution"])

    @property
    def duration(self) -> str:
        return str(self.billed_as.get("duration") or self.values["duration"])

    @property
    def aspect_ratio(self) -> str:
        return str(self.billed_as.get("aspect_ratio") or self.values["aspect_ratio"])

    def media(self, name: str) -> tuple[str, ...]:
        """A media parameter's inputs as given (one for a frame, any number for a list)."""
        value = self.values.get(name)
        if value is None:
            return ()
        return (value,) if isinstance(value, str) else tuple(value)

    @property
    def count(self) -> int:
        """How many jobs (and charges) the call makes."""
        counting = counting_param()
        return int(self.values.get(counting.name) or 1) if self.endpoint.param(counting.name) else 1

    def given_options(self, provider: str) -> list[str]:
        """The parameters given a value other than their default that `provider` does not take."""
        return [
            p.name
            for p in self.endpoint.params
            if provider not in p.providers and self.values.get(p.name) not in (None, p.default)
        ]

    def arguments(self, media: Mapping[str, str | list[str]] | None = None) -> dict[str, Any]:
        """The provider arguments in the seeds' names, leaving out what was not given and a provider's
        own option left at its default (a count of one, fal's standard bitrate: what the provider does
        anyway); `media` replaces the inputs as given with the URLs they were uploaded to."""
        values: dict[str, Any] = {**self.values, **(media or {})}
        for p in self.endpoint.params:
            if p.only_for() is not None and values.get(p.name) == p.default:
                del values[p.name]
            elif p.kind == "media_list" and p.name in values and values[p.name] is not None:
                values[p.name] = list(values[p.name])
        return {name: value for name, value in values.items() if value is not None and value != []}


@dataclass(frozen=True)
class Quote:
    """The price of a request: one job's, and the whole request's (a call that makes several jobs)."""

    per_job: Estimate
    total: Estimate
    notes: tuple[str, ...] = ()
    checked: CheckedInputs | None = None  # the media as checked, when the request has any


@dataclass(frozen=True)
class Prepared:
    """A call made ready to submit: checked, its media probed and held, priced, its dedupe key known.
    Or, when an identical call was made moments ago, that call's job (`duplicate`), with nothing read."""

    request: GenerationRequest
    key: str  # the de-duplication fingerprint
    quote: Quote | None = None
    duplicate: JobRecord | None = None

    def release(self) -> None:
        """Delete the temp copies of data: URIs, when the call will not be submitted."""
        if self.quote is not None and self.quote.checked is not None:
            release(self.quote.checked)


@dataclass(frozen=True)
class Submitted:
    """What the door did with a request: its jobs, and what the answer should mention."""

    records: list[JobRecord]
    notes: list[str]
    started_here: bool = True  # False: an identical earlier call made these jobs (only it may cancel them)


class Generations:
    """The generation service of one server process."""

    def __init__(self, settings: Settings, jobs: JobManager, guard: SpendingGuard) -> None:
        self._settings = settings
        self._jobs = jobs
        self._guard = guard

    @property
    def guard(self) -> SpendingGuard:
        return self._guard

    async def price(self, request: GenerationRequest) -> Quote:
        """Check and price a request without uploading or submitting anything."""
        self._check_options(request)
        checked = await self._check_media(request)
        try:
            return dataclasses.replace(await self._quote(request, checked), checked=None)
        finally:
            if checked is not None:
                release(checked)

    async def prepare(self, request: GenerationRequest) -> Prepared:
        """The one preparation of a call, shared by its confirmation and its submit: cheap checks, the
        media (probed once), the price. A call identical to one made moments ago (a host re-sending it)
        is answered from the journal first, before anything is read or fetched."""
        self._refuse_own_secrets(request)  # before anything is looked up, stored or sent
        key = self._jobs.dedupe_key(request.tool, request.endpoint, request.arguments())
        duplicate = await self._jobs.find_duplicate(key)
        if duplicate is not None:
            return Prepared(request, key, duplicate=duplicate)
        self._check_options(request)
        checked = await self._check_media(request)
        try:
            quote = await self._quote(request, checked)
        except BaseException:
            if checked is not None:
                release(checked)
            raise
        return Prepared(request, key, quote=quote)

    async def submit(self, prepared: Prepared, consent: Consent | None) -> Submitted:
        """Guard, upload, journal and submit a prepared call; the jobs are followed from then on."""
        duplicate = prepared.duplicate
        if duplicate is not None:
            return Submitted(
                await self._jobs.group_of(duplicate), [same_request(duplicate)], started_here=False
            )
        request, quote = prepared.request, prepared.quote
        assert quote is not None
        try:
            notes = list(quote.notes)
            # Caps and consent before any upload.
            async with self._guard.reserve(quote.total, consent) as guard_notes:
                notes.extend(guard_notes)
                asked_at = time.time()
                media = await self._upload(quote.checked)
                spec = JobSpec(
                    tier=request.tier,
                    mode=request.mode,
                    family=request.endpoint.family,
                    arguments=request.arguments(media),
                    count=request.count,
                )
                records = await self._jobs.submit(
                    tool=request.tool,
                    spec=spec,
                    key=prepared.key,
                    estimate=quote.per_job.as_dict(),
                    estimate_usd=quote.per_job.max_usd,
                    finished_from=request.finishes,
                )
        finally:
            prepared.release()
        if records[0].created_at < asked_at:  # an identical call got there first: its job is ours
            notes.append(same_request(records[0]))
            return Submitted(records, notes, started_here=False)
        return Submitted(records, notes)

    def _refuse_own_secrets(self, request: GenerationRequest) -> None:
        """A key or token of this server inside the request would be stored in the journal and the file
        name and sent to the provider: refused, naming the field, without showing it."""
        secrets = secret_values(self._settings)
        for name, value in request.arguments().items():
            values = value if isinstance(value, list) else [value]
            if any(isinstance(v, str) and contains_secret(v, secrets) for v in values):
                raise InputError(
                    name,
                    "holds this server's API key or another of its secrets; remove it (nothing was stored "
                    "or sent), and rotate the key if it was shared anywhere else",
                )

    def _check_options(self, request: GenerationRequest) -> None:
        self._refuse_own_secrets(request)
        provider = api_of(self._settings.provider)
        if request.endpoint.id_for(provider) is None:
            served = "model" if request.endpoint.family != FAMILIES[0] else "tier"
            raise InputError(
                served,
                f"{self._settings.provider} does not serve {request.endpoint.label}; use fal.ai "
                "(SEEDANCE_PROVIDER=fal with FAL_KEY), or another model or tier",
            )
        given = request.given_options(provider)
        if given:
            names = ", ".join(given)
            one = len(given) == 1
            first = request.endpoint.param(given[0])
            owner = (first.only_for() if first is not None else None) or provider
            label, key = PROVIDER_KEYS.get(owner, (owner, "its key"))
            raise InputError(
                given[0],
                f"{names} {'is' if one else 'are'} {label}-only, and this server uses "
                f"{self._settings.provider}. Drop {'it' if one else 'them'}, or set "
                f"SEEDANCE_PROVIDER={owner} (with {key}).",
            )
        for name in ("resolution", "duration", "aspect_ratio"):
            allowed = request.endpoint.values(name)
            if allowed and request.values[name] not in allowed:
                raise InputError(
                    name,
                    f"{request.endpoint.label} takes {', '.join(map(repr, allowed))}; got "
                    f"{request.values[name]!r}. Pick one of those, or another model or tier.",
                )
        if request.values.get("response_format") and request.count > 1:
            raise InputError(
                "response_format",
                "Oxen's blocking endpoint makes one video per call; drop response_format to use the queue "
                "for several videos",
            )
        if request.media("end_image_url") and not request.media("image_url"):
            raise InputError(
                "end_image_url",
                "an end frame needs a start frame: also pass image_url, or drop end_image_url",
            )

    async def _check_media(self, request: GenerationRequest) -> CheckedInputs | None:
        frame, end_frame = request.media("image_url"), request.media("end_image_url")
        images = request.media("image_urls")
        allowed = allowed_dirs_for(self._settings, [*frame, *end_frame, *images])
        urls = policy_for(self._settings)
        if request.mode == "reference-to-video":
            return await check_references(
                request.prompt,
                list(images),
                list(request.media("video_urls")),
                list(request.media("audio_urls")),
                allowed_dirs=allowed,
                urls=urls,
                limits=request.endpoint.limits,
            )
        if frame:
            return await check_frames(
                request.prompt, frame[0], end_frame[0] if end_frame else None, allowed_dirs=allowed, urls=urls
            )
        return None

    async def _quote(self, request: GenerationRequest, checked: CheckedInputs | None) -> Quote:
        video_seconds: float | tuple[float, float] = 0.0
        videos = request.media("video_urls")
        if videos:
            measured = checked.input_video_seconds if checked is not None else None
            video_seconds = reference_video_seconds(
                measured if measured is not None else request.stated_video_seconds
            )
        per_job = estimate(
            request.endpoint,
            resolution=request.resolution,
            duration=request.duration,
            aspect_ratio=request.aspect_ratio,
            input_video_seconds=video_seconds,
            has_video_input=bool(videos),
        )
        per_job, notes = await self._provider_price(request, per_job)
        if checked is not None:
            notes = (*checked.warnings, *notes)
        return Quote(per_job=per_job, total=_times(per_job, request.count), notes=notes, checked=checked)

    async def _provider_price(
        self, request: GenerationRequest, per_job: Estimate
    ) -> tuple[Estimate, tuple[str, ...]]:
        """The provider's own price list where it has one (Oxen's model pricing), else the token formula."""
        price_of = getattr(self._jobs.provider, "price", None)
        if price_of is None:
            return per_job, ()
        price = await price_of(request.endpoint, request.values)
        if price is None:
            return per_job, (
                "Oxen.ai publishes no per-second price for this model that we understand; the estimate uses "
                "fal.ai's rate table, which may differ from what Oxen charges.",
            )
        low, high = per_job.output_seconds
        rate = dataclasses.replace(
            per_job.rate, quoted_usd_per_second_720p=price.usd_per_second, source=price.source
        )
        priced = dataclasses.replace(
            per_job,
            min_usd=round(price.usd_per_second * low, 4),
            max_usd=round(price.usd_per_second * high, 4),
            multiplier=1.0,
            rate=rate,
        )
        return priced, ()

    async def _upload(self, checked: CheckedInputs | None) -> dict[str, str | list[str]]:
        """Each media parameter with its inputs as public URLs (local files and data URIs uploaded)."""
        if checked is None:
            return {}
        urls = await upload_inputs(checked, self._jobs.provider.upload)
        media: dict[str, str | list[str]] = {}
        for item, url in zip(checked.inputs, urls, strict=True):
            if item.many:
                listed = media.setdefault(item.param, [])
                assert isinstance(listed, list)
                listed.append(url)
            else:
                media[item.param] = url
        return media


def _times(per_job: Estimate, count: int) -> Estimate:
    """`count` jobs of `per_job` each, as one price."""
    if count <= 1:
        return per_job
    return dataclasses.replace(
        per_job, min_usd=round(per_job.min_usd * count, 4), max_usd=round(per_job.max_usd * count, 4)
    )


def same_request(earlier: JobRecord) -> str:
    ago = max(0.0, time.time() - earlier.created_at)
    return (
        f"An identical request was made {ago:.0f} s ago (job {earlier.id}); returning that job instead "
        "of paying twice. For another take, pass a different seed."
    )
