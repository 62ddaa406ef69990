"""Tests of coursekit.data: real Fashion-MNIST when the Debian package is installed, and small
files written to tmp_path for everything else. No test touches the network: ``_fetch`` is
replaced in every test, by default with a function that fails loudly."""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from coursekit import data

DEBIAN_DIR = data.FASHION_MNIST_SYSTEM_DIR
HAVE_DEBIAN = all((DEBIAN_DIR / n).is_file() for n in data.FASHION_MNIST_SHA256)
needs_debian = pytest.mark.skipif(
    not HAVE_DEBIAN,
    reason=f"Fashion-MNIST not in {DEBIAN_DIR} (sudo apt-get install dataset-fashion-mnist)",
)
TRAIN_IMAGES, TRAIN_LABELS = "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"
TEST_IMAGES, TEST_LABELS = "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """No user settings, a private cache, and no network for every test."""
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def no_network(url, dest):
        raise AssertionError(f"test tried the network: {url}")

    monkeypatch.setattr(data, "_fetch", no_network)


@pytest.fixture
def no_debian(monkeypatch, tmp_path):
    monkeypatch.setattr(data, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "no-debian")


# ---------------------------------------------------------------- helpers writing IDX files


def idx_bytes(magic: int, shape: tuple[int, ...], payload: bytes) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in shape)
    return header + payload


def write_gz(path: Path, raw: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(raw))
    return path


def write_fake_fashion(folder: Path, n: int = 5, seed: int = 0, prefix: str = "train"):
    """A small valid split (n images) in ``folder``; returns the arrays written."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    img_name, lab_name = data._FASHION_MNIST_FILES["train" if prefix == "train" else "test"]
    write_gz(folder / img_name, idx_bytes(2051, (n, 28, 28), images.tobytes()))
    write_gz(folder / lab_name, idx_bytes(2049, (n,), labels.tobytes()))
    return images, labels.astype(np.int64)


# ---------------------------------------------------------------- real Fashion-MNIST


@pytest.fixture(scope="module")
def fashion_train():
    if not HAVE_DEBIAN:
        pytest.skip(f"Fashion-MNIST not in {DEBIAN_DIR} (apt-get install dataset-fashion-mnist)")
    return data.load_fashion_mnist("train", data_dir=DEBIAN_DIR)


@needs_debian
def test_real_train_split(fashion_train):
    images, labels = fashion_train
    assert images.shape == (60000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (60000,) and labels.dtype == np.int64
    assert labels.min() == 0 and labels.max() == 9
    assert np.bincount(labels).tolist() == [6000] * 10
    assert images.mean() == pytest.approx(72.9404, abs=1e-3)  # the usual 0.2860 * 255
    assert images.flags.writeable


@needs_debian
def test_real_test_split_found_in_debian_dir_normalized_and_verified():
    # No data_dir, no COURSE_DATA_DIR, empty cache: the Debian location is what is found.
    images, labels = data.load_fashion_mnist("test", normalize=True, verify=True)
    assert images.shape == (10000, 28, 28) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() == 1.0
    assert np.bincount(labels).tolist() == [1000] * 10
    assert images.mean() * 255 == pytest.approx(73.1466, abs=1e-3)


@needs_debian
def test_verify_catches_content_checksum(monkeypatch):
    monkeypatch.setitem(data.FASHION_MNIST_IDX_SHA256, TEST_LABELS, "0" * 64)
    with pytest.raises(data.DataError, match=rf"{TEST_LABELS}.*SHA-256"):
        data.load_fashion_mnist("test", verify=True)


def test_classes():
    assert len(data.FASHION_MNIST_CLASSES) == 10
    assert data.FASHION_MNIST_CLASSES[0] == "T-shirt/top"
    assert data.FASHION_MNIST_CLASSES[9] == "Ankle boot"


def test_bad_split():
    with pytest.raises(ValueError, match="split"):
        data.load_fashion_mnist("validation")


# ---------------------------------------------------------------- damaged files


def _corrupt(folder: Path, kind: str) -> str:
    """Write a damaged train split in ``folder``; returns the name of the bad file."""
    write_fake_fashion(folder, n=5)
    img, lab = folder / TRAIN_IMAGES, folder / TRAIN_LABELS
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, size=5 * 28 * 28, dtype=np.uint8).tobytes()
    if kind == "not gzip":
        img.write_bytes(b"this is not a gzip file at all")
    elif kind == "truncated gzip":
        img.write_bytes(img.read_bytes()[:-200])
    elif kind == "bad crc":
        raw = bytearray(img.read_bytes())
        raw[-8] ^= 0xFF  # the CRC-32 in the gzip trailer
        img.write_bytes(bytes(raw))
    elif kind == "short payload":
        write_gz(img, idx_bytes(2051, (5, 28, 28), pixels[:-10]))
    elif kind == "long payload":
        write_gz(img, idx_bytes(2051, (5, 28, 28), pixels + b"\0"))
    elif kind == "short header":
        write_gz(img, (2051).to_bytes(4, "big") + (5).to_bytes(4, "big"))
    elif kind == "wrong magic":
        write_gz(img, idx_bytes(2049, (5, 28, 28), pixels))  # a labels magic on images
    elif kind == "wrong size":
        write_gz(img, idx_bytes(2051, (5, 32, 32), pixels[: 5 * 32 * 32].ljust(5 * 1024, b"\0")))
    elif kind == "count mismatch":
        write_gz(lab, idx_bytes(2049, (4,), bytes([1, 2, 3, 4])))
        return TRAIN_LABELS
    elif kind == "label out of range":
        write_gz(lab, idx_bytes(2049, (5,), bytes([1, 2, 3, 10, 4])))
        return TRAIN_LABELS
    return TRAIN_IMAGES


@pytest.mark.parametrize(
    "kind, message",
    [
        ("not gzip", "not a valid gzip"),
        ("truncated gzip", "not a valid gzip file or truncated"),
        ("bad crc", "not a valid gzip"),
        ("short payload", r"payload is 3910 bytes .* 3920 bytes: the file is truncated"),
        ("long payload", "data continues past the 3920 bytes"),
        ("short header", "truncated IDX header"),
        ("wrong magic", "magic number is 2049, expected 2051"),
        ("wrong size", "32x32, Fashion-MNIST's are 28x28"),
        ("count mismatch", "4 labels but .* 5 images"),
        ("label out of range", "label 10 is outside 0..9"),
    ],
)
def test_damaged_files_raise_data_error(tmp_path, kind, message):
    folder = tmp_path / "fm"
    bad_name = _corrupt(folder, kind)
    with pytest.raises(data.DataError, match=message) as info:
        data.load_fashion_mnist("train", data_dir=folder)
    assert bad_name in str(info.value)  # the message names the file


# ---------------------------------------------------------------- where files are found


def test_not_found_lists_every_place_and_the_remedies(tmp_path, monkeypatch, no_debian):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "course"))
    with pytest.raises(data.DataError) as info:
        data.load_fashion_mnist("test", data_dir=tmp_path / "mine")
    msg = str(info.value)
    for place in [
        tmp_path / "mine",
        tmp_path / "course" / "fashion-mnist",
        tmp_path / "cache" / "training-neural-networks" / "fashion-mnist",
        tmp_path / "no-debian",
    ]:
        assert str(place) in msg
    assert msg.index(str(tmp_path / "mine")) < msg.index(str(tmp_path / "course"))
    assert "apt-get install dataset-fashion-mnist" in msg
    assert "download=True" in msg and "COURSE_DATA_DIR" in msg


def test_course_data_dir_is_honoured_before_cache_and_system(tmp_path, monkeypatch):
    images, labels = write_fake_fashion(tmp_path / "course" / "fashion-mnist", n=7)
    write_fake_fashion(tmp_path / "cache" / "training-neural-networks" / "fashion-mnist", n=3)
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "course"))
    got_images, got_labels = data.load_fashion_mnist("train")
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)
    assert got_labels.dtype == np.int64


def test_explicit_data_dir_comes_first(tmp_path, monkeypatch):
    write_fake_fashion(tmp_path / "course" / "fashion-mnist", n=7)
    images, _ = write_fake_fashion(tmp_path / "mine", n=2, seed=5)
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "course"))
    np.testing.assert_array_equal(data.load_fashion_mnist(data_dir=tmp_path / "mine")[0], images)


def test_user_cache_found_and_folder_needs_both_files(tmp_path, no_debian):
    cache = tmp_path / "cache" / "training-neural-networks" / "fashion-mnist"
    images, _ = write_fake_fashion(cache, n=3)
    half = tmp_path / "half"  # only the images file: must be skipped, not half-used
    write_fake_fashion(half, n=9)
    (half / TRAIN_LABELS).unlink()
    np.testing.assert_array_equal(data.load_fashion_mnist(data_dir=half)[0], images)


def test_user_cache_dir_follows_xdg_rules(tmp_path, monkeypatch):
    assert data.user_cache_dir() == tmp_path / "cache" / "training-neural-networks"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # not absolute: ignored
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data.user_cache_dir() == tmp_path / "home" / ".cache" / "training-neural-networks"


# ---------------------------------------------------------------- downloads (no network)


def _copying_fetcher(source_dir: Path, calls: list, corrupt: bool = False):
    def fetch(url, dest):
        calls.append(url)
        raw = (source_dir / url.rsplit("/", 1)[1]).read_bytes()
        Path(dest).write_bytes(raw[:-1] + b"X" if corrupt else raw)

    return fetch


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@needs_debian
def test_download_verified_copy_lands_in_cache(tmp_path, monkeypatch, no_debian):
    calls = []
    monkeypatch.setattr(data, "_fetch", _copying_fetcher(DEBIAN_DIR, calls))
    # Debian's gz files are re-headered copies, so the test declares their own checksums.
    for name in (TEST_IMAGES, TEST_LABELS):
        monkeypatch.setitem(data.FASHION_MNIST_SHA256, name, _sha256(DEBIAN_DIR / name))
    with pytest.raises(data.DataError, match="not found"):
        data.load_fashion_mnist("test")  # no download unless asked
    images, labels = data.load_fashion_mnist("test", download=True)
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,)
    cache = tmp_path / "cache" / "training-neural-networks" / "fashion-mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted([TEST_IMAGES, TEST_LABELS])
    assert [u.rsplit("/", 1)[1] for u in calls] == [TEST_IMAGES, TEST_LABELS]
    assert all(u.startswith("https://raw.githubusercontent.com/zalandoresearch/") for u in calls)
    data.load_fashion_mnist("test", download=True)  # found now: nothing fetched again
    assert len(calls) == 2


def test_download_checksum_mismatch_leaves_no_file(tmp_path, monkeypatch, no_debian):
    source = tmp_path / "source"
    write_fake_fashion(source, n=4, prefix="test")
    calls = []
    monkeypatch.setattr(data, "_fetch", _copying_fetcher(source, calls, corrupt=True))
    for name in (TEST_IMAGES, TEST_LABELS):
        monkeypatch.setitem(data.FASHION_MNIST_SHA256, name, _sha256(source / name))
    target = tmp_path / "target"
    with pytest.raises(data.DataError, match=f"SHA-256 mismatch for {TEST_IMAGES}"):
        data.load_fashion_mnist("test", data_dir=target, download=True)
    assert list(target.iterdir()) == []  # neither the file nor a temporary one
    assert len(calls) == 1  # a wrong file is reported, not retried on the mirror


def test_download_falls_back_to_mirror_and_reports_all_failures(tmp_path, monkeypatch):
    source = tmp_path / "source"
    write_fake_fashion(source, n=4, prefix="test")
    copy = _copying_fetcher(source, [])

    def flaky(url, dest):
        if "githubusercontent" in url:
            raise OSError("connection refused")
        copy(url, dest)

    monkeypatch.setattr(data, "_fetch", flaky)
    sha = _sha256(source / TEST_LABELS)
    dest = data.download_file(
        ["https://raw.githubusercontent.com/x/" + TEST_LABELS, "http://mirror/" + TEST_LABELS],
        tmp_path / "out" / TEST_LABELS,
        sha,
    )
    assert _sha256(dest) == sha
    with pytest.raises(data.DataError, match=r"(?s)could not download.*connection refused"):
        data.download_file("https://raw.githubusercontent.com/y/z", tmp_path / "out" / "z", sha)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [TEST_LABELS]


# ---------------------------------------------------------------- scikit-learn digits


def test_digits():
    images, labels = data.load_digits_images()
    assert images.shape == (1797, 8, 8) and images.dtype == np.float64
    assert labels.shape == (1797,) and labels.dtype == np.int64
    assert images.min() == 0.0 and images.max() == 16.0
    assert set(np.unique(labels)) == set(range(10))


# ---------------------------------------------------------------- CIFAR-10 (fake archive)


def _batch_pickle(images: np.ndarray, labels: np.ndarray) -> bytes:
    """A batch in the layout of the originals: a dict with a (n, 3072) uint8 array."""
    batch = {
        "batch_label": "fake batch",
        "data": images.reshape(len(images), -1),
        "labels": labels.tolist(),
        "filenames": [f"img_{i}.png" for i in range(len(images))],
    }
    raw = pickle.dumps(batch, protocol=3)  # protocol 3: GLOBAL opcodes with text names
    # Name the array constructor as the 2009 files do (NumPy 1's module path).
    return raw.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")


def _add_file(tar: tarfile.TarFile, name: str, payload: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    tar.addfile(info, io.BytesIO(payload))


def make_fake_cifar(path: Path, n: int = 3, extra=None) -> dict:
    """A cifar-10-python.tar.gz look-alike with n images per batch; returns the arrays."""
    rng = np.random.default_rng(0)
    expected = {}
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for split, names in data._CIFAR10_BATCHES.items():
            parts = []
            for name in names:
                images = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
                labels = rng.integers(0, 10, size=n)
                _add_file(tar, f"cifar-10-batches-py/{name}", _batch_pickle(images, labels))
                parts.append((images, labels))
            expected[split] = (
                np.concatenate([p[0] for p in parts]),
                np.concatenate([p[1] for p in parts]),
            )
        meta = pickle.dumps({"label_names": list(data.CIFAR10_CLASSES)}, protocol=3)
        _add_file(tar, "cifar-10-batches-py/batches.meta", meta)
        if extra is not None:
            extra(tar)
    return expected


def test_cifar_from_archive_in_data_dir(tmp_path):
    archive = tmp_path / "c10" / "cifar-10-python.tar.gz"
    expected = make_fake_cifar(archive, n=3)
    sha = _sha256(archive)
    for split, n in [("train", 15), ("test", 3)]:
        images, labels = data.load_cifar10(split, data_dir=tmp_path / "c10", sha256=sha)
        assert images.shape == (n, 3, 32, 32) and images.dtype == np.uint8
        assert labels.shape == (n,) and labels.dtype == np.int64
        np.testing.assert_array_equal(images, expected[split][0])
        np.testing.assert_array_equal(labels, expected[split][1])
    assert (tmp_path / "c10" / "cifar-10-batches-py" / "data_batch_5").is_file()
    assert [p.name for p in (tmp_path / "c10").iterdir() if p.name.startswith(".")] == []


def test_cifar_archive_checksum_mismatch(tmp_path):
    archive = tmp_path / "c10" / "cifar-10-python.tar.gz"
    make_fake_cifar(archive)
    with pytest.raises(data.DataError, match="SHA-256 is"):
        data.load_cifar10("test", data_dir=tmp_path / "c10")  # the real checksum: no match
    assert not (tmp_path / "c10" / "cifar-10-batches-py").exists()


def test_cifar_download_with_monkeypatched_fetch(tmp_path, monkeypatch):
    source = tmp_path / "source" / "cifar-10-python.tar.gz"
    expected = make_fake_cifar(source)
    calls = []

    def fetch(url, dest):
        calls.append(url)
        shutil.copyfile(source, dest)

    monkeypatch.setattr(data, "_fetch", fetch)
    images, labels = data.load_cifar10("test", download=True, sha256=_sha256(source))
    np.testing.assert_array_equal(images, expected["test"][0])
    assert calls == [data.CIFAR10_URL]
    cache = tmp_path / "cache" / "training-neural-networks" / "cifar-10"
    assert (cache / "cifar-10-python.tar.gz").is_file()
    data.load_cifar10("train", sha256="unused once extracted")
    assert len(calls) == 1


def test_cifar_download_bad_checksum_leaves_nothing(tmp_path, monkeypatch):
    source = tmp_path / "source" / "cifar-10-python.tar.gz"
    make_fake_cifar(source)
    monkeypatch.setattr(data, "_fetch", lambda url, dest: shutil.copyfile(source, dest))
    with pytest.raises(data.DataError, match="SHA-256 mismatch"):
        data.load_cifar10("train", data_dir=tmp_path / "c10", download=True, sha256="ab" * 32)
    assert list((tmp_path / "c10").iterdir()) == []


def _symlink(tar):
    info = tarfile.TarInfo("cifar-10-batches-py/link")
    info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
    tar.addfile(info)


@pytest.mark.parametrize(
    "extra, message",
    [
        (lambda tar: _add_file(tar, "cifar-10-batches-py/../../evil", b"x"), "escapes"),
        (lambda tar: _add_file(tar, "/tmp/evil-absolute", b"x"), "absolute path"),
        (_symlink, "only files and folders"),
    ],
)
def test_cifar_unsafe_archive_is_rejected(tmp_path, extra, message):
    archive = tmp_path / "a" / "b" / "cifar-10-python.tar.gz"
    make_fake_cifar(archive, extra=extra)
    with pytest.raises(data.DataError, match=message):
        data.load_cifar10("test", data_dir=archive.parent, sha256=_sha256(archive))
    assert not (tmp_path / "evil").exists()
    assert sorted(p.name for p in archive.parent.iterdir()) == ["cifar-10-python.tar.gz"]


class _Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


@pytest.mark.parametrize(
    "payload, message",
    [
        (pickle.dumps({"data": _Evil(), "labels": []}, protocol=3), "refusing global builtins"),
        (b"cos\nsystem\n(S'echo pwned'\ntR.", "refusing global os.system"),
        (_batch_pickle(np.zeros((2, 3, 32, 32), np.uint8), np.arange(2))[:-20], "unreadable"),
        (pickle.dumps({"data": np.zeros((2, 5), np.uint8), "labels": [0, 1]}), "3072"),
        (_batch_pickle(np.zeros((2, 3, 32, 32), np.uint8), np.array([0, 10])), "outside 0..9"),
    ],
    ids=["builtins.print", "os.system", "truncated", "wrong row size", "bad label"],
)
def test_cifar_batches_are_unpickled_restrictively(tmp_path, capsys, payload, message):
    folder = tmp_path / "c10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    (folder / "test_batch").write_bytes(payload)
    with pytest.raises(data.DataError, match=message):
        data.load_cifar10("test", data_dir=tmp_path / "c10")
    assert "must never run" not in capsys.readouterr().out


def test_cifar_offline_error_points_to_offline_sets(tmp_path):
    with pytest.raises(data.DataError) as info:
        data.load_cifar10("train", data_dir=tmp_path / "none")
    msg = str(info.value)
    assert "online-only" in msg and "download=True" in msg
    assert "load_fashion_mnist" in msg and "load_digits_images" in msg
    assert str(tmp_path / "none") in msg


def test_cifar_constants():
    assert data.CIFAR10_URL.endswith("/cifar-10-python.tar.gz")
    assert len(data.CIFAR10_SHA256) == 64 and len(data.CIFAR10_CLASSES) == 10


# ---------------------------------------------------------------- torch adapters and splits


def test_array_dataset_grey_and_colour():
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, size=(6, 28, 28), dtype=np.uint8)
    grey[0, 0, 0], grey[0, 0, 1] = 0, 255
    ds = data.ArrayDataset(grey, np.arange(6))
    x, y = ds[0]
    assert len(ds) == 6
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32
    assert x.min().item() == 0.0 and x.max().item() == 1.0
    assert y.dtype == torch.int64 and y.item() == 0
    np.testing.assert_allclose(x[0].numpy(), grey[0] / 255, rtol=1e-6)

    colour = rng.integers(0, 256, size=(4, 3, 32, 32), dtype=np.uint8)
    flip = data.ArrayDataset(colour, np.zeros(4, int), transform=lambda t: torch.flip(t, dims=[2]))
    x, _ = flip[1]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32
    np.testing.assert_allclose(x.numpy(), colour[1, :, :, ::-1] / 255, rtol=1e-6)


def test_array_dataset_transform_and_max_value():
    digits = np.full((2, 8, 8), 16.0)
    ds = data.ArrayDataset(digits, np.array([3, 4]), max_value=16, transform=lambda t: t * 2)
    x, y = ds[1]
    assert x.shape == (1, 8, 8) and torch.all(x == 2.0) and y.item() == 4
    with pytest.raises(ValueError, match="labels"):
        data.ArrayDataset(digits, np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="images"):
        data.ArrayDataset(np.zeros((2, 8)), np.array([1, 2]))


def test_make_loader_order_depends_only_on_the_generator():
    images = np.zeros((50, 28, 28), dtype=np.uint8)
    labels = np.arange(50)

    def order(seed):
        loader = data.make_loader(
            images, labels, 16, shuffle=True, generator=torch.Generator().manual_seed(seed)
        )
        torch.rand(3)  # global RNG use in between must not matter
        return torch.cat([y for _, y in loader]).tolist()

    first, again, other = order(0), order(0), order(1)
    assert first == again and first != other
    assert sorted(first) == list(range(50))

    x, y = next(iter(data.make_loader(images, labels, 16)))
    assert x.shape == (16, 1, 28, 28) and x.dtype == torch.float32
    assert y.shape == (16,) and y.dtype == torch.int64 and y.tolist() == list(range(16))
    with pytest.raises(ValueError, match="generator"):
        data.make_loader(images, labels, 16, shuffle=True)


def test_train_val_split():
    x = np.arange(100).reshape(50, 2)
    y = np.arange(50)
    a = data.train_val_split(x, y, 0.2, np.random.default_rng(7))
    b = data.train_val_split(x, y, 0.2, np.random.default_rng(7))
    c = data.train_val_split(x, y, 0.2, np.random.default_rng(8))
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    x_train, x_val, y_train, y_val = a
    assert len(y_val) == 10 and len(y_train) == 40
    assert set(y_train).isdisjoint(y_val) and set(y_train) | set(y_val) == set(range(50))
    np.testing.assert_array_equal(x_train[:, 0] // 2, y_train)  # rows stay paired
    assert not np.array_equal(c[3], y_val)
    with pytest.raises(ValueError):
        data.train_val_split(x, y, 0.0, np.random.default_rng(0))
    with pytest.raises(ValueError):
        data.train_val_split(x, y[:-1], 0.5, np.random.default_rng(0))
    with pytest.raises(TypeError):
        data.train_val_split(x, y, 0.5, 0)
