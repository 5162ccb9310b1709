"""The tools' parameters as the assistant sees them, made from the catalogue's declarations.

A generating tool's arguments are one pydantic model built here from the catalogue parameters of the
modes it serves plus the tool's own (`continue_from`, `tier`, `wait_seconds`); the tool function and
its resolver are given that model's fields as their signature (`declare`), so a parameter is declared
once, in the catalogue, and listed, validated and passed on from there. A parameter only one provider
takes carries `PROVIDER_KEY`, read by `server/tool_listing.py` to list it only while that provider is active.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, create_model
from pydantic_core import PydanticCustomError

from ..server.catalogue.declaration import Param
from ..server.catalogue.endpoints import FAMILIES, PARAMS, TIERS, endpoints_for
from ..server.tool_listing import PROVIDER_KEY

NOT_BLANK_PATTERN = r"\S"  # JSON Schema patterns match anywhere: one visible character

# The modes each generating tool serves (its endpoints are the catalogue's entries in these modes).
TOOL_MODES: dict[str, tuple[str, ...]] = {
    "generate_video": ("text-to-video", "image-to-video"),
    "reference_video": ("reference-to-video",),
}


def not_blank(text: str) -> str:
    if not text.strip():
        raise PydanticCustomError("blank", "is only whitespace: describe the scene to generate")
    return text


Tier = Literal[TIERS]  # type: ignore[valid-type]  # the catalogue's tiers
Model = Literal[FAMILIES]  # type: ignore[valid-type]  # the catalogue's model families
TierParam = Annotated[
    Tier | None,
    Field(description='"mini": cheapest; "standard": 1080p; default: server\'s.'),
]
ModelParam = Annotated[
    Model,
    Field(
        description='"2.5": up to 30 s, dearer.',
        json_schema_extra={PROVIDER_KEY: "fal"},  # only fal serves another model than 2.0
    ),
]
WaitSecondsParam = Annotated[
    float | None,
    Field(
        ge=0,
        le=600,
        description="Then return a job_id (0: at once; hosts stop near 60 s).",
    ),
]
ContinueFromParam = Annotated[
    str | None,
    Field(description=("A shot to continue (job id or local MP4/MOV): its last frame starts this one.")),
]

# A field: its name, annotation (with its FieldInfo) and default (`inspect.Parameter.empty`: required).
Fields = list[tuple[str, Any, Any]]


def field_of(
    param: Param, values: tuple[str, ...], *, description: str | None = None, optional: bool = False
) -> tuple[Any, Any]:
    """The annotation and default of one catalogue parameter; `optional` makes every one default to
    None (a film's shot, estimate_cost's prompt)."""
    constraints: dict[str, Any] = {}
    base: Any
    if param.kind == "text":
        base = str
        if param.minimum is not None:
            constraints["min_length"] = param.minimum
    elif param.kind == "choice":
        base = Literal[values]
    elif param.kind == "integer":
        base = int
        constraints.update(ge=param.minimum, le=param.maximum)
    elif param.kind == "boolean":
        base = bool
    elif param.kind == "media":
        base = str
    else:
        base = list[str]
    only = param.only_for()
    extra: dict[str, Any] = {PROVIDER_KEY: only} if only else {}
    metadata: list[Any] = []
    if param.required and param.kind == "text" and not optional:
        metadata.append(AfterValidator(not_blank))
        extra["pattern"] = NOT_BLANK_PATTERN
    info = Field(description=description or param.description, json_schema_extra=extra or None, **constraints)
    default = None if optional else param.default
    if param.required and not optional:
        return Annotated[(base, *metadata, info)], inspect.Parameter.empty
    annotation = base | None if default is None else base
    return Annotated[(annotation, *metadata, info)], default


def allowed_values(param: Param, modes: tuple[str, ...]) -> tuple[str, ...]:
    """A choice's values over the endpoints of `modes`, in the catalogue's order."""
    seen: dict[str, None] = {}
    for entry in endpoints_for(modes):
        for value in entry.values(param.name):
            seen.setdefault(value)
    return tuple(seen)


def catalogue_params(modes: tuple[str, ...]) -> list[Param]:
    """The catalogue parameters taken by any endpoint of `modes`, in the catalogue's order."""
    taken = {p.name for e in endpoints_for(modes) for p in e.params}
    return [p for p in PARAMS if p.name in taken]


def generating_fields(tool: str) -> Fields:
    """A generating tool's fields: the media, `continue_from`, the settings, which endpoint and how
    long to wait, then one provider's own options."""
    modes = TOOL_MODES[tool]
    params = catalogue_params(modes)

    def entry(param: Param) -> tuple[str, Any, Any]:
        annotation, default = field_of(param, allowed_values(param, modes))
        return param.name, annotation, default

    media = ("media", "media_list")
    inputs = [entry(p) for p in params if p.required or p.kind in media]
    settings = [p for p in params if not (p.required or p.kind in media)]
    common = [entry(p) for p in settings if p.only_for() is None]
    own = [entry(p) for p in settings if p.only_for() is not None]
    return [
        *inputs,
        ("continue_from", ContinueFromParam, None),
        *common,
        ("model", ModelParam, FAMILIES[0]),
        ("tier", TierParam, None),
        ("wait_seconds", WaitSecondsParam, None),
        *own,
    ]


def arguments_model(name: str, fields: Fields, *, doc: str | None = None) -> type[BaseModel]:
    """One pydantic model of `fields` (a film's shot)."""
    definitions: dict[str, Any] = {
        field: (annotation, ... if default is inspect.Parameter.empty else default)
        for field, annotation, default in fields
    }
    return create_model(name, __doc__=doc, **definitions)


def declare(fn: Callable[..., Any], fields: Fields) -> None:
    """Give `fn` (a tool or a resolver taking `**arguments`) the signature the SDK reads its parameters
    from (Python's `__signature__`): its own named parameters (context, resolved values), then `fields`
    as keyword arguments in place of `**arguments`."""
    own = inspect.signature(fn, eval_str=True)
    parameters = [
        *(p for p in own.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD),
        *(
            inspect.Parameter(field, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
            for field, annotation, default in fields
        ),
    ]
    fn.__signature__ = own.replace(parameters=parameters)  # type: ignore[attr-defined]
    fn.__annotations__ = {
        **{p.name: p.annotation for p in parameters},
        "return": own.return_annotation,
    }
