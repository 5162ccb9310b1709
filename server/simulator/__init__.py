"""An offline fake of fal.ai's and Oxen.ai's hosted APIs, served over real HTTP on loopback.

    from . import Simulator, SimulatorOptions

    with Simulator(SimulatorOptions(queue_seconds=0.3, run_seconds=0.6)) as sim:
        ...  # point every fal URL setting (queue, REST, CDN) at sim.url

One origin serves fal's queue (`POST /<endpoint id>` for every endpoint described under
`endpoints/fal/`: Seedance 2.0 standard, fast and mini, Seedance 2.5 and its `draft/complete`;
`.../requests/{id}[/status[/stream]|/cancel]`), what fal publishes about each endpoint (its queue
OpenAPI, its llms.txt, its price; see `server.simulator.published`), storage (`/storage/auth/token`,
`/files/upload`, multipart, the GCS-style fallback), the CDN (`GET`/`HEAD /files/{id}/{name}`) and Oxen's API
(`/api/ai/...`, the `/api/events` stream, `/api/repos/...`; see `server.simulator.oxen`). Jobs render real
MP4s (H.264, AAC when `generate_audio`) at the documented size and length, labelled SIMULATED.
`GET /_simulator/requests` lists what was received (never a credential); `DELETE` clears it.

Test hooks:
- API keys containing `sim-invalid` get 401 "No user found for Key ID and Secret";
  keys containing `sim-locked` get 403 "User is locked. Reason: Exhausted balance...".
- Requests are validated against the simulator's own description of the endpoint
  (`server.simulator.descriptions`); `PATCH /_simulator/descriptions/...` injects vendor drift.
- Markers in the prompt make the job end in an error (status COMPLETED with `error`/`error_type`):
  `[sim:content_policy]`     result 422, detail type `content_policy_violation`
  `[sim:real-face]`          result 422, `content_policy_violation` with `ctx.reason`
                             `real_person_likeness`: a refusal to show a real person's likeness,
                             located on the first reference image or start frame
  `[sim:detail=<type>]`      result 422, detail type `<type>` (e.g. `no_media_generated`)
  `[sim:error=<error_type>]` result with fal's status for that type (`runner_server_error` 500,
                             `request_timeout` 504, ...), body `{"detail", "error_type"}` and
                             header `X-Fal-Error-Type`
- `[sim:echo_key]` in the prompt: the submit answers 400 with a detail quoting the request's
  `Authorization` header (raw, JSON-escaped, repr, key id and secret apart), as a careless gateway
  might; our answers, logs and journal must show none of it.
- `DELETE /_simulator/upload-tokens` revokes every CDN upload token issued so far.
- `PUT /_simulator/hold` with `{"until": <epoch seconds>}`: no job ends before then (`null` lifts it),
  so a benchmark's jobs can all end in one instant.
- Invalid input (bad enum, wrong type, missing `prompt` or `image_url`, too many files) is accepted
  at submit, as fal does, and the result answers 422 with pydantic-style `detail`. A media URL on
  the simulator's own origin that does not exist fails with `file_download_error`.
- Cancel: a queued job is removed (COMPLETED, `error_type` `client_cancelled`, result 499); a
  running job is told (202, a WARN log line) but finishes anyway, as fal's runners may.
- Seedance 2.5 drafts: `"draft": true` renders at 480p and the result carries `draft_id` and
  `draft_expires_at`; `POST .../seedance-2.5/draft/complete` with the `draft_id` renders the same take
  at full resolution (`SimulatorOptions.draft_seconds` shortens the 7 days for tests).
- `SimulatorOptions.faults` injects transport faults; see `server.simulator.faults`.
"""

from __future__ import annotations

from .options import SimulatorOptions
from .runner import Simulator, run_forever

__all__ = ["Simulator", "SimulatorOptions", "run_forever"]
