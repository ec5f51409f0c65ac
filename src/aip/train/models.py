"""Model look-up and config building for the trainer and the CLI.

Models are found by name in the one table :data:`aip.models.registry.SPECS` (the ``generative`` and
``restoration`` kinds; classifiers such as LeNet are trained by their own benchmark script). A
:class:`~aip.models.base.Trainable` subclass outside the table with a ``name`` and a ``config_class`` (a
plug-in, a tiny model in a test) is found as well; :func:`aip.models.registry.register_model` lists it
in the table. Config values may come as command-line strings: they are converted to the dataclass fields'
annotated types, and unknown keys are a one-line error listing the known ones.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from aip.models import registry
from aip.models.base import Trainable


def _subclasses(cls: type) -> list[type]:
    out = []
    for s in cls.__subclasses__():
        out.append(s)
        out.extend(_subclasses(s))
    return out


def _discovered() -> dict[str, type[Trainable]]:
    """Trainable subclasses outside the table that have a ``name`` and a ``config_class``."""
    out: dict[str, type[Trainable]] = {}
    for c in _subclasses(Trainable):
        name = getattr(c, "name", "")
        if name and name not in registry.MODELS and getattr(c, "config_class", None) is not None:
            out.setdefault(name, c)
    return out


def available_models(kind: str | None = None) -> list[str]:
    """Sorted names of every model ``aip train`` can train (of ``kind``, "generative" or "restoration")."""
    kinds = ("generative", "restoration") if kind is None else (kind,)
    if kind is not None and kind not in ("generative", "restoration"):
        raise ValueError(f"kind: expected 'generative' or 'restoration', got {kind!r}")
    names = set(registry.model_names(kinds))
    names.update(n for n, c in _discovered().items() if getattr(c, "task", "") in kinds)
    return sorted(names)


def get_model_class(name: str) -> type[Trainable]:
    """The trainable model class called ``name``; ValueError listing the known names otherwise."""
    spec = registry.MODELS.get(name)
    if spec is not None:
        if not spec.trainable:
            raise ValueError(f"model: expected one that aip train trains ({', '.join(available_models())}); "
                             f"got {name!r}, a {spec.kind} (see aip.io.assets.ASSET_COMMANDS for its command)")
        return spec.model_class
    found = _discovered().get(name)
    if found is not None:
        return found
    raise ValueError(f"model: expected one of {', '.join(available_models()) or 'none'}; got {name!r}")


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    """Convert a command-line string (or JSON value) to the field's annotated type."""
    if isinstance(annotation, str):
        annotation = {"int": int, "float": float, "bool": bool, "str": str}.get(annotation.split("|")[0].strip(),
                                                                               annotation)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        if value in args:
            return value
        raise ValueError(f"{key}: expected one of {', '.join(map(str, args))}; got {value!r}")
    if origin in (typing.Union, types.UnionType):
        is_none = value is None or (isinstance(value, str) and value.lower() == "none")
        if is_none and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, key)
            except (TypeError, ValueError) as exc:
                errors.append(str(exc))
        raise ValueError(errors[0] if errors else f"{key}: cannot convert {value!r}")
    if origin is dict or annotation is dict:
        if isinstance(value, str):
            import json

            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise ValueError(f"{key}: expected a JSON object such as '{{\"steps\": 20}}', got {value!r}") from None
        if not isinstance(value, dict):
            raise ValueError(f"{key}: expected a JSON object, got {value!r}")
        return value
    if origin in (list, tuple) or annotation in (list, tuple):
        items = value
        if isinstance(value, str):
            for ch in "()[]":
                value = value.replace(ch, "")
            items = [v for v in value.split(",") if v.strip()]
        if not isinstance(items, (list, tuple)):
            raise ValueError(f"{key}: expected a comma-separated list, got {value!r}")
        inner = args[0] if args else str
        out = [_coerce(v.strip() if isinstance(v, str) else v, inner, key) for v in items]
        return tuple(out) if (origin is tuple or annotation is tuple) else out
    if annotation is bool:
        if isinstance(value, bool):
            return value
        s = str(value).lower()
        if s in ("1", "true", "yes", "on"):
            return True
        if s in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{key}: expected a boolean (true/false), got {value!r}")
    if annotation is int:
        if isinstance(value, bool):
            raise ValueError(f"{key}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{key}: expected an integer, got {value!r}") from None
        if not f.is_integer():
            raise ValueError(f"{key}: expected an integer, got {value!r}")
        return int(f)
    if annotation is float:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{key}: expected a number, got {value!r}") from None
    if annotation is str:
        return str(value)
    return value


def coerce_value(value: Any, annotation: Any, key: str) -> Any:
    """Public form of the converter: ``value`` (often a string) to the type ``annotation`` of field ``key``."""
    return _coerce(value, annotation, key)


def make_config(config_class: type, values: dict[str, Any] | None = None, *, what: str = "model",
                validate: bool = True) -> Any:
    """Build a dataclass config from ``values`` (command-line strings are converted to the field types).

    Unknown keys raise ValueError naming the known ones; the config's own ``validate()`` runs if it has one
    (unless ``validate=False``: a peek at some fields before the data has filled in the rest).
    """
    if not dataclasses.is_dataclass(config_class):
        raise TypeError(f"{config_class!r}: expected a dataclass config class")
    fields = {f.name: f for f in dataclasses.fields(config_class)}
    try:
        hints = typing.get_type_hints(config_class)
    except (NameError, TypeError):  # unresolvable annotations: fall back to the fields' declared types
        hints = {}
    kwargs = {}
    for key, value in (values or {}).items():
        k = key.replace("-", "_")
        if k not in fields:
            raise ValueError(f"{what} config: unknown key {key!r}; expected one of {', '.join(fields)}")
        kwargs[k] = _coerce(value, hints.get(k, fields[k].type), k)
    cfg = config_class(**kwargs)
    if validate and callable(getattr(cfg, "validate", None)):
        cfg.validate()
    return cfg


def build_model(name: str, values: dict[str, Any] | None = None) -> Trainable:
    """Instantiate the model ``name`` from config ``values`` (unknown keys raise ValueError)."""
    cls = get_model_class(name)
    return cls(make_config(cls.config_class, values, what=name))
