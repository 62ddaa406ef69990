"""The side of the conversation that runs beside the student's code.

An :class:`Endpoint` holds the student's namespace and a table of objects it has handed out as
handles. It answers requests (call a function, read an attribute, apply an operator, run a probe)
by running the student's code and encoding the result with :mod:`autograder.wire`. The grader's
worker process serves an Endpoint over a socket; in a notebook, :class:`~autograder.student.
LocalStudent` talks to one in-process, so both paths share these exact semantics.

Nothing here decides whether an answer is right: this module never sees an expected value.
"""

from __future__ import annotations

import operator
import traceback
from collections.abc import Callable
from typing import Any

from . import wire

#: Probe functions by name: small drivers that exercise the student's objects inside the worker
#: and return plain data (for example: build a graph of ``Value`` nodes and backpropagate). They
#: are registered by each assignment's ``probes`` module with :func:`probe`.
PROBES: dict[str, Callable[..., Any]] = {}

BINARY_OPS = {
    name: getattr(operator, name)
    for name in (
        "add",
        "sub",
        "mul",
        "truediv",
        "pow",
        "matmul",
        "lt",
        "le",
        "eq",
        "ne",
        "gt",
        "ge",
    )
}
UNARY_OPS = {"neg": operator.neg, "pos": operator.pos, "abs": operator.abs}


class BadRequest(LookupError):
    """A request names no known operation or probe: the check's fault, not the student's."""


def probe(name: str):
    """Register a probe under ``name`` (convention: ``"<assignment>.<what>"``)."""

    def deco(fn):
        PROBES[name] = fn
        return fn

    return deco


class Endpoint:
    def __init__(self, namespace: dict):
        self.ns = namespace
        self.objects: dict[int, Any] = {}

    # handles --------------------------------------------------------------------------------
    def keep(self, obj: Any) -> int:
        n = len(self.objects) + 1
        self.objects[n] = obj
        return n

    def resolve(self, n: int) -> Any:
        try:
            return self.objects[n]
        except KeyError:
            raise LookupError(f"no object with handle {n}") from None

    # requests -------------------------------------------------------------------------------
    def handle(self, header: dict, blobs: list[bytes]) -> tuple[dict, list[bytes]]:
        """Answer one request; student exceptions become ``{"ok": False, "error": ...}``."""
        try:
            args = wire.decode(header.get("args", []), blobs, resolve=self.resolve)
            kwargs = wire.decode(
                header.get("kwargs", {"$strdict": {}}), blobs, resolve=self.resolve
            )
            target = wire.decode(header.get("target"), blobs, resolve=self.resolve)
        except (wire.WireError, LookupError, ValueError) as err:
            return {"ok": False, "error": _error_dict(err, internal=True)}, []
        op = header.get("op")
        try:
            value = self._dispatch(op, target, header, args, kwargs)
        except BadRequest as err:  # the check asked for something that does not exist
            return {"ok": False, "error": _error_dict(err, internal=True)}, []
        except BaseException as err:  # noqa: B036 -- student code may raise anything, SystemExit too
            if isinstance(err, KeyboardInterrupt):
                raise
            return {"ok": False, "error": _error_dict(err)}, []
        enc = wire.Encoder(keep=self.keep)
        try:
            tree = enc.encode(value)
        except BaseException as err:  # noqa: B036 -- __float__ of a student class, deep nesting...
            return {"ok": False, "error": _error_dict(err)}, []
        return {"ok": True, "value": tree}, enc.blobs

    def _dispatch(self, op, target, header, args, kwargs):
        if op == "call":
            fn = self._lookup(target)
            return fn(*args, **kwargs)
        if op == "get":
            return self._lookup(target)
        if op == "has":
            return isinstance(target, str) and target in self.ns
        if op == "getattr":
            return getattr(self._lookup(target), str(header["name"]))
        if op == "binop":
            return BINARY_OPS[header["name"]](*args)
        if op == "unop":
            return UNARY_OPS[header["name"]](*args)
        if op == "probe":
            fn = PROBES.get(str(header["name"]))
            if fn is None:
                raise BadRequest(f"unknown probe {header['name']!r}")
            return fn(self.ns, *args, **kwargs)
        raise BadRequest(f"unknown request {op!r}")

    def _lookup(self, target):
        if isinstance(target, str):
            if target not in self.ns:
                raise NameError(
                    f"name {target!r} is not defined: run its answer cell, and keep the function's "
                    "name exactly as given"
                )
            return self.ns[target]
        return target


def _error_dict(err: BaseException, internal: bool = False) -> dict:
    frames = [
        f"{f.filename}:{f.lineno} in {f.name}"
        for f in traceback.extract_tb(err.__traceback__)
        if f.filename.startswith("<") or "/autograder/" not in f.filename
    ]
    try:
        message = str(err)
    except BaseException:  # noqa: B036 -- a student exception whose __str__ raises
        message = "<unprintable>"
    return {
        "type": type(err).__name__,
        "message": message[:2000],
        "where": frames[-3:],
        "internal": internal,
    }
