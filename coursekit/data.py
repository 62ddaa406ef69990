"""The course's data sets as NumPy arrays, and thin adapters to PyTorch.

Data sets:
    Fashion-MNIST  -- ``load_fashion_mnist``: 60,000 train / 10,000 test grey 28x28 images of
                      clothes, 10 classes (``FASHION_MNIST_CLASSES``). Works offline from the
                      Debian package ``dataset-fashion-mnist``.
    digits         -- ``load_digits_images``: scikit-learn's 1,797 grey 8x8 hand-written digits,
                      bundled with scikit-learn (always offline).
    CIFAR-10       -- ``load_cifar10``: 50,000 train / 10,000 test colour 32x32 images, 10 classes
                      (``CIFAR10_CLASSES``). No package ships it: it needs a network the first time.

Where files are looked for, in this order (the first folder holding every file of the split wins)::

    1. the ``data_dir`` argument
    2. $COURSE_DATA_DIR/<set>/                        (<set> is fashion-mnist or cifar-10)
    3. $XDG_CACHE_HOME/training-neural-networks/<set>/  (default ~/.cache/training-neural-networks)
    4. /usr/share/datasets/fashion-mnist              (Fashion-MNIST only; Debian package)

With ``download=True`` a missing data set is fetched from its canonical source into ``data_dir``
(when given) or the user cache, checked against a SHA-256 written in this file, and only then
renamed into place, so an interrupted or tampered download never looks like data.

Every reader validates what it reads (magic numbers, shapes, payload length, label range) and
raises ``DataError`` naming the file rather than returning an array that is silently wrong.

Typical use::

    x_train, y_train = load_fashion_mnist("train")      # uint8 (60000, 28, 28), int64 (60000,)
    x_tr, x_val, y_tr, y_val = train_val_split(x_train, y_train, 0.1, np.random.default_rng(0))
    loader = make_loader(x_tr, y_tr, batch_size=128, shuffle=True,
                         generator=torch.Generator().manual_seed(0))
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import pickle
import shutil
import tarfile
import tempfile
import urllib.request
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

__all__ = [
    "CIFAR10_CLASSES",
    "CIFAR10_SHA256",
    "CIFAR10_URL",
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_IDX_SHA256",
    "FASHION_MNIST_SHA256",
    "FASHION_MNIST_SYSTEM_DIR",
    "ArrayDataset",
    "DataError",
    "download_file",
    "extract_tar_safely",
    "load_cifar10",
    "load_digits_images",
    "load_fashion_mnist",
    "make_loader",
    "train_val_split",
    "user_cache_dir",
]


class DataError(RuntimeError):
    """A data file is missing, corrupt, truncated or not what it claims to be."""


# --------------------------------------------------------------------------------------------
# Where data lives
# --------------------------------------------------------------------------------------------

#: Where the Debian package ``dataset-fashion-mnist`` installs the four IDX gz files.
FASHION_MNIST_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")

_APP_NAME = "training-neural-networks"
_CHUNK = 1 << 20  # read and hash in 1 MiB pieces: flat memory whatever the file size


def user_cache_dir() -> Path:
    """The course's per-user data folder: ``$XDG_CACHE_HOME/training-neural-networks``.

    ``XDG_CACHE_HOME`` is used only when it is an absolute path (the XDG rule); otherwise
    ``~/.cache/training-neural-networks``. The folder is not created here.
    """
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / _APP_NAME


def _search_dirs(name: str, data_dir, system_dir: Path | None = None) -> list[Path]:
    """The folders to look in for data set ``name``, in the module docstring's order."""
    dirs = []
    if data_dir is not None:
        dirs.append(Path(data_dir).expanduser())
    env = os.environ.get("COURSE_DATA_DIR")
    if env:
        dirs.append(Path(env).expanduser() / name)
    dirs.append(user_cache_dir() / name)
    if system_dir is not None:
        dirs.append(system_dir)
    return dirs


def _download_dir(name: str, data_dir) -> Path:
    """Where ``download=True`` writes: the explicit ``data_dir`` if any, else the user cache."""
    return Path(data_dir).expanduser() if data_dir is not None else user_cache_dir() / name


# --------------------------------------------------------------------------------------------
# Checked downloads
# --------------------------------------------------------------------------------------------


def _sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _fetch(url: str, dest: Path) -> None:
    """Copy ``url`` to the file ``dest``. The only function here that touches the network.

    Tests replace it (monkeypatch) so that no test needs a network.
    """
    with urllib.request.urlopen(url, timeout=60) as response, open(dest, "wb") as out:
        shutil.copyfileobj(response, out, _CHUNK)


def download_file(urls: str | Sequence[str], dest, sha256: str) -> Path:
    """Download a file, check its SHA-256, and only then move it to ``dest``.

    The bytes go to a temporary file in ``dest``'s folder and are renamed onto ``dest`` with
    ``os.replace`` once the checksum matches: the rename is atomic within one file system, so
    ``dest`` is either absent or complete and verified, never half-written.

    Args:
        urls: one URL, or mirrors tried in order; a network error moves on to the next mirror.
        dest: the final path; its folder is created if needed.
        sha256: the expected SHA-256, 64 hex digits.

    Returns:
        ``dest`` as a ``Path``.

    Raises:
        DataError: on a checksum mismatch (the temporary file is deleted; mirrors are not tried,
            since a wrong file is a problem to look at, not to retry around), or when every
            mirror fails, with each mirror's error.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    url_list = [urls] if isinstance(urls, str) else list(urls)
    errors = []
    for url in url_list:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            try:
                _fetch(url, tmp)
            except (OSError, http.client.HTTPException) as e:  # URLError, timeouts: OSError
                errors.append(f"{url}: {e}")
                continue
            got = _sha256_of(tmp)
            if got != sha256.lower():
                raise DataError(
                    f"SHA-256 mismatch for {dest.name} downloaded from {url}: expected {sha256}, "
                    f"got {got}. The download was deleted; the mirror may serve a different or "
                    "damaged file."
                )
            os.replace(tmp, dest)
            return dest
        finally:
            tmp.unlink(missing_ok=True)  # no-op after a successful rename
    raise DataError(f"could not download {dest.name}:\n  " + "\n  ".join(errors))


# --------------------------------------------------------------------------------------------
# Fashion-MNIST
# --------------------------------------------------------------------------------------------

FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

_FASHION_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

# Mirrors of the canonical files, tried in order. The S3 website endpoint is plain http (it has
# no https); the SHA-256 check below is what makes that acceptable.
_FASHION_MNIST_URLS = (
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
)

#: SHA-256 of the gz files as Zalando Research publishes them (their README gives the MD5s
#: 8d4fb7e6..., 25c81989..., bef4ecab..., bb300cfd...); used to check downloads.
FASHION_MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": (
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"
    ),
    "train-labels-idx1-ubyte.gz": (
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"
    ),
    "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
}

#: SHA-256 of the *decompressed* IDX files. The Debian package's gz files differ from Zalando's
#: only in the gzip header (Debian's build drops the stored file name and resets the time stamp;
#: each file is shorter by exactly that name and its zero byte), so the gz checksums differ but the
#: content is identical. These hashes hold for any faithful copy; ``verify=True`` checks them.
FASHION_MNIST_IDX_SHA256 = {
    "train-images-idx3-ubyte.gz": (
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"
    ),
    "train-labels-idx1-ubyte.gz": (
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"
    ),
    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

_IDX_IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions (N, rows, cols)
_IDX_LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension (N,)


def _read_idx_gz(path: Path, magic: int, expected_sha256: str | None = None) -> np.ndarray:
    """Read a gzip-compressed IDX file of unsigned bytes, checking it on the way.

    IDX layout: a big-endian uint32 magic number ``0x0000 08 nd`` (08 = unsigned byte, ``nd`` =
    number of dimensions), then ``nd`` big-endian uint32 sizes, then exactly ``prod(sizes)``
    bytes of data, row-major.

    Returns:
        uint8 array with the shape the header gives (writable: it owns a bytearray).

    Raises:
        DataError: bad gzip (including a CRC error or a truncated stream), wrong magic, short or
            over-long payload, or a content checksum that differs from ``expected_sha256``.
    """
    ndim = magic & 0xFF
    header_len = 4 + 4 * ndim
    try:
        with gzip.open(path, "rb") as f:
            header = f.read(header_len)
            if len(header) < header_len:
                raise DataError(
                    f"{path}: truncated IDX header ({len(header)} bytes, expected {header_len})"
                )
            got_magic = int.from_bytes(header[:4], "big")
            if got_magic != magic:
                raise DataError(
                    f"{path}: IDX magic number is {got_magic}, expected {magic} "
                    f"(unsigned-byte data with {ndim} dimension(s)); wrong or damaged file"
                )
            shape = tuple(int.from_bytes(header[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
            count = int(np.prod(shape, dtype=np.int64))
            # Read at most one byte past the announced size, in pieces, so a damaged header that
            # announces terabytes costs only as much memory as the file really holds. Reading
            # the final empty chunk makes gzip check the CRC-32 and length in its trailer.
            buf = bytearray()
            while len(buf) <= count:
                chunk = f.read(min(_CHUNK, count + 1 - len(buf)))
                if not chunk:
                    break
                buf += chunk
    except DataError:
        raise
    except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
        raise DataError(f"{path}: not a valid gzip file or truncated stream ({e})") from e
    if len(buf) < count:
        raise DataError(
            f"{path}: payload is {len(buf)} bytes but the header announces shape {shape}, "
            f"i.e. {count} bytes: the file is truncated"
        )
    if len(buf) > count:
        raise DataError(
            f"{path}: data continues past the {count} bytes that the header's shape {shape} "
            "announces: wrong header or two files run together"
        )
    if expected_sha256 is not None:
        got = hashlib.sha256(header + buf).hexdigest()
        if got != expected_sha256:
            raise DataError(
                f"{path}: decompressed content has SHA-256 {got}, expected {expected_sha256}"
            )
    return np.frombuffer(buf, dtype=np.uint8).reshape(shape)


def _parse_fashion_mnist(
    images_path: Path, labels_path: Path, verify: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Read and cross-check one split's pair of files."""
    sums = FASHION_MNIST_IDX_SHA256 if verify else {}
    images = _read_idx_gz(images_path, _IDX_IMAGES_MAGIC, sums.get(images_path.name))
    labels = _read_idx_gz(labels_path, _IDX_LABELS_MAGIC, sums.get(labels_path.name))
    if images.shape[1:] != (28, 28):
        raise DataError(
            f"{images_path}: images are {images.shape[1]}x{images.shape[2]}, "
            "Fashion-MNIST's are 28x28"
        )
    if len(labels) != len(images):
        raise DataError(
            f"{labels_path} holds {len(labels)} labels but {images_path} holds "
            f"{len(images)} images: the two files do not belong together"
        )
    if labels.size and labels.max() >= len(FASHION_MNIST_CLASSES):
        raise DataError(f"{labels_path}: label {int(labels.max())} is outside 0..9")
    return images, labels.astype(np.int64)


def load_fashion_mnist(
    split: str = "train",
    data_dir=None,
    *,
    download: bool = False,
    normalize: bool = False,
    verify: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017) as NumPy arrays.

    The files are looked for in the order of the module docstring: ``data_dir``,
    ``$COURSE_DATA_DIR/fashion-mnist``, the user cache, ``/usr/share/datasets/fashion-mnist``.
    A folder counts only if it holds both files of the split, so a split never mixes files
    from two places.

    Args:
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000 images).
        data_dir: a folder holding ``train-images-idx3-ubyte.gz`` etc., searched first.
        download: when no folder has the files, fetch them from Zalando Research's repository
            (or its S3 mirror) into ``data_dir`` or the user cache, checking their SHA-256.
        normalize: return float32 images in [0, 1] (``uint8 / 255``) instead of uint8.
        verify: also check the SHA-256 of the decompressed content (about 0.1 s for train).

    Returns:
        ``(images, labels)``: images uint8 of shape (N, 28, 28) with values 0..255, white
        garment on black (float32 in [0, 1] with ``normalize=True``); labels int64 of shape
        (N,), values 0..9 indexing ``FASHION_MNIST_CLASSES``.

    Raises:
        ValueError: for an unknown ``split``.
        DataError: when the files are not found (the message lists where it looked and how to
            get them), or are corrupt, truncated, or inconsistent with each other.
    """
    if split not in _FASHION_MNIST_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    names = _FASHION_MNIST_FILES[split]
    searched = _search_dirs("fashion-mnist", data_dir, FASHION_MNIST_SYSTEM_DIR)
    found = next((d for d in searched if all((d / n).is_file() for n in names)), None)
    if found is None and download:
        found = _download_dir("fashion-mnist", data_dir)
        for name in names:
            if not (found / name).is_file():
                urls = [base + name for base in _FASHION_MNIST_URLS]
                download_file(urls, found / name, FASHION_MNIST_SHA256[name])
    if found is None:
        places = "\n".join(f"  - {d}" for d in searched)
        raise DataError(
            f"Fashion-MNIST ({split}: {', '.join(names)}) not found. Looked in:\n{places}\n"
            "To get it, either:\n"
            "  - install the Debian/Ubuntu package: sudo apt-get install dataset-fashion-mnist\n"
            "  - or, when online, call load_fashion_mnist(..., download=True)\n"
            "  - or put the four .gz files in a folder and set COURSE_DATA_DIR to its parent "
            "(files in $COURSE_DATA_DIR/fashion-mnist/) or pass data_dir="
        )
    images, labels = _parse_fashion_mnist(found / names[0], found / names[1], verify)
    if normalize:
        images = images.astype(np.float32) / np.float32(255)
    return images, labels


# --------------------------------------------------------------------------------------------
# scikit-learn digits
# --------------------------------------------------------------------------------------------


def load_digits_images() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's hand-written digits: small, bundled with scikit-learn, always offline.

    Returns:
        ``(images, labels)``: images float64 of shape (1797, 8, 8) with integer values in
        [0, 16] (ink counts of 4x4 blocks of the original 32x32 bitmaps; 0 is background);
        labels int64 of shape (1797,), the digit 0..9.
    """
    from sklearn.datasets import load_digits  # heavy import, only needed here

    digits = load_digits()
    return digits.images.astype(np.float64), digits.target.astype(np.int64)


# --------------------------------------------------------------------------------------------
# CIFAR-10
# --------------------------------------------------------------------------------------------

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"

#: SHA-256 of cifar-10-python.tar.gz (170,498,071 bytes; the page gives MD5
#: c58f30108f718f92721af3b95e74349a). Not to be confused with the *binary* version's
#: c4a38c50...a1dd, cifar-10-binary.tar.gz, a different archive.
CIFAR10_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"

CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)

_CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"
_CIFAR10_FOLDER = "cifar-10-batches-py"
_CIFAR10_BATCHES = {
    "train": tuple(f"data_batch_{i}" for i in range(1, 6)),
    "test": ("test_batch",),
}

# The one callable NumPy uses to pickle an array, taken from NumPy itself rather than imported
# by name: it lives in numpy.core.multiarray in NumPy 1 and numpy._core.multiarray in NumPy 2.
_NP_RECONSTRUCT = np.empty(0).__reduce__()[0]

# Unpickling is running code: a pickle names callables (module + attribute) that load() calls
# with arguments of the file's choosing, so a doctored "data_batch_1" could name os.system. The
# CIFAR-10 batches are dicts of lists, strings and one NumPy array, and rebuilding an array takes
# exactly these three globals. Every other name is refused; names are mapped to objects here
# rather than imported, so a file cannot even trigger an import.
_CIFAR_PICKLE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _NP_RECONSTRUCT,  # as written by NumPy 1 / Py 2
    ("numpy._core.multiarray", "_reconstruct"): _NP_RECONSTRUCT,  # as written by NumPy 2
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class _CifarUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        try:
            return _CIFAR_PICKLE_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing global {module}.{name}: a CIFAR-10 batch only needs NumPy arrays"
            ) from None


def _load_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file: uint8 (n, 3, 32, 32) images and int64 (n,) labels, validated."""
    try:
        with open(path, "rb") as f:
            # The batches were pickled by Python 2; latin1 maps its byte strings 1:1 to str,
            # which is also how NumPy expects a Python 2 array buffer to arrive.
            batch = _CifarUnpickler(f, encoding="latin1").load()
    except Exception as e:  # any failure inside a damaged pickle is a data error, not a bug here
        raise DataError(f"{path}: unreadable CIFAR-10 batch ({type(e).__name__}: {e})") from e
    if not isinstance(batch, dict) or "data" not in batch or "labels" not in batch:
        raise DataError(f"{path}: expected a dict with 'data' and 'labels'")
    data = batch["data"]
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2):
        raise DataError(f"{path}: 'data' is not a 2-D uint8 array")
    if data.shape[1] != 3 * 32 * 32:
        raise DataError(f"{path}: rows of {data.shape[1]} bytes, expected 3072 (3x32x32)")
    try:
        labels = np.asarray(batch["labels"], dtype=np.int64)
    except (TypeError, ValueError) as e:
        raise DataError(f"{path}: 'labels' are not integers ({e})") from e
    if labels.shape != (len(data),):
        raise DataError(f"{path}: {labels.size} labels for {len(data)} images")
    if labels.size and (labels.min() < 0 or labels.max() >= len(CIFAR10_CLASSES)):
        raise DataError(f"{path}: labels outside 0..9")
    # Each row is the red plane, then green, then blue, each 32x32 row-major: hence (3, 32, 32).
    return data.reshape(-1, 3, 32, 32), labels


def extract_tar_safely(archive, dest) -> None:
    """Extract a .tar.gz into ``dest``, refusing anything that could land outside it.

    Every member is checked before anything is written: absolute names, names with a ``..``
    component, and anything that is not a regular file or a folder (links, devices) reject the
    whole archive. Files are written into a temporary folder inside ``dest`` and top-level
    entries are then renamed into place, so a failure leaves no half-extracted data behind.
    Top-level entries that already exist in ``dest`` are kept.

    Raises:
        DataError: unreadable archive or an unsafe member (named in the message).
    """
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest))
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            for m in members:
                parts = PurePosixPath(m.name).parts
                if m.name.startswith(("/", "\\")) or PurePosixPath(m.name).is_absolute():
                    raise DataError(f"{archive}: refusing member with absolute path {m.name!r}")
                if ".." in parts or any(":" in p or "\\" in p for p in parts):
                    raise DataError(f"{archive}: refusing member {m.name!r} (escapes the folder)")
                if not (m.isfile() or m.isdir()):
                    raise DataError(
                        f"{archive}: refusing member {m.name!r}: only files and folders allowed"
                    )
            for m in members:
                target = tmp.joinpath(*PurePosixPath(m.name).parts)
                if m.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(m)
                assert src is not None  # a regular file always has a payload
                with src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out, _CHUNK)
        for entry in tmp.iterdir():
            if not (dest / entry.name).exists():
                os.replace(entry, dest / entry.name)
    except DataError:
        raise
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise DataError(f"{archive}: damaged or truncated archive ({e})") from e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_cifar10(
    split: str = "train",
    data_dir=None,
    download: bool = False,
    *,
    sha256: str = CIFAR10_SHA256,
) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 (Krizhevsky, 2009) from its canonical "python version" archive.

    In each searched folder (``data_dir``, ``$COURSE_DATA_DIR/cifar-10``, the user cache) it
    uses an extracted ``cifar-10-batches-py/`` folder, or else extracts ``cifar-10-python.tar.gz``
    after checking its SHA-256. No package ships CIFAR-10, so without a network and without
    those files it cannot load: use ``load_fashion_mnist`` or ``load_digits_images`` offline.

    Args:
        split: ``"train"`` (data_batch_1..5, 50,000 images) or ``"test"`` (10,000 images).
        data_dir: a folder holding the archive or the extracted folder, searched first.
        download: when nothing is found, fetch the archive (about 163 MiB) from ``CIFAR10_URL``
            into ``data_dir`` or the user cache, check it, and extract it there.
        sha256: the archive's expected SHA-256 (tests pass the checksum of their own archive).

    Returns:
        ``(images, labels)``: images uint8 of shape (N, 3, 32, 32), channels RGB, values
        0..255; labels int64 of shape (N,), values 0..9 indexing ``CIFAR10_CLASSES``.

    Raises:
        ValueError: for an unknown ``split``.
        DataError: not found offline (says where it looked and what to use instead), checksum
            mismatch, an unsafe archive, or a damaged batch file.
    """
    if split not in _CIFAR10_BATCHES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    batches = _CIFAR10_BATCHES[split]

    def complete(folder: Path) -> bool:
        return all((folder / _CIFAR10_FOLDER / b).is_file() for b in batches)

    searched = _search_dirs("cifar-10", data_dir)
    found = next((d for d in searched if complete(d)), None)
    if found is None:
        archive_dir = next((d for d in searched if (d / _CIFAR10_ARCHIVE).is_file()), None)
        if archive_dir is not None:
            archive = archive_dir / _CIFAR10_ARCHIVE
            got = _sha256_of(archive)  # a file found lying around is checked like a download
            if got != sha256.lower():
                raise DataError(
                    f"{archive}: SHA-256 is {got}, expected {sha256}; delete it and download again"
                )
        elif download:
            archive_dir = _download_dir("cifar-10", data_dir)
            archive = download_file(CIFAR10_URL, archive_dir / _CIFAR10_ARCHIVE, sha256)
        if archive_dir is not None:
            extract_tar_safely(archive, archive_dir)
            if not complete(archive_dir):
                raise DataError(
                    f"after extracting {archive}, {archive_dir / _CIFAR10_FOLDER} still lacks some "
                    f"of {', '.join(batches)}: the archive is incomplete, or an older partial "
                    "folder was kept (delete it and try again)"
                )
            found = archive_dir
    if found is None:
        places = "\n".join(f"  - {d}" for d in searched)
        raise DataError(
            f"CIFAR-10 ({split}) not found. Looked in:\n{places}\n"
            "CIFAR-10 is online-only: no package ships it. When online, call "
            "load_cifar10(..., download=True) (about 163 MiB, checksum-verified), or put "
            f"{_CIFAR10_ARCHIVE} in one of the folders above. Offline, use "
            "load_fashion_mnist() (Debian package dataset-fashion-mnist) or "
            "load_digits_images() (bundled with scikit-learn) instead."
        )
    parts = [_load_cifar_batch(found / _CIFAR10_FOLDER / b) for b in batches]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


# --------------------------------------------------------------------------------------------
# NumPy and PyTorch helpers
# --------------------------------------------------------------------------------------------


def train_val_split(
    x: np.ndarray, y: np.ndarray, val_fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split examples at random into a training part and a validation part.

    The randomness comes only from ``rng``, so the same seed gives the same split on every
    machine; within each part the original order is kept.

    Args:
        x: examples, shape (N, ...).
        y: targets, shape (N, ...).
        val_fraction: the share for validation, in (0, 1); ``round(val_fraction * N)`` examples,
            at least one and leaving at least one for training.
        rng: e.g. ``np.random.default_rng(0)``.

    Returns:
        ``(x_train, x_val, y_train, y_val)`` (scikit-learn's order), copies of the rows.

    Raises:
        TypeError: ``rng`` is not a ``np.random.Generator`` (no hidden global state).
        ValueError: different lengths, or a fraction that leaves a part empty.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    n = len(x)
    if len(y) != n:
        raise ValueError(f"x has {n} examples, y has {len(y)}")
    n_val = round(val_fraction * n)
    if not 0 < val_fraction < 1 or not 1 <= n_val <= n - 1:
        raise ValueError(f"val_fraction={val_fraction} of {n} examples leaves a part empty")
    perm = rng.permutation(n)
    val_idx, train_idx = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    return x[train_idx], x[val_idx], y[train_idx], y[val_idx]


class ArrayDataset(Dataset):
    """A ``torch.utils.data.Dataset`` over NumPy ``(images, labels)``.

    The images are shared with the NumPy array (no copy of the data set); each item is
    converted when asked for, which is cheap next to a forward pass.

    Args:
        images: shape (N, H, W) (a channel axis is added) or (N, C, H, W); uint8 or float.
        labels: integer array of shape (N,).
        transform: optional function applied to each float32 (C, H, W) image tensor, e.g. an
            augmentation.
        max_value: the pixel value that becomes 1.0. Default: 255 for uint8 images, 1 for float
            images (taken to be in [0, 1] already); pass 16 for ``load_digits_images``.

    Items:
        ``(image, label)``: image float32 tensor (C, H, W), values in [0, 1] (before
        ``transform``); label int64 0-d tensor.
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        max_value: float | None = None,
    ):
        images = np.asarray(images)
        labels = np.asarray(labels)
        if images.ndim == 3:
            images = images[:, None]
        elif images.ndim != 4:
            raise ValueError(f"images must be (N, H, W) or (N, C, H, W), got {images.shape}")
        if labels.ndim != 1 or len(labels) != len(images):
            raise ValueError(f"labels of shape {labels.shape} for {len(images)} images")
        if not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"labels must be integers, got {labels.dtype}")
        if max_value is None:
            if images.dtype == np.uint8:
                max_value = 255.0
            elif np.issubdtype(images.dtype, np.floating):
                max_value = 1.0
            else:
                raise ValueError(f"pass max_value for images of dtype {images.dtype}")
        if not images.flags.writeable:  # torch.from_numpy warns on read-only memory
            images = images.copy()
        self.images = torch.from_numpy(np.ascontiguousarray(images))
        self.labels = torch.from_numpy(labels.astype(np.int64))
        self.transform = transform
        self.max_value = float(max_value)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        # Divide rather than multiply by 1/255: 255 / 255 is exactly 1.0, 255 * (1/255) is not.
        x = self.images[i].to(torch.float32) / self.max_value
        if self.transform is not None:
            x = self.transform(x)
        return x, self.labels[i]


def make_loader(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    shuffle: bool = False,
    generator: torch.Generator | None = None,
    *,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    max_value: float | None = None,
    drop_last: bool = False,
    num_workers: int = 0,
    transform_generator: torch.Generator | None = None,
    pin_memory: bool = False,
    persistent_workers: bool = False,
) -> DataLoader:
    """A ``DataLoader`` over NumPy arrays whose shuffling depends only on ``generator``.

    Two loaders built with generators seeded alike give batches in the same order, whatever
    else the program does with random numbers: nothing here reads or sets a global seed.

    Args:
        images, labels, transform, max_value: as for ``ArrayDataset``.
        batch_size: examples per batch.
        shuffle: reshuffle at every epoch; requires ``generator``.
        generator: e.g. ``torch.Generator().manual_seed(0)``; drives the shuffling and the seeds
            of worker processes.
        drop_last: drop a last, smaller batch.
        num_workers: worker processes (0: load in the main process, the default here).
        transform_generator: the ``torch.Generator`` that ``transform`` draws from, if any. Each
            worker process gets a copy of everything, generator included, so without this every
            worker would make the same random draws; with it, each worker reseeds its copy from
            the seed PyTorch gives that worker (drawn from ``generator`` at each epoch, plus the
            worker's id) mixed with the generator's own state: different workers and epochs
            draw differently, and a rerun with the same generators draws the same.
        pin_memory: batches in page-locked memory, for asynchronous copies to a CUDA device.
        persistent_workers: keep the worker processes alive between epochs (needs
            ``num_workers > 0``); their generators then go on from where they were.

    Returns:
        A loader yielding ``(x, y)``: x float32 (B, C, H, W) in [0, 1], y int64 (B,).

    Raises:
        ValueError: ``shuffle=True`` without a generator (it would use torch's global RNG).
    """
    if shuffle and generator is None:
        raise ValueError(
            "shuffle=True needs generator=torch.Generator().manual_seed(...) so that the order "
            "is reproducible without a global seed"
        )
    dataset = ArrayDataset(images, labels, transform=transform, max_value=max_value)
    worker_init_fn = None
    if num_workers > 0 and transform_generator is not None:
        # Kept on the dataset so that the worker reseeds the very object the transform uses
        # (the dataset and its transform travel to the worker together).
        dataset.transform_generator = transform_generator
        worker_init_fn = _reseed_transform_generator
        if generator is None:
            # The workers' seeds come from the loader's generator: derive one, so that they do
            # not come from the global generator.
            seed = int(torch.randint(2**62, (1,), generator=transform_generator))
            generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        generator=generator,
        drop_last=drop_last,
        num_workers=num_workers,
        worker_init_fn=worker_init_fn,
        pin_memory=pin_memory,
        persistent_workers=persistent_workers and num_workers > 0,
    )


def _reseed_transform_generator(worker_id: int) -> None:
    """``worker_init_fn`` of ``make_loader``: a generator of its own for each worker process."""
    info = torch.utils.data.get_worker_info()
    gen = getattr(info.dataset, "transform_generator", None)
    if gen is None:
        return
    # info.seed = base seed (drawn from the loader's generator per epoch) + worker id; mixing
    # in a draw from the copied generator keeps two generators seeded differently apart.
    draw = int(torch.randint(2**62, (1,), generator=gen))
    seed = np.random.SeedSequence([info.seed % 2**64, draw, worker_id]).generate_state(1, np.uint64)
    gen.manual_seed(int(seed[0]))
