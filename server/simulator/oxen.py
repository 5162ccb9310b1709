"""Oxen.ai's inference API over the simulator's job engine, on the same origin as the fal fake.

Routes (see shared/reference/oxen-api.md): `GET /api/ai/models/{model}` (the model's description from
`endpoints/oxen/`: the *drifted* live schema, integer duration with -1 for auto, `adaptive` aspect
ratio, audio off by default, plus pricing; requests are validated against it),
`POST /api/ai/queue` (num_generations 1-4), `GET /api/ai/queue[?status=]`, `GET`/`DELETE
/api/ai/queue/{id}`, `POST /api/ai/videos/generate` (blocking; `response_format` url or b64_json),
`GET /api/ai/results/{file_id}/{name}` (result downloads; Bearer key required, as for a private
repository file), `GET /api/events` (server-sent events: `media_generation_completed` for each
generation of the key's account that ends, a keep-alive comment every `ping_seconds`; answered 404
when `SimulatorOptions.oxen_events` is off) and the repository file API used for uploads (`PUT`/`GET
/api/repos/{namespace}/{repo}/file/{branch}/{path}`).

Both of Oxen's error shapes are spoken: `{"error": {"type", "title", "detail"}, "status": "error",
"status_message"}` for auth, unknown models and bad parameters on the blocking path, and
`{"error": {"message"}}` for a bad `num_generations`. As on Oxen, the queue checks only the model and
`num_generations`: bad parameters surface as a `failed` generation with the documented message.

Test hooks (prompt markers; the fal ones work too): `[sim:error=insufficient_credits]` fails with
"Insufficient credits"; `[sim:expire]` makes a generation answer 404 once it has finished, as Oxen
does about a day later; `[sim:echo_key]` makes the enqueue answer 400 with an error detail that
quotes the request's key (see `fal.echo_credentials`). Keys containing `sim-invalid` get 401.
The event stream meets the `status_5xx` and `stream_drop` faults (see `simulator.faults`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .descriptions import Mode, OxenModel
from .fal import (
    ECHO_KEY_MARKER,
    STREAM_TICK,
    base_url,
    echo_credentials,
    note,
    with_faults,
)
from .jobs import FAILING_RUN_SECONDS, Engine, Job
from .storage import StoredFile, safe_name
from .validation import Failure

STATES = ("queued", "processing", "succeeded", "failed", "cancelled")
ACTIVE = ("queued", "processing")
SYNC_TICK = 0.05  # how often the blocking endpoint looks at its job
MEDIA = ("input_images", "input_videos", "input_audios", "input_face_images", "input_face_videos")


@dataclass
class _Generation:
    job_id: str
    model: str
    prompt: str
    enqueued_at: float
    account: str  # whose event stream hears of it: a digest of the enqueuing key, never the key
    expire: bool = False


@dataclass
class _OxenState:
    generations: dict[str, _Generation] = field(default_factory=dict)  # generation id -> generation
    repo_files: dict[str, StoredFile] = field(default_factory=dict)  # "ns/repo/branch/path" -> file


_STATE: weakref.WeakKeyDictionary[Engine, _OxenState] = weakref.WeakKeyDictionary()


def _state(request: Request) -> tuple[Engine, _OxenState]:
    engine: Engine = request.app.state.engine
    return engine, _STATE.setdefault(engine, _OxenState())


# --- errors ------------------------------------------------------------------------------------
def error(status: int, kind: str, title: str, detail: str) -> JSONResponse:
    """Oxen's full error shape."""
    body = {
        "error": {"type": kind, "title": title, "detail": detail},
        "status": "error",
        "status_message": kind,
    }
    return JSONResponse(body, status_code=status)


def short_error(status: int, message: str) -> JSONResponse:
    """Oxen's short error shape."""
    return JSONResponse({"error": {"message": message}}, status_code=status)


def check_bearer(request: Request) -> Response | None:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return error(
            401, "unauthenticated", "Unauthenticated", "Missing Authorization: Bearer <OXEN_API_KEY>"
        )
    if "sim-invalid" in key:
        return error(401, "unauthenticated", "Unauthenticated", "Invalid API key")
    return None


def _account(request: Request) -> str:
    """The account of the request's (already checked) key: one key, one account."""
    key = request.headers.get("authorization", "").partition(" ")[2].strip()
    return hashlib.sha256(key.encode()).hexdigest()[:16]


# --- the model schema ------------------------------------------------------------------------------
def _model(request: Request, name: str) -> OxenModel | None:
    engine: Engine = request.app.state.engine
    return engine.descriptions.oxen(name)


async def model_info(request: Request) -> Response:
    note(request, kind="model")
    if (denied := check_bearer(request)) is not None:
        return denied
    name = request.path_params["model"]
    model = _model(request, name)
    if model is None:
        return error(404, "resource_not_found", "Not found", f"Model {name!r} not found")
    return JSONResponse(model.answer)


# --- translating a request into the engine's (fal-shaped) input ----------------------------------------
def validate(model: OxenModel, body: dict[str, Any]) -> str | None:
    """The first documented error message this body earns against the model's schema, or None."""
    props = model.properties
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return "Field required"
    for name in ("resolution", "duration", "aspect_ratio"):
        prop = props.get(name) or {}
        value = body.get(name, prop.get("default"))
        wrong_type = prop.get("type") == "integer" and (isinstance(value, bool) or not isinstance(value, int))
        if name in body and (wrong_type or ("enum" in prop and value not in prop["enum"])):
            return f"Invalid {name}"
    counts: dict[str, int] = {}
    for name in MEDIA:
        value = body.get(name)
        if value is None:
            continue
        if name not in props:
            return f"{model.mode} takes no input files" if model.mode == "text-to-video" else f"No {name}"
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return f"{name} must be an array of URIs"
        counts[name] = len(value)
        least, most = props[name].get("minItems", 0), props[name].get("maxItems")
        if len(value) < least or (most is not None and len(value) > most):
            if model.mode == "image-to-video":
                return "input_images must hold the start frame and optionally the end frame"
            return "Too many input files"
    least = (props.get("input_images") or {}).get("minItems", 0)
    if least and counts.get("input_images", 0) < least:
        return "input_images must hold the start frame and optionally the end frame"
    documented = model.documented
    total = documented.get("max_total_files")
    if total is not None and sum(counts.values()) > total:
        return "Too many input files"
    needs_picture = documented.get("audio_needs_image_or_video") and counts.get("input_audios")
    if needs_picture and not (counts.get("input_images") or counts.get("input_videos")):
        return "Audio requires at least one image or video"
    return None


def to_engine_args(
    mode: Mode, body: dict[str, Any], local: dict[str, StoredFile], base: str
) -> dict[str, Any]:
    def url(value: str) -> str:
        # Our repository files are served by the file store under another path.
        prefix = base + "/api/repos/"
        if value.startswith(prefix):
            stored = local.get(value[len(prefix) :].replace("/file/", "/", 1))
            return base + stored.url_path if stored is not None else value
        return value

    def urls(name: str) -> list[str]:
        return [url(v) for v in body.get(name) or []]

    duration = body.get("duration", -1)
    args: dict[str, Any] = {
        "prompt": body["prompt"],
        "resolution": body.get("resolution", "720p"),
        "duration": "auto" if duration == -1 else str(duration),
        "aspect_ratio": "auto"
        if body.get("aspect_ratio", "adaptive") == "adaptive"
        else body["aspect_ratio"],
        "generate_audio": bool(body.get("generate_audio", False)),
    }
    if isinstance(body.get("seed"), int):
        args["seed"] = body["seed"]
    if mode == "image-to-video":
        images = urls("input_images")
        args["image_url"] = images[0]
        if len(images) > 1:
            args["end_image_url"] = images[1]
    elif mode == "reference-to-video":
        faces_images, faces_videos = urls("input_face_images"), urls("input_face_videos")
        for ours, theirs, extra in (
            ("image_urls", "input_images", faces_images),
            ("video_urls", "input_videos", faces_videos),
            ("audio_urls", "input_audios", []),
        ):
            found = urls(theirs) + extra
            if found:
                args[ours] = found
    return args


def _start(request: Request, model: OxenModel, body: dict[str, Any]) -> tuple[str, Job]:
    engine, state = _state(request)
    base = base_url(request)
    problem = validate(model, body)
    if problem is not None:
        # Accepted now, failed when run: the queue checks only the model and num_generations.
        failure = Failure(400, "invalid_params", problem, problem)
        job = engine.submit(model.name, model.mode, body, base, issues=[], sizes={}, failure=failure)
        job.run_seconds = min(job.run_seconds, FAILING_RUN_SECONDS)
    else:
        args = to_engine_args(model.mode, body, state.repo_files, base)
        job = engine.submit(model.name, model.mode, args, base, issues=[], sizes=model.output_sizes)
    generation_id = str(uuid.uuid4())
    state.generations[generation_id] = _Generation(
        job_id=job.id,
        model=model.name,
        prompt=str(body.get("prompt") or ""),
        enqueued_at=time.time(),
        account=_account(request),
        expire="[sim:expire]" in str(body.get("prompt") or ""),
    )
    return generation_id, job


def _status(engine: Engine, job: Job) -> tuple[str, str | None, StoredFile | None]:
    """(status, error message, video) of a job now."""
    view = engine.view(job)
    if view.phase == "queued":
        return "queued", None, None
    if view.phase == "running":
        return "processing", None, None
    if view.failure is None:
        return "succeeded", None, view.video
    if view.failure.error_type == "client_cancelled":
        return "cancelled", None, None
    if view.failure.error_type == "insufficient_credits":
        return "failed", "Insufficient credits", None
    return "failed", view.failure.message, None


def _result_url(base: str, video: StoredFile) -> str:
    return f"{base}/api/ai/results/{video.file_id}/{video.name}?expires={int(time.time()) + 3600}"


def generation_body(request: Request, generation_id: str, generation: _Generation) -> dict[str, Any] | None:
    engine, _ = _state(request)
    job = engine.get(generation.job_id)
    if job is None:
        return None
    status, message, video = _status(engine, job)
    view = engine.view(job)
    started = job.started if status != "queued" and job.cancelled_at is None else None
    return {
        "generation_id": generation_id,
        "model_name": generation.model,
        "prompt": generation.prompt,
        "media_type": "video",
        "status": status,
        "result_url": _result_url(base_url(request), video) if video is not None else None,
        "error_message": message,
        "enqueued_at": int(generation.enqueued_at),
        "started_at": int(started) if started else None,
        "completed_at": int(view.completed_at) if view.completed_at else None,
    }


# --- queue -----------------------------------------------------------------------------------------
async def _json_body(request: Request) -> dict[str, Any] | Response:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return error(400, "invalid_params", "Invalid JSON", "The request body must be a JSON object")
    if not isinstance(body, dict):
        return error(400, "invalid_params", "Invalid JSON", "The request body must be a JSON object")
    return body


def _model_of(request: Request, body: dict[str, Any]) -> OxenModel | Response:
    name = body.get("model")
    model = _model(request, name) if isinstance(name, str) else None
    if model is None:
        return error(404, "resource_not_found", "Model not found", f"Model {name!r} not found")
    return model


async def enqueue(request: Request) -> Response:
    note(request, kind="submit")
    if (denied := check_bearer(request)) is not None:
        return denied
    body = await _json_body(request)
    if isinstance(body, Response):
        return body
    note(request, input={k: v for k, v in body.items() if not str(k).startswith("input_")})
    model = _model_of(request, body)
    if isinstance(model, Response):
        return model
    if ECHO_KEY_MARKER in str(body.get("prompt") or ""):
        return error(400, "invalid_params", "Invalid parameters", echo_credentials(request))
    count = body.pop("num_generations", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 4:
        return short_error(400, "num_generations must be an integer between 1 and 4")
    generations = []
    for _ in range(count):
        generation_id, _job = _start(request, model, body)
        generations.append({"generation_id": generation_id, "status": "queued"})
    note(request, generations=[g["generation_id"] for g in generations])
    return JSONResponse({"generations": generations})


async def poll(request: Request) -> Response:
    note(request, kind="status")
    if (denied := check_bearer(request)) is not None:
        return denied
    _, state = _state(request)
    generation_id = request.path_params["generation_id"]
    generation = state.generations.get(generation_id)
    body = generation_body(request, generation_id, generation) if generation is not None else None
    if body is None or (generation is not None and generation.expire and body["status"] not in ACTIVE):
        return error(404, "resource_not_found", "Not found", f"Generation {generation_id} not found")
    return JSONResponse(body)


async def list_generations(request: Request) -> Response:
    note(request, kind="list")
    if (denied := check_bearer(request)) is not None:
        return denied
    _, state = _state(request)
    wanted = request.query_params.get("status")
    out = []
    for generation_id, generation in state.generations.items():
        body = generation_body(request, generation_id, generation)
        if body is None:
            continue
        if (wanted and body["status"] == wanted) or (not wanted and body["status"] in ACTIVE):
            out.append(body)
    return JSONResponse({"count": len(out), "generations": out})


async def cancel(request: Request) -> Response:
    note(request, kind="cancel")
    if (denied := check_bearer(request)) is not None:
        return denied
    engine, state = _state(request)
    generation_id = request.path_params["generation_id"]
    generation = state.generations.get(generation_id)
    job = engine.get(generation.job_id) if generation is not None else None
    if job is None:
        return error(404, "resource_not_found", "Not found", f"Generation {generation_id} not found")
    if engine.cancel(job) == "requested":
        job.cancelled_at = time.time()  # Oxen stops running generations too
    return JSONResponse({"status": "success", "generation_id": generation_id})


async def generate(request: Request) -> Response:
    """The blocking endpoint: answers once the video exists (or fails)."""
    note(request, kind="generate")
    if (denied := check_bearer(request)) is not None:
        return denied
    body = await _json_body(request)
    if isinstance(body, Response):
        return body
    model = _model_of(request, body)
    if isinstance(model, Response):
        return model
    response_format = body.get("response_format", "url")
    if response_format not in ("url", "b64_json"):
        return error(400, "invalid_params", "Invalid parameters", "response_format must be url or b64_json")
    problem = validate(model, body)
    if problem is not None:
        return error(400, "invalid_params", "Invalid parameters", problem)
    engine, _ = _state(request)
    _, job = _start(request, model, body)
    while True:
        status, message, video = _status(engine, job)
        if status not in ACTIVE or engine.closing.is_set():
            break
        await anyio.sleep(SYNC_TICK)
    if status != "succeeded" or video is None:
        return error(502, "upstream", "Generation failed", message or f"generation {status}")
    if response_format == "b64_json":
        data = await anyio.to_thread.run_sync(video.path.read_bytes)
        item = {"b64_json": base64.b64encode(data).decode()}
    else:
        item = {"url": _result_url(base_url(request), video)}
    return JSONResponse({"created": int(time.time()), "model": model.name, "videos": [item]})


async def download_result(request: Request) -> Response:
    note(request, kind="download")
    if (denied := check_bearer(request)) is not None:
        return denied
    engine, _ = _state(request)
    stored = engine.store.get(request.path_params["file_id"], request.path_params["name"])
    if stored is None or not stored.path.exists():
        return error(404, "resource_not_found", "Not found", "File not found")
    return FileResponse(stored.path, media_type=stored.content_type, headers={"X-Seedance-Simulated": "true"})


# --- the event stream --------------------------------------------------------------------------------
async def events(request: Request) -> Response:
    """`GET /api/events`: one `media_generation_completed` per generation of this key's account that
    ends while the stream is open (those already over when it opens are not told again)."""
    note(request, kind="events")
    engine, state = _state(request)
    if not engine.options.oxen_events:
        return error(404, "resource_not_found", "Not found", "No route for GET /api/events")
    if (denied := check_bearer(request)) is not None:
        return denied

    async def answer(request: Request) -> Response:
        account = _account(request)
        # Taken before the answer starts: a generation that ends once the client sees the stream is told.
        told = {
            gid
            for gid, generation in state.generations.items()
            if generation.account == account and _ended(engine, generation) is not None
        }
        entry = request.scope.get("sim.entry") or {}
        completions = _completions(request, account, told, drop=entry.get("fault") == "stream_drop")
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(completions, media_type="text/event-stream", headers=headers)

    return await with_faults(request, "events", answer)


def _ended(engine: Engine, generation: _Generation) -> Job | None:
    """The generation's job if it has ended (succeeded, failed or cancelled), else None."""
    job = engine.get(generation.job_id)
    if job is None or (job.cancelled_at is None and time.time() < job.run_end):
        return None  # cheap: nothing ends before its run does, unless cancelled
    return job if _status(engine, job)[0] not in ACTIVE else None


async def _completions(request: Request, account: str, told: set[str], *, drop: bool) -> AsyncIterator[str]:
    engine, state = _state(request)
    base = base_url(request)
    ping_every = engine.options.ping_seconds
    next_ping = anyio.current_time() + ping_every
    while not engine.closing.is_set():
        for gid, generation in list(state.generations.items()):
            if gid in told or generation.account != account:
                continue
            job = _ended(engine, generation)
            if job is None:
                continue
            told.add(gid)
            if drop:
                return  # a dropped stream closes instead of telling this completion
            data = json.dumps(_completion(engine, job, gid, generation.model, base))
            yield f"event: media_generation_completed\ndata: {data}\n\n"
        if anyio.current_time() >= next_ping:
            yield ": keep-alive\n\n"
            next_ping = anyio.current_time() + ping_every
        await anyio.sleep(STREAM_TICK)


def _completion(engine: Engine, job: Job, generation_id: str, model: str, base: str) -> dict[str, Any]:
    """The documented event data: generation id, status, media type, model, and the url or the error."""
    status, message, video = _status(engine, job)
    data: dict[str, Any] = {
        "generation_id": generation_id,
        "status": status,
        "media_type": "video",
        "model": model,
    }
    if video is not None:
        data["url"] = _result_url(base, video)
    else:
        data["error"] = message or status
    return data


# --- repository files (uploads) ----------------------------------------------------------------------
async def put_file(request: Request) -> Response:
    p = request.path_params
    note(request, kind="upload", upload="oxen_repo")
    if (denied := check_bearer(request)) is not None:
        return denied
    engine, state = _state(request)
    form = await request.form()
    try:
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            return error(400, "invalid_params", "Invalid parameters", "multipart field 'file' is required")
        content_type = upload.content_type or "application/octet-stream"

        async def chunks() -> Any:
            while chunk := await upload.read(256 * 1024):
                yield chunk

        note(request, sent_name=upload.filename)
        stored = await engine.store.save(chunks(), safe_name(upload.filename), content_type)
    finally:
        await form.close()
    key = f"{p['namespace']}/{p['repo']}/{p['resource']}"
    state.repo_files[key] = stored
    note(request, file_id=stored.file_id, bytes=stored.size, content_type=content_type)
    return JSONResponse(
        {"status": "success", "status_message": "resource_created", "commit": {"id": uuid.uuid4().hex}}
    )


async def get_file(request: Request) -> Response:
    p = request.path_params
    note(request, kind="download")
    _, state = _state(request)
    stored = state.repo_files.get(f"{p['namespace']}/{p['repo']}/{p['resource']}")
    if stored is None:
        return error(404, "resource_not_found", "Not found", "File not found")
    return FileResponse(stored.path, media_type=stored.content_type)


def routes() -> list[Route]:
    """Oxen's routes; they must come before fal's submit catch-all."""
    return [
        Route("/api/ai/models/{model}", model_info, methods=["GET"]),
        Route("/api/ai/queue", enqueue, methods=["POST"]),
        Route("/api/ai/queue", list_generations, methods=["GET"]),
        Route("/api/ai/queue/{generation_id}", poll, methods=["GET"]),
        Route("/api/ai/queue/{generation_id}", cancel, methods=["DELETE"]),
        Route("/api/ai/videos/generate", generate, methods=["POST"]),
        Route("/api/ai/results/{file_id}/{name}", download_result, methods=["GET", "HEAD"]),
        Route("/api/events", events, methods=["GET"]),
        Route("/api/repos/{namespace}/{repo}/file/{resource:path}", put_file, methods=["PUT"]),
        Route("/api/repos/{namespace}/{repo}/file/{resource:path}", get_file, methods=["GET", "HEAD"]),
    ]
