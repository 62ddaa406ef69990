"""What a check holds to drive the student's code: a :class:`Student`.

Checks call ``s.call("relu_forward", x)``, ``s.get("Value")(2.0)``, ``s.probe("a1_backprop.x", ...)``
and receive plain data (NumPy arrays, numbers, tuples...) or :class:`Remote` proxies for objects
that stay with the student's code (a cache, a ``Value`` node, a module). A proxy forwards
attribute reads, calls and arithmetic operators, so checks read like ordinary Python.

Two implementations, one behaviour: :class:`LocalStudent` serves a notebook's own namespace
in-process (public checks, instant feedback); the grader's ``RemoteStudent`` (in
:mod:`autograder.session`) sends every request to an isolated worker. Both pass every value
through the same encoding, so a check sees copies, never the student's own objects.
"""

from __future__ import annotations

import json
from typing import Any

from . import wire
from .checking import CheckError, CheckFailure, shape_error_hint
from .endpoint import PROBES, Endpoint

__all__ = ["LocalStudent", "MalformedReply", "Remote", "Student", "StudentError"]


class StudentError(CheckFailure):
    """The student's code raised an exception while a check was running it."""

    def __init__(self, what: str, error: dict):
        kind, message = error.get("type", "Exception"), error.get("message", "")
        hint = None
        if kind == "NotImplementedError":
            text = f"{what} is not implemented yet ({message or 'NotImplementedError'})"
        else:
            where = error.get("where") or []
            at = f" (at {where[-1]})" if where else ""
            text = f"{what} raised {kind}: {message}{at}"
            hint = shape_error_hint(kind, message)
        super().__init__(text, hint)
        self.error = error


class MalformedReply(CheckFailure):
    """The worker's reply was not a well-formed answer (too large, wrong types, forged): the
    check it arrived in fails, nothing else."""

    def __init__(self, why: str):
        super().__init__(f"the worker's reply was malformed: {wire.cap_text(why, 300)}")


class Student:
    """Base class: subclasses provide :meth:`_roundtrip` (one request, one reply)."""

    def _roundtrip(self, header: dict, blobs: list[bytes]) -> tuple[dict, list[bytes]]:
        raise NotImplementedError

    def _request(
        self, what: str, op: str, target: Any = None, args=(), kwargs=None, **extra
    ) -> Any:
        enc = wire.Encoder()
        header = {
            "op": op,
            "target": enc.encode(target),
            "args": enc.encode(list(args)),
            "kwargs": enc.encode(dict(kwargs or {})),
            **extra,
        }
        reply, blobs = self._roundtrip(header, enc.blobs)
        if not reply.get("ok"):
            error = reply.get("error") or {}
            if isinstance(error, dict) and error.get("internal") is True:
                # The endpoint could not read or serve the request itself: the check's fault. (A
                # worker can forge this flag; that only flags the check for the instructor.)
                raise CheckError(
                    f"{what}: the check's request failed "
                    f"({error.get('type', 'Error')}: {str(error.get('message', ''))[:300]})"
                )
            raise StudentError(what, error)
        try:
            value = wire.decode(reply.get("value"), blobs, as_tensor=wire._tensor_from_numpy)
        except (wire.WireError, ValueError) as err:  # a forged array or reference
            raise MalformedReply(str(err)) from None
        return self._wrap(value, what)

    def _wrap(self, value: Any, what: str) -> Any:
        if isinstance(value, wire.Handle):
            return Remote(self, value, what)
        if isinstance(value, tuple):
            return tuple(self._wrap(v, what) for v in value)
        if isinstance(value, list):
            return [self._wrap(v, what) for v in value]
        if isinstance(value, dict):
            return {k: self._wrap(v, what) for k, v in value.items()}
        return value

    # the API checks use ------------------------------------------------------------------
    def call(self, name: str, *args, **kwargs) -> Any:
        """Call the student's function ``name`` with copies of ``args``."""
        return self._request(f"{name}(...)", "call", name, _unwrap(args), _unwrap(kwargs))

    def get(self, name: str) -> Any:
        """The student's global ``name``: data by value, anything else as a :class:`Remote`."""
        return self._request(name, "get", name)

    def has(self, name: str) -> bool:
        return bool(self._request(name, "has", name))

    def attachment(self, name: str, max_bytes: int) -> bytes:
        """The bytes of file ``name`` submitted beside the notebook (a model's weights, say).

        It is read where the check runs (the grader, or the notebook's folder), never by the
        student's code; a missing, oversized or linked file fails the check with a message."""
        from .submission import read_attachment

        return read_attachment(self._folder(), name, max_bytes)

    def _folder(self):
        return None

    def probe(self, name: str, *args, what: str | None = None, **kwargs) -> Any:
        """Run a registered probe beside the student's code; it returns plain data.

        ``what`` names, in messages, the student's code the probe exercises (for example
        ``"train_two_layer_net(...)"``); an exception from that code is reported against it.
        """
        if name not in PROBES:  # registered by the assignment's probes module, here as there
            raise CheckError(f"unknown probe {name!r}: no probes module registers it")
        label = what or f"probe {name}"
        return self._request(label, "probe", None, _unwrap(args), _unwrap(kwargs), name=name)


class Remote:
    """A proxy for an object that lives with the student's code."""

    __slots__ = ("_s", "_h", "_what")

    def __init__(self, student: Student, handle: wire.Handle, what: str):
        object.__setattr__(self, "_s", student)
        object.__setattr__(self, "_h", handle)
        object.__setattr__(self, "_what", what)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._s._request(f"{self._what}.{name}", "getattr", self._h, name=name)

    def __call__(self, *args, **kwargs) -> Any:
        return self._s._request(
            f"{self._what}(...)", "call", self._h, _unwrap(args), _unwrap(kwargs)
        )

    def __repr__(self) -> str:
        return f"<remote {self._what}>"

    def _binop(self, name: str, a: Any, b: Any) -> Any:
        return self._s._request(f"{self._what} {name}", "binop", None, _unwrap((a, b)), name=name)

    def __add__(self, o):
        return self._binop("add", self, o)  # noqa: E704

    def __radd__(self, o):
        return self._binop("add", o, self)  # noqa: E704

    def __sub__(self, o):
        return self._binop("sub", self, o)  # noqa: E704

    def __rsub__(self, o):
        return self._binop("sub", o, self)  # noqa: E704

    def __mul__(self, o):
        return self._binop("mul", self, o)  # noqa: E704

    def __rmul__(self, o):
        return self._binop("mul", o, self)  # noqa: E704

    def __truediv__(self, o):
        return self._binop("truediv", self, o)  # noqa: E704

    def __rtruediv__(self, o):
        return self._binop("truediv", o, self)  # noqa: E704

    def __pow__(self, o):
        return self._binop("pow", self, o)  # noqa: E704

    def __rpow__(self, o):
        return self._binop("pow", o, self)  # noqa: E704

    def __matmul__(self, o):
        return self._binop("matmul", self, o)  # noqa: E704

    def __neg__(self):
        return self._s._request(f"-{self._what}", "unop", None, _unwrap((self,)), name="neg")


def _unwrap(x: Any) -> Any:
    """Replace proxies by their handles before sending."""
    if isinstance(x, Remote):
        return object.__getattribute__(x, "_h")
    if isinstance(x, tuple):
        return tuple(_unwrap(v) for v in x)
    if isinstance(x, list):
        return [_unwrap(v) for v in x]
    if isinstance(x, dict):
        return {k: _unwrap(v) for k, v in x.items()}
    return x


class LocalStudent(Student):
    """Serves a namespace in this process (the student's own kernel): public checks."""

    def __init__(self, namespace: dict, folder=None):
        self.endpoint = Endpoint(namespace)
        self.folder = folder  # where attachments are read; the working directory by default

    def _folder(self):
        from pathlib import Path

        return Path(self.folder) if self.folder is not None else Path.cwd()

    def _roundtrip(self, header, blobs):
        # Through JSON exactly as over a socket, so that values are copies here too.
        reply, out_blobs = self.endpoint.handle(json.loads(json.dumps(header)), list(blobs))
        return json.loads(json.dumps(reply, allow_nan=False)), out_blobs
