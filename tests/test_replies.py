"""Every reply of a worker is hostile input: the grader's one reply decoder (wire.parse_reply),
attacked directly and fuzzed, must answer in bounded time and memory, and either hand back
plain, safe data or refuse the reply with a WireError (which costs the check it arrived in)."""

from __future__ import annotations

import gc
import json
import random
import struct
import time
import tracemalloc

import numpy as np
import pytest

from autograder import wire

P = 2**61 - 1  # ints that differ by a multiple of it share one hash


def frame(header: dict | str | bytes, blobs: list[bytes] = ()) -> bytes:
    """A message body (the part after its length), with any header text, valid or not."""
    if isinstance(header, dict):
        header = json.dumps(header, separators=(",", ":"))
    head = header.encode("utf-8", "surrogatepass") if isinstance(header, str) else header
    parts = [struct.pack("<I", len(head)), head, struct.pack("<I", len(blobs))]
    for b in blobs:
        parts += [struct.pack("<Q", len(b)), b]
    return b"".join(parts)


def parse(header, blobs=()):
    return wire.parse_reply(frame(header, list(blobs)))


def test_colliding_integer_keys_are_refused_before_any_dict_is_built():
    for n, why in ((30_000, "values in one reply"), (10_000, "dict key")):
        value = {"$dict": [[{"$int": str(P * i + 1)}, None] for i in range(n)]}
        t0 = time.process_time()
        with pytest.raises(wire.WireError, match=why):
            parse({"ok": True, "value": value, "output": ""})
        assert time.process_time() - t0 < 0.5  # was 68 s of quadratic dict building
    # small integer keys (they hash to themselves) still work, as tuples of them do
    ok, _ = parse({"ok": True, "value": {"$dict": [[{"$int": "3"}, 1], [{"$tuple": [1, 2]}, 2]]}})
    assert wire.decode(ok["value"], []) == {3: 1, (1, 2): 2}


def test_lone_surrogates_become_replacement_characters():
    reply, _ = parse(
        {
            "ok": False,
            "error": {"type": "ValueError", "message": "bad \ud800", "where": ["\udc00"]},
            "output": "printed \udfff and \ud83d\ude00",
            "value": {"$strdict": {"k\ud800": ["\udc01"]}},
        }
    )
    assert reply["output"] == "printed \ufffd and \U0001f600"  # a real pair stays a character
    assert reply["error"]["message"] == "bad \ufffd" and reply["error"]["where"] == ["\ufffd"]
    assert wire.decode(reply["value"], []) == {"k\ufffd": ["\ufffd"]}
    json.dumps(reply, ensure_ascii=False).encode("utf-8")  # writable as UTF-8


@pytest.mark.parametrize(
    "header, why",
    [
        ({"ok": False, "error": ["boom"], "output": ""}, "'error' is a list"),
        ({"ok": "yes", "output": ""}, "'ok'"),
        ({"ok": True, "output": ["x"]}, "'output'"),
        ({"ok": False, "error": {"type": 3}}, "type or message"),
        ({"ok": False, "error": {"where": "x"}}, "where"),
        ({"ok": True, "value": {"$nd": 0}}, "array reference"),
        ({"ok": True, "value": {"$handle": -1}}, "handle"),
        ({"ok": True, "value": {"$int": "1e3"}}, "integer"),
        ({"ok": True, "value": {"$int": "9" * 1001}}, "digits"),
        ({"ok": True, "value": {"$float": "1e999"}}, "float"),
        ({"ok": True, "value": {"$class": "os.system"}}, "unknown tag"),
        ({"ok": True, "value": {"$tuple": 1, "$int": "2"}}, "exactly one tag"),
        ({"ok": True, "value": 10**40}, "out of range"),
        ({"ok": True, "value": {"$dict": [[[1], 2]]}}, "dict key"),
        ({"ok": True, "value": {"$dict": [[{"$nd": 0}, 2]]}}, "array reference"),
    ],
)
def test_wrong_types_are_refused(header, why):
    with pytest.raises(wire.WireError, match=why):
        parse(header)


def test_numbers_must_be_sane():
    for text in ('{"ok":true,"value":NaN}', '{"ok":true,"value":-Infinity}'):
        with pytest.raises(wire.WireError, match="not allowed"):
            parse(text)
    with pytest.raises(wire.WireError, match="non-finite"):
        parse('{"ok":true,"value":1e999}')
    with pytest.raises(wire.WireError, match="not valid JSON"):  # Python's own digit limit
        parse('{"ok":true,"value":' + "9" * 5000 + "}")
    reply, _ = parse({"ok": True, "value": [{"$float": "nan"}, {"$int": "-12345678901234567890"}]})
    v = wire.decode(reply["value"], [])
    assert np.isnan(v[0]) and v[1] == -12345678901234567890


def test_output_and_messages_are_capped_with_a_note():
    reply, _ = parse(
        {
            "ok": False,
            "error": {"type": "E" * 500, "message": "m" * 2_000_000, "where": ["w"] * 1000},
            "output": "x" * 6_000_000,
        }
    )
    assert len(reply["output"]) < wire.MAX_OUTPUT + 100
    assert reply["output"].endswith("more characters of output not kept]")
    err = reply["error"]
    assert len(err["message"]) < wire.MAX_ERROR_TEXT + 100 and "not kept" in err["message"]
    assert len(err["type"]) < 200 and len(err["where"]) == 10


def test_size_depth_and_count_limits():
    with pytest.raises(wire.WireError, match="over the limit"):
        parse({"ok": True, "output": "x" * (wire.MAX_REPLY_HEADER + 1)})
    with pytest.raises(wire.WireError, match="values in one reply"):
        parse({"ok": True, "value": [0] * (wire.MAX_NODES + 1)})
    deep: object = 0
    for _ in range(wire.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(wire.WireError, match="levels deep"):
        parse({"ok": True, "value": deep})
    with pytest.raises(wire.WireError, match="JSON|levels deep"):
        parse('{"ok":true,"value":' + "[" * 20_000 + "]" * 20_000 + "}")
    with pytest.raises(wire.WireError, match="arrays in one message"):
        wire.parse_reply(struct.pack("<I", 2) + b"{}" + struct.pack("<I", wire.MAX_BLOBS + 1))


def test_the_check_has_a_deadline_of_its_own():
    with pytest.raises(wire.WireError, match="too long"):
        wire.parse_reply(frame({"ok": True, "value": [[0]] * 20_000}), seconds=0.0)


def test_honest_replies_round_trip():
    value = (np.arange(6.0).reshape(2, 3), {"a": [1, 2.5, None, "t"]}, {(1, "x"): -3}, float("inf"))
    enc = wire.Encoder()
    tree = enc.encode(value)
    reply, blobs = parse({"ok": True, "value": tree, "output": "hello", "cpu": 0.25}, enc.blobs)
    assert reply["cpu"] == 0.25 and reply["output"] == "hello"
    got = wire.decode(reply["value"], blobs)
    assert np.array_equal(got[0], value[0]) and got[1:] == value[1:]


# -- the fuzz test ---------------------------------------------------------------------------

SCALARS = [
    None,
    True,
    0,
    -1,
    2**63,
    10**30,
    1.5,
    1e308,
    "",
    "text",
    "\ud800",
    "\udfff\ud800",
    "\U0001f600",
    "\x00",
]
TAGS = ["$int", "$float", "$nd", "$tensor", "$tuple", "$strdict", "$dict", "$handle", "$x", ""]


def random_tree(rng: random.Random, depth: int) -> object:
    """A random value: mostly well-formed tags, often not; lists and dicts of random sizes."""
    r = rng.random()
    if depth > 6 or r < 0.3:
        return rng.choice(SCALARS)
    if r < 0.45:
        return [random_tree(rng, depth + 1) for _ in range(rng.randrange(6))]
    tag = rng.choice(TAGS)
    if tag == "$int":
        v = rng.choice([str(rng.randrange(-(10**20), 10**20)), str(P * rng.randrange(9)), "x", 1])
    elif tag == "$float":
        v = rng.choice(["nan", "inf", "-inf", "1.0", 1.0])
    elif tag in ("$nd", "$tensor", "$handle"):
        v = rng.choice([0, 1, -1, 99, "0", 1.0])
    elif tag == "$tuple":
        v = [random_tree(rng, depth + 1) for _ in range(rng.randrange(4))]
    elif tag == "$strdict":
        v = {rng.choice(["a", "b", "\ud800", ""]): random_tree(rng, depth + 1) for _ in range(3)}
    elif tag == "$dict":
        v = [[random_tree(rng, depth + 1), random_tree(rng, depth + 1)] for _ in range(3)]
    else:
        v = random_tree(rng, depth + 1)
    node = {tag: v}
    if rng.random() < 0.05:
        node["extra"] = 1
    return node


def adversarial(rng: random.Random) -> list[bytes]:
    """Bodies built to be expensive: every limit, just over and just under."""
    n = wire.MAX_NODES
    big = [
        {"ok": True, "value": {"$dict": [[{"$int": str(P * i + 7)}, 0] for i in range(30_000)]}},
        {"ok": True, "value": {"$dict": [[{"$int": str(i)}, 0] for i in range(n // 5 - 10)]}},
        {"ok": True, "value": {"$dict": [[{"$float": "nan"}, 0] for i in range(n // 5 - 10)]}},
        {"ok": True, "value": [{"$int": "9" * 1000}] * 4000},
        {"ok": True, "value": [{"$int": "1"}] * (n // 2 - 10)},
        {"ok": True, "value": ["\ud800" * 10] * (n - 10)},
        {"ok": True, "value": [[]] * (n // 2 - 10)},
        {"ok": True, "value": [0.5] * (n - 10)},
        {"ok": True, "value": {"$strdict": {str(i): i for i in range(n // 2 - 10)}}},
        {"ok": True, "output": "\ud800" * 1_300_000},
        {"ok": True, "output": "x" * (wire.MAX_REPLY_HEADER - 100)},
        {"ok": False, "error": {"message": "m" * 8_000_000}},
    ]
    bodies = [frame(h) for h in big]
    deep = "[" * 5000 + "]" * 5000
    bodies += [
        frame('{"ok":true,"value":' + deep + "}"),
        frame('{"ok":true,"value":' + '{"$tuple":' * 900 + "0" + "}" * 900 + "}"),
        frame('{"ok":true,"value":[' + ",".join(["1"] * (n + 5)) + "]}"),
        frame('{"ok":true,"value":' + "1" * 4000 + "}"),
        frame('{"ok":true,"value":"' + "\\ud800" * 1_000_000 + '"}'),
    ]
    # truncated and corrupted frames of an honest reply with arrays
    enc = wire.Encoder()
    honest = frame({"ok": True, "value": enc.encode([np.ones((3, 4)), (1, 2)])}, enc.blobs)
    for _ in range(40):
        cut = rng.randrange(len(honest))
        bodies.append(honest[:cut])
        flipped = bytearray(honest)
        flipped[cut] ^= 1 << rng.randrange(8)
        bodies.append(bytes(flipped))
    bodies.append(struct.pack("<I", 2) + b"{}" + struct.pack("<I", 2**32 - 1))
    return bodies


def test_fuzz_the_reply_decoder_bounded_time_and_memory():
    """Random and adversarial replies: each is decoded or refused with a WireError (never
    another exception), within 0.5 s of CPU time and 64 MiB of allocations (tracemalloc peak,
    the body itself not counted)."""
    rng = random.Random(20261207)
    bodies = adversarial(rng)
    for _ in range(600):
        header = {"ok": rng.choice([True, False, 1, None]), "value": random_tree(rng, 0)}
        if rng.random() < 0.3:
            header["error"] = random_tree(rng, 3)
        if rng.random() < 0.3:
            header["output"] = rng.choice(SCALARS)
        enc = wire.Encoder()
        blobs = [] if rng.random() < 0.5 else [wire.dump_npy(np.arange(3.0))]
        body = frame(json.dumps(header), blobs if rng.random() < 0.9 else blobs + enc.blobs)
        bodies.append(body)
    t_all = time.monotonic()

    def decode(body: bytes) -> bool:
        try:
            reply, blobs = wire.parse_reply(body)
            wire.decode(reply.get("value"), blobs)
            json.dumps(reply, ensure_ascii=False).encode("utf-8")  # its text is safe
            return True
        except wire.WireError:
            return False

    def cpu(body: bytes) -> float:
        t0 = time.process_time()
        decode(body)
        return time.process_time() - t0

    worst_time, refused = 0.0, 0
    gc.collect()  # a full collection of the test session's objects is not the reply's cost
    for body in bodies:  # time first: tracemalloc slows allocation-heavy code several times
        t0 = time.process_time()
        refused += not decode(body)
        spent = time.process_time() - t0
        if spent > 0.1:  # the best of three: the cost is the decoder's, not a busy machine's
            spent = min(spent, cpu(body), cpu(body))
        worst_time = max(worst_time, spent)
    assert refused > len(bodies) // 4  # the generator does produce malformed replies
    assert worst_time < 0.5, f"{worst_time:.3f} s of CPU time for one reply"
    worst_mem = 0
    tracemalloc.start()
    try:
        # the largest ones (the rest allocate next to nothing; tracemalloc is slow)
        for body in [bodies[i] for i in (3, 4, 6, 9, 10, 11, 16)]:
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            decode(body)
            worst_mem = max(worst_mem, tracemalloc.get_traced_memory()[1] - base)
    finally:
        tracemalloc.stop()
    assert worst_mem < 64 * 2**20, f"{worst_mem / 2**20:.1f} MiB for one reply"
    assert time.monotonic() - t_all < 60
