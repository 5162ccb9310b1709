"""The media parameters of the generating tools, checked and made uploadable.

Each media parameter (`image_url`, `end_image_url`; `image_urls`, `video_urls`, `audio_urls`) takes an
`https://` URL, a `data:` URI or a local path (absolute, `~`, or `file://`). `check_frames` and
`check_references` apply every documented limit before anything is uploaded or paid for, in this
order: counts, prompt references (`@Image2`, `[Video1]`), then each input (scheme, place, size,
content), then the combined limits (durations, total size). `upload_inputs` then turns local files and
data URIs into public URLs; URLs pass through as given.

The rooms: `checks` (the two entry points), `rules` (what each parameter accepts, and the messages),
`combined_limits`, `prompt_references`, `local_files` (the folder sandbox), `data_uris`, `urls`,
`uploads`, and `checked` (the values they pass on).
"""

from ..media.remote import UrlPolicy
from .checked import CheckedInputs, MediaInput, release
from .checks import check_frames, check_references
from .local_files import local_file
from .uploads import upload_inputs

__all__ = [
    "CheckedInputs",
    "MediaInput",
    "UrlPolicy",
    "check_frames",
    "check_references",
    "local_file",
    "release",
    "upload_inputs",
]
