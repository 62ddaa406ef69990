"""Figures a reader can use whatever their eyesight: checked on the chapters' sources, so it
runs without building the book (test_site.py checks the alt text of the built pages too).

For every chapter in ``_toc.yml``:

* the course style (``coursekit.plotting.use_course_style()``: Okabe-Ito palette, viridis) is set
  before the first figure;
* every cell that shows a figure has alt text (``mystnb: image: alt:``);
* every figure that plots data labels its x and y axes, in the cell or in a function it calls
  (defined in the chapter or in ``coursekit.plotting``); diagrams turn their axes off instead;
* every colour written in the code is from the colour-blind-safe palette or a grey, and every
  colour map is one that stays readable with colour blindness.

Each rule is shown to fail on a small chapter that breaks it.
"""

from __future__ import annotations

import ast
import inspect
import re

import booksite
import jupytext
import pytest

import coursekit.plotting as course_plotting

MAKES_FIGURE = re.compile(r"plt\.subplots\(|plt\.figure\(|\.subplot_mosaic\(")
PLOTS_DATA = re.compile(
    r"\.(plot|scatter|bar|barh|hist|semilogy|semilogx|loglog|errorbar|fill_between|stairs"
    r"|boxplot|violinplot|hexbin|stackplot)\("
)
X_LABEL = re.compile(r"set_xlabel\(|\bxlabel\s*=|\.xlabel\(|supxlabel\(")
Y_LABEL = re.compile(r"set_ylabel\(|\bylabel\s*=|\.ylabel\(|supylabel\(")
AXES_OFF = re.compile(r"set_axis_off\(|\.axis\(\s*[\"']off")
COLOUR_KW = re.compile(
    r"\b(color|colors|c|edgecolor|edgecolors|facecolor|facecolors|ec|fc|mfc|mec"
    r"|markerfacecolor|markeredgecolor)\s*=\s*([\"'])([^\"']*)\2"
)
HEX = re.compile(r"[\"'](#[0-9A-Fa-f]{6})[\"']")
CMAP = re.compile(r"\bcmap\s*=\s*([\"'])([^\"']+)\1|colormaps\[\s*([\"'])([^\"']+)\3")
PLOT_FORMAT = re.compile(
    r"\.(?:plot|semilogy|semilogx|loglog)\([^\n]*?[\"']([rgbcmy])(?:--|-\.|[-:.o*^vsx+dD])*[\"']"
)
NAMED_OK = {"k", "black", "w", "white", "none", "gray", "grey", "lightgray", "lightgrey"}
# Perceptually uniform maps, greys, and ColorBrewer's colour-blind-safe diverging maps.
CMAPS_OK = {"viridis", "cividis", "magma", "inferno", "plasma", "gray", "Greys", "binary"}
CMAPS_OK |= {"RdBu", "PuOr", "BrBG", "RdYlBu"}
CMAPS_OK |= {f"{c}_r" for c in CMAPS_OK}

CHAPTERS = [d for d in booksite.toc_pages() if booksite.is_chapter(d)]


def _code(src: str) -> str:
    """A cell's Python without IPython magics and shell escapes (which ast cannot parse)."""
    return "\n".join(line for line in src.splitlines() if not line.lstrip().startswith(("%", "!")))


def _tree(src: str) -> ast.Module | None:
    try:
        return ast.parse(_code(src))
    except SyntaxError:
        return None


def _functions(src: str) -> dict[str, str]:
    tree = _tree(src)
    if tree is None:
        return {}
    return {
        node.name: ast.get_source_segment(_code(src), node) or ""
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
    }


def _calls(src: str) -> set[str]:
    tree = _tree(src)
    names = set()
    for node in ast.walk(tree) if tree is not None else []:
        if isinstance(node, ast.Call):
            f = node.func
            names.add(f.id if isinstance(f, ast.Name) else getattr(f, "attr", ""))
    return names


def _top_level(src: str) -> str:
    """A cell without its function and class definitions: what runs when the cell runs."""
    tree = _tree(src)
    if tree is None:
        return src
    code = _code(src)
    keep = [
        ast.get_source_segment(code, node) or ""
        for node in tree.body
        if not isinstance(node, ast.FunctionDef | ast.ClassDef)
    ]
    return "\n".join(keep)


LIBRARY = _functions(inspect.getsource(course_plotting))


def figure_problems(nb) -> list[str]:
    """What breaks the rules above in a notebook (a jupytext/nbformat notebook node)."""
    problems = []
    cells = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    defined = dict(LIBRARY)
    for _, c in cells:
        defined.update(_functions(c.source))
    styled = False
    for i, c in cells:
        src = c.source
        if "use_course_style()" in _top_level(src):
            styled = True
        if not MAKES_FIGURE.search(_top_level(src)):
            continue
        where = f"cell {i}: {src.strip().splitlines()[0][:60]!r}"
        if not styled:
            problems.append(f"{where} draws before use_course_style()")
        alt = ((c.metadata.get("mystnb") or {}).get("image") or {}).get("alt")
        if not (alt and alt.strip()):
            problems.append(f"{where} shows a figure without alt text (mystnb: image: alt:)")
        # The cell and every function it calls, transitively.
        text, seen, todo = _code(src), set(), list(_calls(src))
        while todo:
            name = todo.pop()
            if name in defined and name not in seen:
                seen.add(name)
                text += "\n" + defined[name]
                todo += _calls(defined[name])
        if PLOTS_DATA.search(text) and not AXES_OFF.search(text):
            missing = [a for a, rx in (("x", X_LABEL), ("y", Y_LABEL)) if not rx.search(text)]
            if missing:
                problems.append(f"{where} plots data without a {' or '.join(missing)} label")
    return problems


def _grey(hex_colour: str) -> bool:
    r, g, b = (hex_colour[i : i + 2].lower() for i in (1, 3, 5))
    return r == g == b


def colour_problems(code: str) -> list[str]:
    palette = {c.lower() for c in course_plotting.PALETTE}
    problems = []
    for m in COLOUR_KW.finditer(code):
        value = m.group(3).strip()
        ok = (
            value in NAMED_OK
            or re.fullmatch(r"C\d", value)  # the property cycle: the course palette
            or re.fullmatch(r"0?\.\d+|[01](\.0*)?", value)  # a grey level
            or (value.startswith("#") and (value.lower() in palette or _grey(value)))
        )
        if not ok:
            problems.append(f"colour {value!r} ({m.group(1)}=) is not in the course palette")
    for hex_colour in HEX.findall(code):
        if hex_colour.lower() not in palette and not _grey(hex_colour):
            problems.append(f"colour {hex_colour} is not in the course palette")
    for m in CMAP.finditer(code):
        name = m.group(2) or m.group(4)
        if name not in CMAPS_OK:
            problems.append(f"colour map {name!r} is not colour-blind safe")
    for letter in PLOT_FORMAT.findall(code):
        problems.append(f"format string colour {letter!r}: use the course palette")
    return problems


@pytest.mark.parametrize("doc", CHAPTERS)
def test_figures_are_accessible(doc):
    nb = jupytext.read(booksite.source(doc))
    problems = figure_problems(nb)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    problems += colour_problems(code)
    assert not problems, f"{doc}:\n" + "\n".join(problems)


def test_course_style_is_colour_blind_safe():
    assert course_plotting.PALETTE[:3] == ["#0072B2", "#E69F00", "#009E73"]  # Okabe-Ito
    assert course_plotting.SEQUENTIAL in CMAPS_OK and course_plotting.DIVERGING in CMAPS_OK


def _chapter(*cells: tuple[str, dict]) -> object:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src, metadata=meta) for src, meta in cells]
    return nb


ALT = {"mystnb": {"image": {"alt": "Loss against epoch, falling from 2.3 to 0.4."}}}
STYLE = ("from coursekit.plotting import use_course_style\nuse_course_style()", {})


def test_figure_rules_can_fail():
    good = _chapter(
        STYLE,
        ("def curve(ax, y):\n    ax.plot(y)\n    ax.set(xlabel='epoch', ylabel='loss')", {}),
        ("fig, ax = plt.subplots()\ncurve(ax, [3, 2, 1])\nplt.show()", ALT),
        ("fig, ax = plt.subplots()\nax.imshow(img)\nax.set_axis_off()", ALT),
    )
    assert figure_problems(good) == []
    unlabelled = _chapter(STYLE, ("fig, ax = plt.subplots()\nax.plot([3, 2, 1])", ALT))
    assert "without a x or y label" in figure_problems(unlabelled)[0]
    only_x = _chapter(STYLE, ("fig, ax = plt.subplots()\nax.plot(y)\nax.set_xlabel('t')", ALT))
    assert "without a y label" in figure_problems(only_x)[0]
    helper = _chapter(
        STYLE,
        ("def curve(ax, y):\n    ax.semilogy(y)", {}),
        ("fig, ax = plt.subplots()\ncurve(ax, [3, 2, 1])", ALT),
    )
    assert "label" in figure_problems(helper)[0]
    no_alt = _chapter(STYLE, ("fig, ax = plt.subplots()\nax.imshow(img)", {}))
    assert "without alt text" in figure_problems(no_alt)[0]
    unstyled = _chapter(("fig, ax = plt.subplots()\nax.imshow(img)", ALT), STYLE)
    assert "before use_course_style()" in figure_problems(unstyled)[0]


def test_colour_rules_can_fail():
    assert colour_problems("ax.plot(x, color='0.4', lw=1)\nax.bar(x, y, color='#0072B2')") == []
    assert colour_problems("ax.plot(x, color='C2')\nax.legend(loc='upper left')") == []
    bad = (
        "ax.plot(x, color='red')\nax.plot(x, y, 'g--')\nax.imshow(z, cmap='jet')\n"
        "colours = ['#ff0000']"
    )
    assert len(colour_problems(bad)) == 4
