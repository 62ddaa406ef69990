"""A Colab launch link on the GPU chapters only.

Jupyter Book 1's launch buttons are global: ``colab_url`` in ``_config.yml`` would put Colab on
every page. Colab earns its place where a free GPU changes what a reader sees, so this
extension adds it only to pages whose front matter says ``gpu: true``:

* an entry "Colab" in the page's launch dropdown (next to Binder and JupyterHub), and
* a short note under the title with the link and the two steps Colab needs.

Colab opens notebooks from GitHub, not MyST markdown, so the link points at the executed
``.ipynb`` that the published site carries in ``_sources/`` (the book is published by pushing
``_build/html`` to the ``gh-pages`` branch). ``colab_notebook_url`` (a format string with
``{org}``, ``{repo}`` and ``{pagename}``) changes that; the repository comes from
``repository.url`` in ``_config.yml``.
"""

from __future__ import annotations

from docutils import nodes
from sphinx.application import Sphinx

DEFAULT_URL = (
    "https://colab.research.google.com/github/{org}/{repo}/blob/gh-pages/_sources/{pagename}.ipynb"
)


def is_gpu_page(app: Sphinx, docname: str) -> bool:
    value = app.env.metadata.get(docname, {}).get("gpu", False)
    return str(value).strip().lower() in ("true", "yes", "1")


def colab_url(app: Sphinx, docname: str) -> str | None:
    repo_url = app.config.html_theme_options.get("repository_url", "")
    if "github.com/" not in repo_url:
        return None
    org, repo = repo_url.rstrip("/").split("github.com/")[-1].split("/")[:2]
    return app.config.colab_notebook_url.format(org=org, repo=repo, pagename=docname)


def add_note(app: Sphinx, doctree: nodes.document) -> None:
    docname = app.env.docname
    url = colab_url(app, docname) if is_gpu_page(app, docname) else None
    section = doctree.next_node(nodes.section)
    if url is None or section is None:
        return
    repo = app.config.html_theme_options["repository_url"].rstrip("/")
    note = nodes.admonition(classes=["tip", "colab-launch"])
    note += nodes.title(text="Run this chapter on a GPU")
    para = nodes.paragraph()
    para += nodes.Text(
        "Everything here runs on a CPU; on a GPU it also shows what the hardware does. "
    )
    para += nodes.reference("", "Open this chapter in Google Colab", refuri=url)
    para += nodes.Text(", choose Runtime > Change runtime type > GPU, and run ")
    para += nodes.literal(text=f"%pip install git+{repo}")
    para += nodes.Text(" in a first cell so that the course's ")
    para += nodes.literal(text="coursekit")
    para += nodes.Text(" package is importable.")
    note += para
    title = section.next_node(nodes.title)
    section.insert(section.index(title) + 1 if title is not None else 0, note)


def add_launch_entry(app: Sphinx, pagename: str, templatename, context, doctree) -> None:
    url = colab_url(app, pagename) if is_gpu_page(app, pagename) else None
    if url is None:
        return
    for group in context.get("header_buttons", []):
        if group.get("label") == "launch-buttons":
            group["buttons"].append(
                {
                    "type": "link",
                    "text": "Colab",
                    "tooltip": "Launch on Colab (GPU)",
                    "icon": "_static/images/logo_colab.png",
                    "url": url,
                }
            )


def setup(app: Sphinx) -> dict:
    app.add_config_value("colab_notebook_url", DEFAULT_URL, "html")
    app.connect("doctree-read", add_note, priority=600)  # after Sphinx has read the front matter
    # After sphinx-book-theme has built the launch dropdown (its handlers run at 501).
    app.connect("html-page-context", add_launch_entry, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
