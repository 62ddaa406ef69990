"""The only format in which values cross between the grader and a student's worker.

A message is a JSON header plus a list of ``.npy`` blobs. Values are encoded as a JSON tree in
which arrays are replaced by ``{"$nd": i}`` (blob ``i``), tensors by ``{"$tensor": i}``, tuples by
``{"$tuple": [...]}``, dicts with non-string keys by ``{"$dict": [[k, v], ...]}``, and anything
else by an opaque ``{"$handle": n}``: a reference to an object that stays in the process that made
it (a ``cache``, a ``Value`` node, an ``nn.Module``). Decoding never unpickles anything and never
builds an object of a class the student defined: ``np.load(..., allow_pickle=False)`` and
``json.loads`` only. Whatever the student's process sends, the grader gets plain data.

Every reply of a worker is hostile input: the grader reads replies only through
:func:`recv_reply`, which validates each one (sizes, types, depth, counts, text, numbers, the
keys of ``$dict``) under a deadline of its own before anything else touches it.

Framing on a stream socket: ``u64 message length | u32 header length | header | u32 blob count |
(u64 length | blob)*``.
"""

from __future__ import annotations

import json
import math
import re
import socket
import struct
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_HEADER = 16 * 2**20  # bytes of JSON in one message
MAX_MESSAGE = 256 * 2**20  # bytes in one message, blobs included


class WireError(Exception):
    """A message that is malformed, too large, or cut off."""


@dataclass(frozen=True)
class Handle:
    """An object that lives in the other process; only its number crosses."""

    id: int


def _is_tensor(x: Any) -> bool:
    mod = type(x).__module__
    return mod.startswith("torch") and type(x).__name__ in ("Tensor", "Parameter")


class Encoder:
    """Turns a value into (JSON tree, blobs); ``keep`` stores non-data objects and returns a Handle."""

    def __init__(self, keep=None):
        self.blobs: list[bytes] = []
        self.keep = keep

    def encode(self, x: Any, depth: int = 0) -> Any:
        if depth > 50:
            raise WireError("value nested more than 50 levels deep")
        if x is None or isinstance(x, bool | str):
            return x if not isinstance(x, str) else str(x)
        if type(x) is int or isinstance(x, np.integer):
            return {"$int": str(int(x))}  # arbitrary precision, no JSON float rounding
        if isinstance(x, float | np.floating):
            f = float(x)
            return f if math.isfinite(f) else {"$float": repr(f)}
        if isinstance(x, np.bool_):
            return bool(x)
        if isinstance(x, Handle):
            return {"$handle": x.id}
        if isinstance(x, np.ndarray):
            return self._array(np.asarray(x), "$nd")
        if _is_tensor(x):
            t = x.detach().cpu()
            if str(t.dtype) == "torch.bfloat16":
                t = t.float()
            return self._array(t.numpy(), "$tensor")
        if isinstance(x, tuple):
            return {"$tuple": [self.encode(v, depth + 1) for v in x]}
        if isinstance(x, list):
            return [self.encode(v, depth + 1) for v in x]
        if isinstance(x, dict):
            if all(type(k) is str for k in x):
                return {"$strdict": {k: self.encode(v, depth + 1) for k, v in x.items()}}
            return {
                "$dict": [
                    [self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in x.items()
                ]
            }
        if self.keep is None:
            raise WireError(f"cannot send a {type(x).__name__} by value")
        return {"$handle": self.keep(x)}

    def _array(self, a: np.ndarray, tag: str) -> dict:
        if a.dtype.hasobject or a.dtype.kind not in "biufc":
            raise WireError(f"arrays of dtype {a.dtype} cannot be sent")
        self.blobs.append(dump_npy(a))
        return {tag: len(self.blobs) - 1}


def decode(tree: Any, blobs: list[bytes], resolve=None, as_tensor=None) -> Any:
    """Rebuild a value. ``resolve(id)`` maps handle numbers to objects (worker side); without it,
    handles come back as :class:`Handle`. ``as_tensor`` turns an array into a tensor (lazy torch)."""

    def walk(x: Any) -> Any:
        if isinstance(x, list):
            return [walk(v) for v in x]
        if not isinstance(x, dict):
            return x
        if len(x) != 1:
            raise WireError("malformed value")
        ((tag, v),) = x.items()
        if tag == "$int":
            return int(v)
        if tag == "$float":
            if v not in ("nan", "inf", "-inf"):
                raise WireError("malformed float")
            return float(v)
        if tag in ("$nd", "$tensor"):
            if not isinstance(v, int) or not 0 <= v < len(blobs):
                raise WireError("malformed array reference")
            a = load_npy(blobs[v])
            if tag == "$tensor" and as_tensor is not None:
                return as_tensor(a)
            return a
        if tag == "$tuple":
            return tuple(walk(i) for i in v)
        if tag == "$strdict":
            return {str(k): walk(i) for k, i in v.items()}
        if tag == "$dict":
            return {_hashable(walk(k)): walk(i) for k, i in v}
        if tag == "$handle":
            if not isinstance(v, int):
                raise WireError("malformed handle")
            return resolve(v) if resolve is not None else Handle(v)
        raise WireError(f"unknown tag {tag!r}")

    return walk(tree)


_NPY_MAGIC = b"\x93NUMPY\x01\x00"
# The header numpy writes for a plain array, and the only one accepted: parsing it with a regular
# expression is ~20x faster than numpy's reader (which calls ast.literal_eval) and admits nothing
# else: no structured or object dtypes, no arbitrary Python literals.
_NPY_HEADER = re.compile(
    rb"\{'descr': '([<>|]?[biufc]\d{1,2})', 'fortran_order': (True|False), "
    rb"'shape': \(((?:\d{1,12}, )*\d{0,12},?)\), \} *\n"
)


def dump_npy(a: np.ndarray) -> bytes:
    """An ``.npy`` (version 1.0) blob of a numeric array, byte for byte what ``np.save`` writes
    for a C-ordered array; 0-d arrays keep their shape."""
    a = np.ascontiguousarray(a).reshape(a.shape)  # ascontiguousarray makes 0-d arrays 1-d
    shape = repr(tuple(int(n) for n in a.shape))
    head = f"{{'descr': '{a.dtype.str}', 'fortran_order': False, 'shape': {shape}, }}"
    pad = 64 - (len(_NPY_MAGIC) + 2 + len(head) + 1) % 64
    head = (head + " " * pad + "\n").encode("latin1")
    return b"".join([_NPY_MAGIC, struct.pack("<H", len(head)), head, a.tobytes()])


def load_npy(blob: bytes) -> np.ndarray:
    """Parse one ``.npy`` blob, refusing anything but a plain numeric array whose header agrees
    with its size (``np.load`` would allocate whatever shape a hostile header claims)."""
    if len(blob) < 10 or blob[:8] != _NPY_MAGIC:
        raise WireError("malformed array: not an .npy version 1.0 blob")
    (n,) = struct.unpack("<H", blob[8:10])
    m = _NPY_HEADER.fullmatch(blob, 10, 10 + n)
    if m is None:
        raise WireError("malformed array: unexpected .npy header")
    try:
        dtype = np.dtype(m[1].decode())
    except TypeError as err:
        raise WireError(f"malformed array: {err}") from None
    if dtype.hasobject or dtype.kind not in "biufc" or dtype.fields is not None:
        raise WireError(f"arrays of dtype {dtype} are not accepted")
    shape = tuple(int(d) for d in m[3].split(b",") if d.strip())
    count = math.prod(shape)
    if count * dtype.itemsize != len(blob) - 10 - n:
        raise WireError("array header does not match its data")
    data = np.frombuffer(blob, dtype=dtype, count=count, offset=10 + n)
    return data.reshape(shape, order="F" if m[2] == b"True" else "C").copy()


def load_npz(data: bytes, max_bytes: int, max_arrays: int = 4096) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` archive (``np.savez`` or ``np.savez_compressed``), read without
    pickle and without trusting its headers: at most ``max_arrays`` members and ``max_bytes``
    inflated in all. Raises :class:`WireError` for anything else."""
    import io
    import zipfile

    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
        raise WireError(f"not an .npz archive ({err})") from None
    if len(infos) > max_arrays:
        raise WireError(f"{len(infos)} arrays: more than {max_arrays}")
    out, total = {}, 0
    for info in infos:
        name = info.filename
        if not name.endswith(".npy") or "/" in name or "\\" in name or info.flag_bits & 0x1:
            raise WireError(f"unexpected member {name!r} in the .npz archive")
        try:
            with zf.open(info) as f:  # reads at most what is left of the budget, plus one byte
                blob = f.read(max_bytes - total + 1)
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, ValueError) as err:
            raise WireError(f"{name!r} cannot be read ({err})") from None
        total += len(blob)
        if total > max_bytes:
            raise WireError(f"the arrays inflate past {max_bytes / 2**20:.0f} MiB")
        key = name[: -len(".npy")]
        if key in out:
            raise WireError(f"array {key!r} appears twice")
        try:
            out[key] = load_npy(blob)
        except WireError as err:
            raise WireError(f"array {key!r} is not a plain numeric array ({err})") from None
    return out


def _hashable(k: Any) -> Any:
    if isinstance(k, np.ndarray):
        raise WireError("array used as a dict key")
    return k


def _tensor_from_numpy(a: np.ndarray):
    import torch

    return torch.from_numpy(a)


# -- framing ---------------------------------------------------------------------------------


def send(sock: socket.socket, header: dict, blobs: list[bytes] = ()) -> None:
    head = json.dumps(header, allow_nan=False).encode()
    parts = [struct.pack("<I", len(head)), head, struct.pack("<I", len(blobs))]
    for b in blobs:
        parts += [struct.pack("<Q", len(b)), b]
    body = b"".join(parts)
    sock.sendall(struct.pack("<Q", len(body)) + body)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        k = sock.recv_into(view[got:], min(n - got, 1 << 24))
        if not k:
            raise EOFError("connection closed")
        got += k
    return bytes(buf)


def _recv_body(sock: socket.socket) -> bytes:
    (total,) = struct.unpack("<Q", _recv_exact(sock, 8))
    if total > MAX_MESSAGE:
        raise WireError(f"message over {MAX_MESSAGE // 2**20} MiB")
    return _recv_exact(sock, total)


def split(body: bytes, max_header: int = MAX_HEADER) -> tuple[bytes, list[bytes]]:
    """The JSON header and the blobs of one message body (the part after its length)."""
    try:
        (n,) = struct.unpack_from("<I", body, 0)
        if n > max_header:
            raise WireError(f"header of {n} bytes is over the limit")
        if 8 + n > len(body):
            raise WireError("message cut off")
        head = body[4 : 4 + n]
        (count,) = struct.unpack_from("<I", body, 4 + n)
        if count > MAX_BLOBS:  # each blob costs an object here: refuse before the loop
            raise WireError(f"{count} arrays in one message: more than {MAX_BLOBS}")
        pos, blobs = 8 + n, []
        for _ in range(count):
            (size,) = struct.unpack_from("<Q", body, pos)
            if pos + 8 + size > len(body):
                raise WireError("message cut off")
            blobs.append(body[pos + 8 : pos + 8 + size])
            pos += 8 + size
    except struct.error:
        raise WireError("message cut off") from None
    if pos != len(body):
        raise WireError("trailing bytes after the message")
    return head, blobs


def recv(sock: socket.socket) -> tuple[dict, list[bytes]]:
    """Read one message; raises EOFError on a closed socket, WireError on a bad or huge one.

    The whole message is read in one go (its length comes first), then split in memory. For
    replies from a worker use :func:`recv_reply`, which also validates them."""
    head, blobs = split(_recv_body(sock))
    try:
        header = json.loads(head)
    except (ValueError, RecursionError) as e:
        raise WireError(f"header is not valid JSON: {e}") from None
    if not isinstance(header, dict):
        raise WireError("header is not an object")
    return header, blobs


# -- replies from a worker: hostile input until validated -----------------------------------
#
# Every reply the grader reads goes through :func:`parse_reply`, and only what it returns is
# used: known fields of the right types, a value tree of known tags, bounded in size, depth and
# count, with safe text and sane numbers. Its cost is bounded before any expensive work (a
# byte-level count of the JSON's values before parsing, no Python object per value beyond
# MAX_NODES), and it has a deadline of its own. Anything else raises WireError, which costs only
# the check (or cell) the reply arrived in.

MAX_REPLY_HEADER = 8 * 2**20  # bytes of JSON in one reply
MAX_BLOBS = 10_000  # arrays in one message
MAX_NODES = 50_000  # JSON values in one reply (arrays travel as blobs, not as JSON)
MAX_DEPTH = 64  # nesting of a reply's value (the encoder refuses more than 50 levels)
MAX_INT_DIGITS = 1_000  # digits of one integer (int() is quadratic in them)
MAX_OUTPUT = 16_000  # characters of printed output kept per reply (the worker sends <= 8,000)
MAX_ERROR_TEXT = 2_000  # characters of an exception's message
REPLY_SECONDS = 2.0  # the grader's own processing of one reply
_NO_SURROGATES = dict.fromkeys(range(0xD800, 0xE000), 0xFFFD)
_HASH_SAFE = 2**61 - 1  # ints below it hash to themselves: no crafted collisions as dict keys
_TAGS = frozenset(("$int", "$float", "$nd", "$tensor", "$tuple", "$strdict", "$dict", "$handle"))


def recv_reply(sock: socket.socket) -> tuple[dict, list[bytes]]:
    """Read and validate one reply of a worker (see :func:`parse_reply`)."""
    return parse_reply(_recv_body(sock))


def parse_reply(body: bytes, seconds: float = REPLY_SECONDS) -> tuple[dict, list[bytes]]:
    """A worker's reply ``{"ok", "value"?, "error"?, "output"}``, validated, from a message body.

    Raises :class:`WireError` for anything malformed, oversized, or slower than ``seconds`` to
    check. Text comes back without lone surrogates and with output capped (with a note)."""
    deadline = time.monotonic() + seconds
    head, blobs = split(body, MAX_REPLY_HEADER)
    # Each value costs at least one of these bytes: counting them bounds the objects that
    # json.loads may build (commas inside strings only make the bound stricter).
    if head.count(b",") + head.count(b"[") + head.count(b"{") > MAX_NODES:
        raise WireError(f"more than {MAX_NODES} values in one reply")
    try:
        header = json.loads(head, parse_constant=_no_constant)
    except (ValueError, RecursionError) as e:
        raise WireError(f"header is not valid JSON: {str(e)[:200]}") from None
    if not isinstance(header, dict):
        raise WireError("header is not an object")
    return check_reply(header, len(blobs), deadline), blobs


def check_reply(header: dict, n_blobs: int, deadline: float) -> dict:
    """The fields of a reply the grader reads (``ok``, ``value``, ``error``, ``output``,
    ``cpu``), type-checked; everything else is dropped."""
    ok = header.get("ok", False)
    if not isinstance(ok, bool):
        raise WireError(f"'ok' is a {type(ok).__name__}, not true or false")
    out: dict[str, Any] = {"ok": ok}
    if "value" in header:
        out["value"] = _Checker(n_blobs, deadline).tree(header["value"], 0)
    error = header.get("error")
    if error is not None:
        out["error"] = _check_error(error)
    output = header.get("output", "")
    if not isinstance(output, str):
        raise WireError(f"'output' is a {type(output).__name__}, not text")
    out["output"] = safe_text(cap_text(output, MAX_OUTPUT, "of output"))
    cpu = header.get("cpu")  # the CPU time the worker reports; the grader also measures it
    if type(cpu) in (int, float) and math.isfinite(cpu) and cpu >= 0:
        out["cpu"] = float(cpu)
    return out


def safe_text(s: str) -> str:
    """``s`` without lone surrogates (each becomes U+FFFD), so that it can be written as UTF-8."""
    if s.isascii():
        return s
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return s.translate(_NO_SURROGATES)
    return s


def cap_text(s: str, limit: int, what: str = "") -> str:
    """The first ``limit`` characters of ``s``, with a note of how many were dropped."""
    if len(s) <= limit:
        return s
    what = f" {what}" if what else ""
    return s[:limit] + f"\n[... {len(s) - limit} more characters{what} not kept]"


def _no_constant(name: str) -> Any:
    raise WireError(f"{name} is not allowed in a reply (non-finite floats are tagged)")


def _check_error(error: Any) -> dict:
    if not isinstance(error, dict):
        raise WireError(f"'error' is a {type(error).__name__}, not an object")
    kind, message = error.get("type", "Exception"), error.get("message", "")
    where, internal = error.get("where", []), error.get("internal", False)
    if not isinstance(kind, str) or not isinstance(message, str):
        raise WireError("the error's type or message is not text")
    if not isinstance(where, list) or not all(isinstance(w, str) for w in where):
        raise WireError("the error's 'where' is not a list of text")
    if not isinstance(internal, bool):
        raise WireError("the error's 'internal' is not true or false")
    return {
        "type": safe_text(cap_text(kind, 100)),
        "message": safe_text(cap_text(message, MAX_ERROR_TEXT)),
        "where": [safe_text(cap_text(w, 300)) for w in where[-10:]],
        "internal": internal,
    }


class _Checker:
    """Walks a value tree once: known tags, bounded depth and count, safe text and numbers."""

    def __init__(self, n_blobs: int, deadline: float):
        self.n_blobs, self.deadline, self.nodes, self.next_clock = n_blobs, deadline, 0, 4096

    def _tick(self, depth: int, n: int = 1) -> None:
        self.nodes += n
        if depth > MAX_DEPTH:
            raise WireError(f"value nested more than {MAX_DEPTH} levels deep")
        if self.nodes >= self.next_clock:
            if self.nodes > MAX_NODES:
                raise WireError(f"more than {MAX_NODES} values in one reply")
            if time.monotonic() > self.deadline:
                raise WireError("the reply took too long to check")
            self.next_clock = self.nodes + 4096

    def tree(self, x: Any, depth: int) -> Any:
        self._tick(depth)
        t = type(x)
        if t is str:
            return safe_text(x)
        if x is None or t is bool:
            return x
        if t is int:  # raw ints are array indices and handles: small
            if not -(2**63) <= x < 2**63:
                raise WireError("an integer out of range outside its tag")
            return x
        if t is float:
            if x - x != 0.0:  # nan or inf (json reads 1e999 as inf)
                raise WireError("a non-finite number outside its tag")
            return x
        if t is list:  # scalars inline: a list of numbers is the common large value
            self._tick(depth + 1, len(x))
            for i, v in enumerate(x):
                tv = type(v)
                if tv is float and v - v == 0.0 or v is None or tv is bool:
                    continue
                if tv is int and -(2**63) <= v < 2**63 or tv is str and v.isascii():
                    continue
                x[i] = self.tree(v, depth + 1)
            return x
        if t is not dict or len(x) != 1:
            raise WireError("malformed value: an object must hold exactly one tag")
        ((tag, v),) = x.items()
        if tag == "$int":  # the common tagged value: checked without a regular expression
            digits = v[1:] if type(v) is str and v[:1] == "-" else v
            if type(v) is not str or not (digits.isascii() and digits.isdigit()):
                raise WireError("malformed integer")
            if len(digits) > MAX_INT_DIGITS:
                raise WireError(f"an integer of more than {MAX_INT_DIGITS} digits")
            return x
        if tag not in _TAGS:
            raise WireError(f"unknown tag {tag[:40]!r}")
        if tag == "$float":
            if v not in ("nan", "inf", "-inf"):
                raise WireError("malformed float")
        elif tag in ("$nd", "$tensor"):
            if type(v) is not int or not 0 <= v < self.n_blobs:
                raise WireError("malformed array reference")
        elif tag == "$handle":
            if type(v) is not int or v < 0:
                raise WireError("malformed handle")
        elif tag == "$tuple":
            if not isinstance(v, list):
                raise WireError("malformed tuple")
            v = [self.tree(i, depth + 1) for i in v]
        elif tag == "$strdict":
            if not isinstance(v, dict):
                raise WireError("malformed dict")
            v = {safe_text(k): self.tree(i, depth + 1) for k, i in v.items()}
        else:  # $dict: keys other than text, each an atom whose hash cannot be made to collide
            if not isinstance(v, list) or not all(isinstance(p, list) and len(p) == 2 for p in v):
                raise WireError("malformed dict")
            v = [[self._key(k, depth + 1), self.tree(i, depth + 1)] for k, i in v]
        return {tag: v}

    def _key(self, k: Any, depth: int) -> Any:
        """A dict key: text, a bool, None, a finite float, an int of magnitude below 2**61 - 1,
        or a tuple of those. Larger ints are refused: ``hash(n) == n % (2**61 - 1)``, so
        thousands of them can share one hash and make building the dict quadratic."""
        if isinstance(k, dict) and len(k) == 1 and isinstance(k.get("$tuple"), list):
            self._tick(depth)
            return {"$tuple": [self._key(i, depth + 1) for i in k["$tuple"]]}
        k = self.tree(k, depth)
        if k is None or isinstance(k, bool | str | float):
            return k
        if isinstance(k, int):
            n, tag = k, "$int"
        elif isinstance(k, list):
            raise WireError("a list as a dict key")
        else:
            ((tag, v),) = k.items()
            if tag == "$float":
                return k
            n = int(v) if tag == "$int" and len(v) < 25 else None
        if tag == "$int" and n is not None and abs(n) < _HASH_SAFE:
            return k
        raise WireError(f"a dict key of kind {tag} (or that large) is not accepted")
