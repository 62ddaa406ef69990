"""Links of the built book: internal ones always (every relative link resolves to a file of the
site), external ones when a network is reachable (HEAD, then GET where a server refuses HEAD).
Offline, the external check is skipped with the reason.

Not checked: the launch buttons (Binder, JupyterHub, Colab), which open sessions rather than
pages and whose JupyterHub address is a placeholder until a course sets its own, and the
repository links, which resolve only once the course is published at the address in
``_config.yml``.
"""

from __future__ import annotations

import concurrent.futures
import functools
import http.server
import os
import socket
import threading
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import booksite
import pytest
import yaml

pytestmark = [pytest.mark.book, pytest.mark.slow]

CONFIG = yaml.safe_load((booksite.ROOT / "_config.yml").read_text())
REPOSITORY = CONFIG.get("repository", {}).get("url", "").rstrip("/")
LAUNCH_HOSTS = {
    urlsplit(CONFIG.get("launch_buttons", {}).get(key) or "").netloc
    for key in ("binderhub_url", "jupyterhub_url", "colab_url")
} | {"colab.research.google.com"}
USER_AGENT = "Mozilla/5.0 (course link check)"


def external_links(html: Path) -> dict[str, list[str]]:
    """Every external http(s) link of the book's pages -> the pages that have it."""
    found: dict[str, list[str]] = {}
    for doc in booksite.toc_pages():
        for href in booksite.parse(booksite.html_file(html, doc)).links:
            parts = urlsplit(href)
            if parts.scheme not in ("http", "https") or parts.netloc in LAUNCH_HOSTS:
                continue
            if REPOSITORY and href.startswith(REPOSITORY):
                continue
            url = href.split("#")[0]
            if doc not in found.setdefault(url, []):
                found[url].append(doc)
    return found


# Hosts the book links to that are not package registries (this project's machines reach only
# those): one of them answering means the internet is there.
PROBE_HOSTS = ("doi.org", "creativecommons.org", "en.wikipedia.org")


def network_reachable(hosts=PROBE_HOSTS, timeout: float = 3.0) -> bool:
    """Whether the internet answers: a TCP connection to port 443 of one of ``hosts``."""
    if os.environ.get("LINKCHECK_OFFLINE"):
        return False
    for host in hosts:
        try:
            with socket.create_connection((host, 443), timeout=timeout):
                return True
        except OSError:
            continue
    return False


def status(url: str, timeout: float = 15.0) -> int | str:
    """The HTTP status of ``url`` (HEAD, falling back to GET), or the error as text."""
    for method in ("HEAD", "GET"):
        req = urllib.request.Request(url, method=method, headers={"User-Agent": USER_AGENT})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status
        except urllib.error.HTTPError as err:
            if method == "HEAD" and err.code in (403, 405, 429, 501):
                continue  # some servers refuse HEAD, or robots: try a real GET
            return err.code
        except (urllib.error.URLError, TimeoutError, OSError) as err:
            return f"{type(err).__name__}: {err}"
    return "no answer"


def test_internal_links_resolve(built_book):
    broken = []
    for doc in booksite.toc_pages():
        page = booksite.html_file(built_book, doc)
        for href in booksite.parse(page).links:
            target = booksite.local_target(page, href)
            if target is not None and not target.exists():
                broken.append(f"{doc}: {href}")
    assert not broken, "\n".join(broken)


def test_external_links(built_book):
    links = external_links(built_book)
    assert links, "found no external links: the collector is broken"
    if not network_reachable():
        pytest.skip(f"no network: {len(links)} external links not checked")
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = dict(zip(links, pool.map(status, links), strict=True))
    bad = [
        f"{url} -> {code} (on {', '.join(links[url])})"
        for url, code in results.items()
        if not (isinstance(code, int) and code < 400)
    ]
    assert not bad, "\n".join(bad)


def test_link_check_can_fail(tmp_path):
    """A broken internal link is found; a 404 and an unreachable host are reported, not raised."""
    page = tmp_path / "book" / "x.html"
    page.parent.mkdir()
    page.write_text('<a href="missing.html#top">x</a><a href="x.html">self</a>')
    targets = [booksite.local_target(page, h) for h in booksite.parse(page).links]
    assert [t.exists() for t in targets] == [False, True]

    handler = functools.partial(_Quiet, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        assert status(f"{base}/book/x.html") == 200
        assert status(f"{base}/book/missing.html") == 404
    finally:
        server.shutdown()
        server.server_close()
    assert isinstance(status("http://127.0.0.1:9/", timeout=2), str)  # the discard port: refused


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
