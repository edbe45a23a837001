"""Format-neutral result tables and their Markdown, LaTeX, HTML and CSV renderings.

Why a neutral form: the leaderboard marks the best value in bold, the second underlined and a
significant win with ``*``, and each output format spells those differently (``**x**`` and
``<u>x</u>`` in Markdown, ``\\textbf`` and ``\\underline`` in LaTeX, ``<b>``/``<u>`` in HTML, and
plain values plus a mark column in CSV, which must stay machine-readable). Tables are built
once as :class:`Table` objects holding :class:`Cell` values and rendered at the end.

Example:
    >>> t = Table("demo", ["model", "AUC"], [["din", Cell("0.8000", mark="best", star=True)]])
    >>> print(render_tables([t], "md"))
    ### demo
    <BLANKLINE>
    | model   | AUC          |
    |---------|--------------|
    | din     | **0.8000**\\* |
    <BLANKLINE>
    >>> print(render_tables([t], "csv").strip())
    table,model,AUC,AUC mark
    demo,din,0.8000,best*
"""

from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass, field
from typing import Union

from tabulate import tabulate

from recbench.errors import RecbenchError

FORMATS = ("md", "csv", "latex", "html")
MISSING = "–"


@dataclass(frozen=True)
class Cell:
    """One value: its text, an optional rank mark ("best"/"second"), star and spread."""

    text: str
    mark: str = ""
    star: bool = False
    #: shown after the value as "± std" (own column in CSV); "" when there is no spread
    std: str = ""


CellLike = Union[Cell, str]


@dataclass
class Table:
    """A titled grid with free-text description lines above it and footnotes below it."""

    title: str
    headers: list[str]
    rows: list[list[CellLike]]
    description: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _cell(value: CellLike) -> Cell:
    return value if isinstance(value, Cell) else Cell(str(value))


_LATEX_SPECIALS = {
    "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
    "~": r"\textasciitilde{}", "^": r"\^{}", "\\": r"\textbackslash{}", "±": r"$\pm$", "–": "--",
}  # fmt: skip


def latex_escape(text: str) -> str:
    """Escape text for LaTeX, so model names like ``ctr_bert`` or ``50%`` do not break a build."""
    return "".join(_LATEX_SPECIALS.get(ch, ch) for ch in text)


def _decorate(cell: Cell, fmt: str) -> str:
    if fmt == "latex":
        text = latex_escape(cell.text)
        text = {"best": rf"\textbf{{{text}}}", "second": rf"\underline{{{text}}}"}.get(cell.mark, text)
        star = "$^{*}$" if cell.star else ""
        std = rf" $\pm$ {latex_escape(cell.std)}" if cell.std else ""
    elif fmt == "html":
        text = html.escape(cell.text)
        text = {"best": f"<b>{text}</b>", "second": f"<u>{text}</u>"}.get(cell.mark, text)
        star = "<sup>*</sup>" if cell.star else ""
        std = f" ± {html.escape(cell.std)}" if cell.std else ""
    else:
        text = cell.text.replace("|", "\\|")
        text = {"best": f"**{text}**", "second": f"<u>{text}</u>"}.get(cell.mark, text)
        star = "\\*" if cell.star else ""
        std = f" ± {cell.std}" if cell.std else ""
    return f"{text}{star}{std}"


def _render_one(table: Table, fmt: str) -> str:
    body = [[_decorate(_cell(c), fmt) for c in row] for row in table.rows]
    if fmt == "latex":
        headers = [latex_escape(h) for h in table.headers]
        lines = [f"% {latex_escape(table.title)}"]
        lines += [f"% {line}" for line in table.description]
        lines.append(tabulate(body, headers=headers, tablefmt="latex_raw", disable_numparse=True))
        lines += [f"% {line}" for line in table.notes]
        return "\n".join(lines) + "\n"
    if fmt == "html":
        headers = [html.escape(h) for h in table.headers]
        lines = [f"<h3>{html.escape(table.title)}</h3>"]
        lines += [f"<p>{html.escape(line)}</p>" for line in table.description]
        lines.append(tabulate(body, headers=headers, tablefmt="unsafe_html", disable_numparse=True))
        if table.notes:
            lines.append("<ol>" + "".join(f"<li>{html.escape(n)}</li>" for n in table.notes) + "</ol>")
        return "\n".join(lines) + "\n"
    lines = [f"### {table.title}", ""]
    if table.description:
        lines += [*table.description, ""]
    lines.append(tabulate(body, headers=table.headers, tablefmt="github", disable_numparse=True))
    if table.notes:
        lines.append("")
        lines += [f"{i}. {note}" for i, note in enumerate(table.notes, 1)]
    return "\n".join(lines) + "\n"


def _render_csv(tables: list[Table]) -> str:
    """One CSV for all tables: a ``table`` column, plain values, and std / mark columns where used."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    last_header: list[str] | None = None
    for table in tables:
        cells = [[_cell(c) for c in row] for row in table.rows]
        width = len(table.headers)
        has_std = [any(row[i].std for row in cells) for i in range(width)]
        has_mark = [any(row[i].mark or row[i].star for row in cells) for i in range(width)]
        header = ["table"]
        for i, name in enumerate(table.headers):
            header += [name] + ([f"{name} std"] if has_std[i] else []) + ([f"{name} mark"] if has_mark[i] else [])
        if header != last_header:
            writer.writerow(header)
            last_header = header
        for row in cells:
            line = [table.title]
            for i, cell in enumerate(row):
                text = "" if cell.text == MISSING else cell.text
                line.append(text)
                if has_std[i]:
                    line.append(cell.std)
                if has_mark[i]:
                    line.append(cell.mark + ("*" if cell.star else ""))
            writer.writerow(line)
    return out.getvalue()


def render_tables(tables: list[Table], fmt: str) -> str:
    """All tables in one output format; CSV drops descriptions and notes (they are not data)."""
    if fmt not in FORMATS:
        raise RecbenchError(f"--format {fmt}: expected one of {', '.join(FORMATS)}")
    if fmt == "csv":
        return _render_csv(tables)
    return "\n".join(_render_one(t, fmt) for t in tables)


def rank_marks(values: list[float | None], higher_is_better: bool, decimals: int = 4) -> list[str]:
    """"best" / "second" per value by dense rank of the *displayed* (rounded) values.

    Ranking what is shown means two numbers that print identically always get the same mark:
    tied best values are all bold and the next distinct value is underlined. Missing values
    (None or NaN) get no mark.

    Example:
        >>> rank_marks([0.80001, 0.8, 0.79, None, 0.7], higher_is_better=True)
        ['best', 'best', 'second', '', '']
    """
    shown = [round(v, decimals) if v is not None and v == v else None for v in values]
    distinct = sorted({v for v in shown if v is not None}, reverse=higher_is_better)
    labels = dict(zip(distinct[:2], ("best", "second")))
    return [labels.get(v, "") if v is not None else "" for v in shown]
