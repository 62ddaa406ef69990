"""Drop scripts that appear twice in a page's <head>.

Sphinx 7.4 registers an inline script (``app.add_js_file(None, body=...)``) that an extension
adds once the builder exists twice: once with the file name ``None`` and once, from the
registry, with ``''``, which its duplicate check tells apart. The HTML then declares
sphinx-thebe's ``const THEBE_JS_URL`` twice and every page logs "Identifier 'THEBE_JS_URL' has
already been declared" in the browser console (tests/test_browser.py fails on it). Keeping the
first copy of each script changes nothing else.
"""

from __future__ import annotations

from sphinx.application import Sphinx


def dedupe(app: Sphinx, pagename: str, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for script in scripts:
        # None and '' both mean "inline"; the attributes include the body.
        attrs = getattr(script, "attributes", {})
        key = (getattr(script, "filename", script) or "", repr(sorted(attrs.items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def setup(app: Sphinx) -> dict:
    app.connect("html-page-context", dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
