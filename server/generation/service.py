"""The one door every generation goes through: check → price → guard → upload → journal → submit → follow.

Tools build a `GenerationRequest` from their parameters and hand it here; nothing else uploads to or
submits to a provider. Everything that can refuse a request (limits, prices, caps) runs before anything
is uploaded or submitted, so a refused call costs nothing. `price` is the one price function: the
generating tools, their confirmation questions and `estimate_cost` all call it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from ..catalogue.facts import Mode, Tier
from ..catalogue.pricing import Estimate, Rate, estimate, reference_video_seconds
from ..config import Settings
from ..errors import InputError
from ..inputs import CheckedInputs, check_frames, check_references, release, upload_inputs
from ..jobs.manager import JobManager
from ..journal.sqlite import JobRecord
from ..media.finished_videos import allowed_dirs_for
from ..media.remote import policy_for
from ..providers.base import JobSpec
from .spending_guard import Consent, SpendingGuard


@dataclass(frozen=True)
class OxenOptions:
    """Oxen.ai-only parameters; refused on any other provider."""

    num_generations: int = 1
    response_format: str | None = None
    target_namespace: str | None = None

    def given(self) -> dict[str, Any]:
        values: dict[str, Any] = {
            "response_format": self.response_format,
            "target_namespace": self.target_namespace,
        }
        if self.num_generations != 1:
            values["num_generations"] = self.num_generations
        return {name: value for name, value in values.items() if value is not None}


@dataclass(frozen=True)
class GenerationRequest:
    """One request as the user made it, in the documented parameters (media as given: URL, data, path)."""

    tool: str  # "generate_video" or "reference_video": part of the de-duplication key
    prompt: str
    tier: Tier
    resolution: str = "720p"
    duration: str = "auto"
    aspect_ratio: str = "auto"
    generate_audio: bool = True
    seed: int | None = None
    end_user_id: str | None = None
    image_url: str | None = None  # image-to-video start frame
    end_image_url: str | None = None
    image_urls: tuple[str, ...] = ()  # reference-to-video
    video_urls: tuple[str, ...] = ()
    audio_urls: tuple[str, ...] = ()
    oxen: OxenOptions = field(default_factory=OxenOptions)
    # Only for pricing: the combined seconds of reference videos whose length cannot be measured.
    stated_video_seconds: float | None = None

    @property
    def mode(self) -> Mode:
        if self.tool == "reference_video":
            return "reference-to-video"
        return "image-to-video" if self.image_url else "text-to-video"

    @property
    def count(self) -> int:
        return self.oxen.num_generations

    def arguments(self, media: dict[str, str | list[str]] | None = None) -> dict[str, Any]:
        """The provider arguments in the seeds' names, leaving out what was not given; `media` replaces
        the inputs as given with the URLs they were uploaded to."""
        values: dict[str, Any] = {
            "prompt": self.prompt,
            "image_url": self.image_url,
            "end_image_url": self.end_image_url,
            "image_urls": list(self.image_urls),
            "video_urls": list(self.video_urls),
            "audio_urls": list(self.audio_urls),
            "resolution": self.resolution,
            "duration": self.duration,
            "aspect_ratio": self.aspect_ratio,
            "generate_audio": self.generate_audio,
            "seed": self.seed,
            "end_user_id": self.end_user_id,
            **self.oxen.given(),
            **(media or {}),
        }
        return {name: value for name, value in values.items() if value is not None and value != []}


@dataclass(frozen=True)
class Quote:
    """The price of a request: one job's, and the whole request's (Oxen's num_generations)."""

    per_job: Estimate
    total: Estimate
    notes: tuple[str, ...] = ()
    checked: CheckedInputs | None = None  # the media as checked, when the request has any


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
        async with self._quoted(request) as quote:
            return dataclasses.replace(quote, checked=None)

    async def submit(self, request: GenerationRequest, consent: Consent | None) -> Submitted:
        """Check, price, guard, upload, journal and submit; the jobs are followed from then on."""
        arguments = request.arguments()
        # A call identical to one made moments ago (a host re-sending it) gets that call's jobs; its
        # media were checked then, so they are neither read nor probed again, and nothing is charged.
        duplicate = await self._jobs.find_duplicate(request.tool, arguments)
        if duplicate is not None:
            return Submitted(
                await self._jobs.group_of(duplicate), [same_request(duplicate)], started_here=False
            )
        async with self._quoted(request) as quote:
            notes = list(quote.notes)
            # Caps and consent before any upload.
            async with self._guard.reserve(quote.total, consent) as guard_notes:
                notes.extend(guard_notes)
                asked_at = time.time()
                media = await self._upload(request, quote.checked)
                spec = JobSpec(
                    tier=request.tier,
                    mode=request.mode,
                    arguments=request.arguments(media),
                    count=request.count,
                )
                records = await self._jobs.submit(
                    tool=request.tool,
                    spec=spec,
                    dedupe_arguments=arguments,
                    estimate=quote.per_job.as_dict(),
                    estimate_usd=quote.per_job.max_usd,
                )
            if records[0].created_at < asked_at:  # an identical call got there first: its job is ours
                notes.append(same_request(records[0]))
                return Submitted(records, notes, started_here=False)
            return Submitted(records, notes)

    @asynccontextmanager
    async def _quoted(self, request: GenerationRequest) -> AsyncIterator[Quote]:
        """Cheap checks first, then the media, then the price; temp copies of data: URIs live as long as
        the block (the upload removes them earlier)."""
        self._check_options(request)
        checked = await self._check_media(request)
        try:
            yield await self._quote(request, checked)
        finally:
            if checked is not None:
                release(checked)

    def _check_options(self, request: GenerationRequest) -> None:
        given = request.oxen.given()
        provider = self._settings.provider
        if given and provider != "oxen":
            names = ", ".join(given)
            one = len(given) == 1
            raise InputError(
                next(iter(given)),
                f"{names} {'is' if one else 'are'} Oxen.ai-only, and this server uses {provider}. "
                f"Drop {'it' if one else 'them'}, or set SEEDANCE_PROVIDER=oxen (with OXEN_API_KEY).",
            )
        if request.oxen.response_format and request.count > 1:
            raise InputError(
                "response_format",
                "Oxen's blocking endpoint makes one video per call; drop response_format to use the queue "
                "for num_generations > 1",
            )
        if request.end_image_url and not request.image_url:
            raise InputError(
                "end_image_url",
                "an end frame needs a start frame: also pass image_url, or drop end_image_url",
            )

    async def _check_media(self, request: GenerationRequest) -> CheckedInputs | None:
        media = (request.image_url, request.end_image_url, *request.image_urls)
        allowed = allowed_dirs_for(self._settings, [m for m in media if m])
        urls = policy_for(self._settings)
        if request.mode == "reference-to-video":
            return await check_references(
                request.prompt,
                list(request.image_urls),
                list(request.video_urls),
                list(request.audio_urls),
                allowed_dirs=allowed,
                urls=urls,
            )
        if request.image_url:
            return await check_frames(
                request.prompt, request.image_url, request.end_image_url, allowed_dirs=allowed, urls=urls
            )
        return None

    async def _quote(self, request: GenerationRequest, checked: CheckedInputs | None) -> Quote:
        video_seconds: float | tuple[float, float] = 0.0
        if request.video_urls:
            measured = checked.input_video_seconds if checked is not None else None
            video_seconds = reference_video_seconds(
                measured if measured is not None else request.stated_video_seconds
            )
        per_job = estimate(
            tier=request.tier,
            resolution=request.resolution,
            duration=request.duration,
            aspect_ratio=request.aspect_ratio,
            input_video_seconds=video_seconds,
            has_video_input=bool(request.video_urls),
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
        price = await price_of(
            request.tier, request.mode, resolution=request.resolution, generate_audio=request.generate_audio
        )
        if price is None:
            return per_job, (
                "Oxen.ai publishes no per-second price for this model that we understand; the estimate uses "
                "fal.ai's rate table, which may differ from what Oxen charges.",
            )
        low, high = per_job.output_seconds
        rate = Rate(
            tier=request.tier,
            usd_per_1k_tokens=per_job.rate.usd_per_1k_tokens,
            quoted_usd_per_second_720p=price.usd_per_second,
            source=price.source,
        )
        priced = dataclasses.replace(
            per_job,
            min_usd=round(price.usd_per_second * low, 4),
            max_usd=round(price.usd_per_second * high, 4),
            multiplier=1.0,
            rate=rate,
        )
        return priced, ()

    async def _upload(
        self, request: GenerationRequest, checked: CheckedInputs | None
    ) -> dict[str, str | list[str]]:
        """Each media parameter with its inputs as public URLs (local files and data URIs uploaded)."""
        if checked is None:
            return {}
        urls = await upload_inputs(checked, self._jobs.provider.upload)
        media: dict[str, str | list[str]] = {}
        for item, url in zip(checked.inputs, urls, strict=True):
            if item.param in ("image_urls", "video_urls", "audio_urls"):
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
