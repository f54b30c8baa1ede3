"""The report of a run: one self-contained ``report.html`` beside its ``result.json`` / ``train.json``.

:func:`write_run_report` reads what a search (``result.json``) or a training (``train.json``)
left in its folder, and the plots in ``plots/``, and writes one HTML file that needs nothing
else to be read (images are embedded as base64 PNG, the cell diagrams are inline SVG, there
is no script and no link to fetch)::

    path = write_run_report("runs/fm")        # runs/fm/report.html

It shows the pick and its genotype drawn as a cell diagram (NB201: the four-node cell with the
op of each edge; DARTS: the normal and the reduction cell; other spaces: the genotype text), the
Pareto front, the progress of every generation, the training and validation curves, the test
figures (accuracy, balanced accuracy, ROC AUC, recall of each class, confusion matrix), the
members of an ensemble, and the commands that resume, retrain and export the run.

Every figure the page states is marked with where it comes from: ``data-pointer`` is a JSON
pointer into ``{"result": <result.json>, "train": <train.json>}`` and ``data-value`` the value
read there, so the page can be checked against the files it was written from.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import json
import logging
import math
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from fne.files import PathLike, atomic_write_text, jsonable
from fne.options import OptionSpec

logger = logging.getLogger(__name__)

__all__ = ["write_run_report", "REPORT_HTML"]

REPORT_HTML = "report.html"
"""The file :func:`write_run_report` writes in the run's folder."""
PLOTS = "plots"
PLOT_CAPTIONS = {
    "objectives.png": "Proxy values per generation: the best and the mean of the population.",
    "pareto_front.png": "The last population for each pair of proxies, its Pareto front and the pick.",
    "front.png": "Quality against cost: the evaluated cells, the quality-cost front and the pick.",
}
FRONT_PLOTS = ("front.png", "pareto_front.png")
"""The plots shown with the front (the others are shown with the progress)."""
HISTORY_KEYS = ("history", "epochs_history", "curves", "per_epoch")
"""Where a training report may hold its per-epoch records (the first found is drawn)."""
MAX_TABLE_CLASSES = 20
"""Up to this many classes the confusion matrix is a table; beyond, an image."""


def write_run_report(out_dir: PathLike) -> Path:
    """Write ``out_dir/report.html`` from the run's ``result.json`` and/or ``train.json`` and plots.

    Args:
        out_dir: the folder of a search (``fne search``) or a training (``fne train``).

    Returns:
        The path of the report.

    Raises:
        FileNotFoundError: ``out_dir`` holds neither ``result.json`` nor ``train.json``.
        ValueError: one of them is not a JSON object.
    """
    out = Path(out_dir)
    docs = _read_documents(out)
    page = _Page(out, docs).render()
    path = out / REPORT_HTML
    atomic_write_text(path, page)
    logger.info("wrote the run report %s", path)
    return path


def _file_names() -> tuple[str, str]:
    """The names of a search's and a training's result files (imported on use: both run modules
    write this report at their end)."""
    from fne.search.run import RESULT
    from fne.training.run import REPORT

    return RESULT, REPORT


def _read_documents(out: Path) -> dict[str, dict[str, Any]]:
    docs: dict[str, dict[str, Any]] = {}
    for key, name in zip(("result", "train"), _file_names(), strict=True):
        path = out / name
        if not path.is_file():
            continue
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"{path} is not readable JSON ({err})") from None
        if not isinstance(doc, dict):
            raise ValueError(f"{path} does not hold a JSON object")
        docs[key] = doc
    if not docs:
        raise FileNotFoundError(f"{out} holds neither {' nor '.join(_file_names())}: no run to report")
    return docs


# ----------------------------------------------------------------------------- figures and text


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _pointer(*parts: Any) -> str:
    """The JSON pointer (RFC 6901) of ``parts``."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _number(value: Any) -> str:
    """A value as the report writes it: integers whole, other numbers with 4 significant digits."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "n/a" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return "n/a"
    return f"{value:.4g}"


def _percent(value: Any) -> str:
    """A value in percent (as fne reports accuracies and recalls), with two decimals."""
    return f"{value:.2f}%" if _finite(value) else "n/a"


def _seconds(value: Any) -> str:
    return f"{value:.1f} s" if _finite(value) else "n/a"


def _fig(pointer: str, value: Any, text: str) -> str:
    """A figure of the run, marked with the JSON pointer it was read from and the value there."""
    return (
        f'<span class="fig" data-pointer="{_esc(pointer)}" data-value="{_esc(json.dumps(value))}">{_esc(text)}</span>'
    )


def _png(fig: Figure) -> str:
    """A figure as an ``<img>`` holding its PNG."""
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return _img(buffer.getvalue(), "")


def _img(data: bytes, alt: str) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    return f'<img alt="{_esc(alt)}" src="data:image/png;base64,{encoded}">'


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], classes: Sequence[str] = ()) -> str:
    """An HTML table; cells are HTML already (escape text with :func:`_esc`)."""
    out = ["<table><thead><tr>", *(f"<th>{_esc(h)}</th>" for h in head), "</tr></thead><tbody>"]
    for i, row in enumerate(rows):
        css = f' class="{classes[i]}"' if i < len(classes) and classes[i] else ""
        out.append(f"<tr{css}>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _section(title: str, body: str, anchor: str) -> str:
    return f'<section id="{anchor}"><h2>{_esc(title)}</h2>{body}</section>'


# ----------------------------------------------------------------------------- cell diagrams


@dataclass(frozen=True)
class _Cell:
    """A cell as a graph: ``(inside, below)`` labels of each node, and ``(source, target, op)``
    edges with source < target."""

    title: str
    nodes: tuple[tuple[str, str], ...]
    edges: tuple[tuple[int, int, str], ...]


def _cells(space: str, arch: str) -> list[_Cell] | None:
    """The cell graphs of ``arch`` (None when its space has no diagram or the text does not parse)."""
    from fne.genotopheno import get_space
    from fne.genotopheno.darts.genotype import DartsGenotype
    from fne.genotopheno.nb201.space import NB201Genotype

    try:
        genotype = get_space(space).parse(arch)
    except (ValueError, KeyError, TypeError):
        return None
    if isinstance(genotype, NB201Genotype):
        edges = tuple((src, i, op) for i, node in enumerate(genotype.nodes, 1) for op, src in node)
        count = len(genotype.nodes) + 1
        labels = tuple((str(i), "input" if i == 0 else "output" if i == count - 1 else "") for i in range(count))
        return [_Cell("the cell (its input is the previous cell's output)", labels, edges)]
    if isinstance(genotype, DartsGenotype):
        cells = []
        for name, pairs, concat in (
            ("normal cell", genotype.normal, genotype.normal_concat),
            ("reduction cell", genotype.reduce, genotype.reduce_concat),
        ):
            inner = len(pairs) // 2
            labels = (
                ("k-2", "cell k-2"),
                ("k-1", "cell k-1"),
                *((str(i), "") for i in range(inner)),
                ("out", "output"),
            )
            links = [(src, 2 + k // 2, op) for k, (op, src) in enumerate(pairs)]
            links += [(node, len(labels) - 1, "concat") for node in concat]
            cells.append(_Cell(name, labels, tuple(links)))
        return cells
    return None


def _op_style(op: str) -> tuple[str, str]:
    """Colour and dash pattern of an edge."""
    if op == "none":
        return "#b0b0b0", "5 4"
    if op == "concat":
        return "#9a9a9a", "2 3"
    if "conv" in op:
        return ("#6a3d9a" if op.startswith(("sep", "dil")) else "#1f5fa8"), ""
    if "pool" in op:
        return "#2f8f3a", ""
    return "#444444", ""


def _svg(cell: _Cell, key: str) -> str:
    """The cell drawn left to right: nodes in a row, each edge an arc labelled with its op (``key``
    makes its element ids unique in the page)."""
    gap, radius, margin = 170.0, 22.0, 60.0
    xs = [margin + i * gap for i in range(len(cell.nodes))]
    seen: dict[tuple[int, int], int] = {}
    arcs = []
    for src, dst, op in cell.edges:
        repeat = seen.get((src, dst), 0)
        seen[(src, dst)] = repeat + 1
        span = dst - src
        side = -1.0 if (src + repeat) % 2 == 0 else 1.0
        height = 0.0 if span == 1 and repeat == 0 else 34.0 * span + 22.0 * repeat
        arcs.append((src, dst, op, side * height))
    above = max([-h for *_, h in arcs if h < 0], default=0.0)
    below = max([h for *_, h in arcs if h > 0], default=0.0)
    y = above + radius + 24.0
    width, total = xs[-1] + margin, y + max(below + 18.0, radius + 30.0)
    parts = [
        f'<svg class="cell" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {total:.0f}" '
        f'width="{width:.0f}" role="img" aria-label="{_esc(cell.title)}">',
        f'<defs><marker id="arrow-{key}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="context-stroke"/></marker></defs>',
    ]
    labels = []
    for src, dst, op, h in arcs:
        x0, x1 = xs[src], xs[dst]
        cx, cy = (x0 + x1) / 2, y + 2 * h
        start = _towards(x0, y, cx, cy, radius)
        end = _towards(x1, y, cx, cy, radius + 2)
        colour, dash = _op_style(op)
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<path d="M{start[0]:.1f},{start[1]:.1f} Q{cx:.1f},{cy:.1f} {end[0]:.1f},{end[1]:.1f}" fill="none" '
            f'stroke="{colour}" stroke-width="2"{dashed} marker-end="url(#arrow-{key})">'
            f"<title>{_esc(op)}</title></path>"
        )
        if op != "concat":
            at = y + h + 4 if h else y - 8
            labels.append(f'<text class="op" x="{cx:.1f}" y="{at:.1f}" fill="{colour}">{_esc(op)}</text>')
    for x, (inside, below_label) in zip(xs, cell.nodes, strict=True):
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius:.0f}" class="node"/>')
        parts.append(f'<text class="node" x="{x:.1f}" y="{y + 5:.1f}">{_esc(inside)}</text>')
        if below_label:
            labels.append(f'<text class="op" x="{x:.1f}" y="{y + radius + 16:.1f}">{_esc(below_label)}</text>')
    parts += labels
    parts.append("</svg>")
    return "".join(parts)


def _towards(x: float, y: float, cx: float, cy: float, distance: float) -> tuple[float, float]:
    """The point ``distance`` from ``(x, y)`` towards ``(cx, cy)``."""
    dx, dy = cx - x, cy - y
    norm = math.hypot(dx, dy) or 1.0
    return x + distance * dx / norm, y + distance * dy / norm


def _genotype_block(space: str, arch: str) -> str:
    """The genotype's text and its diagram (or, for a space without one, its text in lines)."""
    cells = _cells(space, arch)
    text = f'<pre class="arch">{_esc(arch)}</pre>'
    if cells is None:
        lines = [part for part in re.split(r"\s{2,}", arch.strip()) if part]
        shown = "\n".join(f"{i + 1:>3}: {line}" for i, line in enumerate(lines)) if len(lines) > 1 else arch
        intro = f"<p>The {_esc(space)} space has no cell diagram; its genotype, one part a line:</p>"
        return f'{intro}<pre class="arch">{_esc(shown)}</pre>'
    legend = (
        '<p class="legend">Edges carry data left to right; '
        '<span style="color:#1f5fa8">convolutions</span>, <span style="color:#6a3d9a">separable and dilated '
        'convolutions</span>, <span style="color:#2f8f3a">pooling</span>, <span style="color:#444">skip</span>, '
        '<span style="color:#999">none (dashed: no connection) and concatenation (dotted)</span>.</p>'
    )
    drawings = "".join(
        f"<figure>{_svg(c, str(i))}<figcaption>{_esc(c.title)}</figcaption></figure>" for i, c in enumerate(cells)
    )
    return text + drawings + legend


# ----------------------------------------------------------------------------- commands


def _option_spec(f: dataclasses.Field) -> OptionSpec | None:
    return next((v for v in f.metadata.values() if isinstance(v, OptionSpec)), None)


FILLING = ("space", "preset")
"""Options whose values fill the defaults of others (a space's proxies, a preset's settings)."""


def _option_args(config: Any, values: Mapping[str, Any], skip: Sequence[str] = ()) -> list[str]:
    """The command-line options that turn the configuration ``config`` (a dataclass of
    :func:`fne.options.option` fields, holding the defaults) into ``values`` (a configuration as
    its JSON record holds it); options equal to their default are left out (the options of
    :data:`FILLING` are compared with their field's own default)."""
    args: list[str] = []
    for f in dataclasses.fields(config):
        spec = _option_spec(f)
        if spec is None or not spec.cli or f.name in skip or f.name not in values:
            continue
        value, default = jsonable(values[f.name]), getattr(config, f.name)
        if dataclasses.is_dataclass(default):
            args += _option_args(default, value if isinstance(value, Mapping) else {}, skip)
            continue
        if f.name in FILLING and f.default is not dataclasses.MISSING:
            default = f.default
        if value == jsonable(default) or value is None:
            continue
        flag = "--" + (spec.flag or f.name.replace("_", "-"))
        if isinstance(value, bool):
            args.append(flag if value else "--no-" + flag[2:])
        elif isinstance(value, dict):
            args += [
                part for k, v in value.items() for part in (flag, f"{k}={json.dumps(v) if isinstance(v, bool) else v}")
            ]
        elif isinstance(value, list):
            args += [flag, ",".join(map(str, value))]
        else:
            args += [flag, str(value)]
    return args


def _config_of(cls: type, values: Mapping[str, Any]) -> Any:
    """``cls`` with ``values``' options of :data:`FILLING` and its defaults otherwise."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: values[k] for k in FILLING if k in names and values.get(k) is not None})


def _command(*args: str) -> str:
    """A shell command line; an argument holding single quotes but nothing the shell expands
    inside double quotes is double-quoted (a DARTS genotype stays legible)."""
    quoted = []
    for arg in args:
        plain = shlex.quote(arg)
        if plain != arg and "'" in arg and not any(c in arg for c in '"$`\\!'):
            plain = f'"{arg}"'
        quoted.append(plain)
    return " ".join(quoted)


def _search_commands(result: Mapping[str, Any], out: str, model: bool) -> list[tuple[str, str]]:
    from fne.search.config import SearchConfig
    from fne.training.run import TrainCommandConfig

    config = result.get("config")
    if not isinstance(config, Mapping):
        return []
    commands = []
    try:
        defaults = _config_of(SearchConfig, config)
        resume = ["fne", "search", *_option_args(defaults, config, skip=("out", "resume")), "--out", out, "--resume"]
        commands.append(
            (
                "Continue this search (after an interruption, or to add a step: --train-epochs N, --benchmark CSV)",
                _command(*resume),
            )
        )
        arch = result.get("best", {}).get("arch")
        if arch:
            train_values = {
                **{k: config[k] for k in ("data_dir", "dataset", "download", "device", "space", "seed") if k in config},
                "training": config.get("training", {}),
                "arch": arch,
                "epochs": config.get("train_epochs") or 10,
            }
            train_defaults = _config_of(TrainCommandConfig, train_values)
            retrain = ["fne", "train", *_option_args(train_defaults, train_values, skip=("out",))]
            retrain += ["--out", str(Path(out) / "retrain")]
            commands.append(("Train the pick again, on its own, into another folder", _command(*retrain)))
    except (TypeError, ValueError) as err:  # a configuration of another fne version
        logger.warning("the report gives no resume or retrain command: %s", err)
    if model:
        commands += _export_commands(out)
    return commands


def _train_commands(train: Mapping[str, Any], out: str, model: bool) -> list[tuple[str, str]]:
    from fne.training.run import TrainCommandConfig

    config = train.get("config")
    commands = []
    if isinstance(config, Mapping):
        try:
            defaults = _config_of(TrainCommandConfig, config)
            args = _option_args(defaults, config, skip=("out", "resume"))
            commands.append(
                (
                    "Continue this training if it was interrupted",
                    _command("fne", "train", *args, "--out", out, "--resume"),
                )
            )
            commands.append(
                ("Train again into another folder", _command("fne", "train", *args, "--out", f"{out}-retrain"))
            )
        except (TypeError, ValueError) as err:  # a configuration of another fne version
            logger.warning("the report gives no retrain command: %s", err)
    if model:
        commands += _export_commands(out)
    return commands


def _export_commands(out: str) -> list[tuple[str, str]]:
    model = str(Path(out) / "model.pt")
    return [
        (
            "Export to ONNX (model.onnx beside model.pt; needs pip install 'fne[onnx]')",
            _command("fne", "export", "--model", model, "--format", "onnx"),
        ),
        ("Export to TorchScript (model.ts)", _command("fne", "export", "--model", model)),
        (
            "Load the network in Python (it takes normalised images; net.fne_info has the rest)",
            f"import fne\nnet = fne.load_model({model!r})",
        ),
    ]


# ----------------------------------------------------------------------------- the page


STYLE = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d1d1f;margin:0;background:#f6f7f9}
main{max-width:1180px;margin:0 auto;padding:24px 28px 60px;background:#fff}
h1{font-size:26px;margin:4px 0 2px}
h2{font-size:20px;margin:34px 0 10px;border-bottom:2px solid #e3e6ea;padding-bottom:4px}
h3{font-size:16px;margin:20px 0 6px}.sub{color:#5b6270;margin:0 0 14px}
nav a{margin-right:14px;color:#1f5fa8;text-decoration:none;font-size:14px}
table{border-collapse:collapse;margin:6px 0 12px;font-size:13.5px}
th,td{border:1px solid #dde1e6;padding:4px 8px;text-align:right;vertical-align:top}
th{background:#f0f2f5;font-weight:600}td:first-child,th:first-child{text-align:left}
tr.pick td{background:#fff6d6}td code{word-break:break-all;font-size:12px;display:block;text-align:left}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:10px 0 4px}
.card{border:1px solid #dde1e6;border-radius:8px;padding:8px 14px;min-width:140px;background:#fafbfc}
.card .k{font-size:12px;color:#5b6270}.card .v{font-size:21px;font-weight:600}
pre{background:#f3f4f6;border:1px solid #e3e6ea;border-radius:6px;padding:8px 10px;font-size:12.5px;
white-space:pre-wrap;overflow-wrap:anywhere}
pre.arch{white-space:pre-wrap;word-break:break-all}
figure{margin:10px 0 16px}figcaption{color:#5b6270;font-size:13px}
img{max-width:100%;border:1px solid #eceef1}svg.cell{max-width:100%;height:auto}
svg text{font:13px system-ui,sans-serif;text-anchor:middle}
svg text.op{font-size:12px;paint-order:stroke;stroke:#fff;stroke-width:4px;stroke-linejoin:round}
svg circle.node{fill:#fff;stroke:#1d1d1f;stroke-width:1.6}svg text.node{font-weight:600}
.legend{font-size:13px;color:#5b6270}
.error{background:#fdecec;border:1px solid #f3b4b4;padding:8px 12px;border-radius:6px}
.muted{color:#5b6270}span.cm{display:block;margin:-4px -8px;padding:4px 8px}
"""


class _Page:
    """The report of one run folder."""

    def __init__(self, out: Path, docs: dict[str, dict[str, Any]]) -> None:
        self.out = out
        self.docs = docs
        self.result = docs.get("result")
        self.train, self.train_at = self._training()
        self.model_info = self._model_info()

    def _training(self) -> tuple[dict[str, Any] | None, str]:
        """The training report and the pointer it lies at (train.json, or result.json's ``train``)."""
        if "train" in self.docs:
            return self.docs["train"], _pointer("train")
        train = (self.result or {}).get("train")
        return (train if isinstance(train, dict) else None), _pointer("result", "train")

    def _model_info(self) -> Any:
        from fne.model_file import read_model_info

        path = self.out / "model.pt"
        if not path.is_file():
            return None
        try:
            return read_model_info(path)
        except (ValueError, OSError) as err:
            logger.warning("the report leaves out %s: %s", path, err)
            return None

    # --------------------------------------------------------------- facts

    def _config(self) -> Mapping[str, Any]:
        for doc in (self.result, self.train):
            if doc and isinstance(doc.get("config"), Mapping):
                return doc["config"]
        return {}

    def _space(self) -> str:
        config = self._config()
        if config.get("space"):
            return str(config["space"])
        return self.model_info.space if self.model_info is not None else "nb201"

    def _arch(self) -> tuple[str | None, str]:
        """The pick's text and its pointer."""
        if self.result and isinstance(self.result.get("best"), Mapping) and self.result["best"].get("arch"):
            return str(self.result["best"]["arch"]), _pointer("result", "best", "arch")
        config = self._config()
        if config.get("arch"):
            return str(config["arch"]), _pointer("train", "config", "arch")
        if self.model_info is not None:
            return self.model_info.genotype, ""
        return None, ""

    def _classes(self, count: int) -> list[str]:
        if self.model_info is not None and len(self.model_info.classes) == count:
            return list(self.model_info.classes)
        named = (self.train or {}).get("classes")
        if isinstance(named, list) and len(named) == count:
            return [str(c) for c in named]
        return [str(i) for i in range(count)]

    # --------------------------------------------------------------- render

    def render(self) -> str:
        from fne import __version__

        title = f"fne run report: {self.out.resolve().name}"
        sections = [
            ("summary", "Summary", self._summary()),
            ("pick", "The pick", self._pick()),
            ("test", "Test figures", self._test()),
            ("training", "Training", self._training_section()),
            ("front", "The front", self._front()),
            ("progress", "Progress per generation", self._progress()),
            ("commands", "Commands", self._commands()),
            ("files", "Files", self._files()),
        ]
        shown = [(a, t, b) for a, t, b in sections if b]
        nav = "".join(f'<a href="#{a}">{_esc(t)}</a>' for a, t, _ in shown)
        body = "".join(_section(t, b, a) for a, t, b in shown)
        return (
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_esc(title)}</title><style>{STYLE}</style></head><body><main>"
            f'<h1>{_esc(title)}</h1><p class="sub">{_esc(self._describe())} Written by fne {_esc(__version__)} '
            f"from the files of {_esc(self.out)}.</p><nav>{nav}</nav>{body}</main></body></html>\n"
        )

    def _describe(self) -> str:
        config = self._config()
        data = (self.train or {}).get("data") or config.get("data_dir", "")
        what = "A search" if self.result is not None else "A training"
        kind = f" ({config['dataset']})" if config.get("dataset") else ""
        return f"{what} in the {self._space()} space" + (f" on {data}{kind}." if data else ".")

    def _card(self, label: str, figure: str) -> str:
        return f'<div class="card"><div class="k">{_esc(label)}</div><div class="v">{figure}</div></div>'

    def _summary(self) -> str:
        cards = []
        train, at = self.train, self.train_at
        if train and "error" not in train:
            if _finite(train.get("test_accuracy")):
                label = f"test accuracy (ensemble of {train['ensemble']})" if train.get("ensemble") else "test accuracy"
                cards.append(
                    self._card(
                        label, _fig(at + "/test_accuracy", train["test_accuracy"], _percent(train["test_accuracy"]))
                    )
                )
            for key, label in (("balanced_accuracy", "balanced accuracy"),):
                if _finite(train.get(key)):
                    cards.append(self._card(label, _fig(f"{at}/{key}", train[key], _percent(train[key]))))
            if _finite(train.get("roc_auc")):
                cards.append(self._card("ROC AUC", _fig(at + "/roc_auc", train["roc_auc"], f"{train['roc_auc']:.3f}")))
            if isinstance(train.get("epochs"), int):
                cards.append(self._card("epochs", _fig(at + "/epochs", train["epochs"], _number(train["epochs"]))))
            if _finite(train.get("seconds_per_epoch")):
                value = train["seconds_per_epoch"]
                cards.append(self._card("seconds per epoch", _fig(at + "/seconds_per_epoch", value, _seconds(value))))
        result = self.result or {}
        if isinstance(result.get("evaluations"), int):
            value = result["evaluations"]
            cards.append(self._card("cells evaluated", _fig("/result/evaluations", value, _number(value))))
        if isinstance(result.get("generations"), int):
            value = result["generations"]
            cards.append(self._card("generations", _fig("/result/generations", value, _number(value))))
        if _finite(result.get("wall_time_s")):
            value = result["wall_time_s"]
            cards.append(self._card("run time", _fig("/result/wall_time_s", value, _seconds(value))))
        bench = result.get("benchmark")
        if isinstance(bench, Mapping):
            for key, value in bench.items():
                if _finite(value):
                    fig = _fig(_pointer("result", "benchmark", key), value, _number(value))
                    cards.append(self._card(f"benchmark {key} of the pick", fig))
        failed = (
            (result.get("failed_cells") or {}).get("count") if isinstance(result.get("failed_cells"), Mapping) else 0
        )
        body = f'<div class="cards">{"".join(cards)}</div>' if cards else ""
        if failed:
            count = _fig("/result/failed_cells/count", failed, str(failed))
            body += f'<p class="error">{count} cells failed to score (see failed_cells in result.json).</p>'
        for key in ("train", "benchmark"):
            step = result.get(key)
            if isinstance(step, Mapping) and "error" in step:
                body += f'<p class="error">The {key} step failed: {_esc(step["error"])}</p>'
        if "error" in self.docs.get("train", {}):
            body += f'<p class="error">The training failed: {_esc(self.docs["train"]["error"])}</p>'
        return body

    def _pick(self) -> str:
        arch, pointer = self._arch()
        if arch is None:
            return ""
        parts = [f"<p>Space <b>{_esc(self._space())}</b>. Genotype:</p>", _genotype_block(self._space(), arch)]
        members = (self.train or {}).get("members")
        if isinstance(members, list) and len(members) > 1:
            note = f"The network is an ensemble of {len(members)}; this cell is its first member"
            parts.append(f"<p>{note} (all are listed under Test figures).</p>")
        best = (self.result or {}).get("best")
        if isinstance(best, Mapping) and isinstance(best.get("scores"), Mapping):
            parts.append("<h3>Training-free scores of the pick</h3>")
            parts.append(self._scores_table(best["scores"], _pointer("result", "best", "scores")))
        if isinstance(best, Mapping) and isinstance(best.get("costs"), Mapping) and best["costs"]:
            parts.append("<h3>Costs of the pick</h3>" + self._costs_table(best["costs"]))
        if pointer:
            parts.append(
                f'<p class="muted">The genotype is read from {_esc(pointer.lstrip("/").replace("/", "."))}.</p>'
            )
        return "".join(parts)

    def _costs_table(self, costs: Mapping[str, Any]) -> str:
        budget = (self.result or {}).get("budget")
        limits = budget.get("limits") if isinstance(budget, Mapping) else None
        limits = limits if isinstance(limits, Mapping) else {}
        axis = budget.get("axis") if isinstance(budget, Mapping) else None
        rows = []
        for name, value in costs.items():
            shown = _fig(_pointer("result", "best", "costs", name), value, _number(value))
            limit = limits.get(name)
            limit_text = (
                "none" if limit is None else _fig(_pointer("result", "budget", "limits", name), limit, _number(limit))
            )
            rows.append([_esc(name + (" (the front's axis)" if name == axis else "")), shown, limit_text])
        return _table(["cost", "value", "limit"], rows)

    def _scores_table(self, scores: Mapping[str, Any], at: str) -> str:
        from fne.evolution.fitness.units import proxy_label

        rows = []
        for name, value in scores.items():
            try:
                label = proxy_label(name)
            except (KeyError, ValueError):
                label = name
            rows.append([_esc(label), _fig(f"{at}/{_pointer(name)[1:]}", value, _number(value))])
        return _table(["proxy", "value"], rows)

    def _test(self) -> str:
        train, at = self.train, self.train_at
        if not train or "error" in train:
            return ""
        parts = []
        recall = train.get("per_class_recall")
        matrix = train.get("confusion_matrix")
        count = len(recall) if isinstance(recall, (list, Mapping)) else len(matrix) if isinstance(matrix, list) else 0
        classes = self._classes(count)
        if isinstance(recall, (list, Mapping)) and recall:
            parts.append(self._recall_table(recall, matrix, classes, at))
        if isinstance(matrix, list) and matrix and all(isinstance(r, list) for r in matrix):
            parts.append(self._confusion(matrix, classes, at))
        members = train.get("members")
        if isinstance(members, list) and members:
            parts.append(self._members(members, at))
        if not parts and _finite(train.get("test_accuracy")):
            parts.append("<p>Only the test accuracy was recorded (see the summary).</p>")
        return "".join(parts)

    def _recall_table(self, recall: Any, matrix: Any, classes: list[str], at: str) -> str:
        items = list(recall.items()) if isinstance(recall, Mapping) else list(enumerate(recall))
        rows = []
        for i, (key, value) in enumerate(items):
            name = str(key) if isinstance(recall, Mapping) else classes[i] if i < len(classes) else str(i)
            row = [_esc(name), _fig(f"{at}/per_class_recall/{_pointer(key)[1:]}", value, _percent(value))]
            if isinstance(matrix, list) and i < len(matrix) and isinstance(matrix[i], list):
                row.append(_number(int(sum(matrix[i]))))
            rows.append(row)
        head = ["class", "recall"] + (["test images"] if isinstance(matrix, list) else [])
        return "<h3>Recall of each class</h3>" + _table(head, rows)

    def _confusion(self, matrix: list[list[Any]], classes: list[str], at: str) -> str:
        head = '<h3>Confusion matrix</h3><p class="muted">Rows: the true class; columns: the predicted class.</p>'
        if len(matrix) > MAX_TABLE_CLASSES:
            return head + self._confusion_image(matrix, classes)
        rows = []
        for i, row in enumerate(matrix):
            total = sum(v for v in row if _finite(v)) or 1
            cells = []
            for j, value in enumerate(row):
                share = value / total if _finite(value) else 0.0
                colour = f"rgba(31,95,168,{0.08 + 0.72 * share:.2f})" if value else "transparent"
                text = _fig(f"{at}/confusion_matrix/{i}/{j}", value, _number(value))
                cells.append(f'<span class="cm" style="background:{colour}">{text}</span>')
            rows.append([f"<b>{_esc(classes[i] if i < len(classes) else i)}</b>", *cells])
        names = [c if len(c) <= 12 else c[:11] + "…" for c in classes[: len(matrix)]]
        return head + _table(["true \\ predicted", *names], rows)

    def _confusion_image(self, matrix: list[list[Any]], classes: list[str]) -> str:
        values = np.array(matrix, dtype=float)
        shares = values / np.maximum(values.sum(axis=1, keepdims=True), 1.0)
        fig = Figure(figsize=(8, 7), layout="constrained")
        ax = fig.add_subplot(1, 1, 1)
        shown = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
        fig.colorbar(shown, ax=ax, label="share of the true class")
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        return _png(fig)

    def _members(self, members: list[Any], at: str) -> str:
        rows = []
        for i, member in enumerate(members):
            if not isinstance(member, Mapping):
                continue
            acc = member.get("test_accuracy")
            rows.append(
                [
                    str(i),
                    f"<code>{_esc(member.get('arch', ''))}</code>",
                    _esc(member.get("seed", "")),
                    _fig(f"{at}/members/{i}/test_accuracy", acc, _percent(acc)),
                ]
            )
        train = self.train or {}
        note = ""
        if _finite(train.get("test_accuracy")) and _finite(train.get("best_member_test_accuracy")):
            gain = train["test_accuracy"] - train["best_member_test_accuracy"]
            note = f"<p>The ensemble is {abs(gain):.2f} points {'above' if gain >= 0 else 'below'} its best member.</p>"
        failed = train.get("failed_members")
        if isinstance(failed, list) and failed:
            note += f'<p class="error">{len(failed)} member(s) failed to train and were left out.</p>'
        return (
            "<h3>Members of the ensemble</h3><p>Its output averages the members' class probabilities.</p>"
            + _table(["member", "cell", "seed", "test accuracy"], rows)
            + note
        )

    def _training_section(self) -> str:
        train, at = self.train, self.train_at
        if not train or "error" in train:
            return ""
        parts = []
        history, key = self._history(train)
        if history:
            parts.append(self._curves(history, train.get("best_epoch"), "Training and validation curves, per epoch."))
            parts.append(f'<p class="muted">Per-epoch records from {_esc(at.lstrip("/").replace("/", "."))}.{key}.</p>')
        members = train.get("members")
        if not history and isinstance(members, list):
            for i, member in enumerate(members):
                records, _ = self._history(member) if isinstance(member, Mapping) else ([], "")
                if records:
                    caption = f"Member {i}: training and validation curves, per epoch."
                    parts.append(self._curves(records, member.get("best_epoch"), caption))
        parts.append(self._kept(train, at))
        settings = train.get("settings")
        if isinstance(settings, Mapping) and settings:
            rows = [[_esc(k), _esc(json.dumps(v))] for k, v in settings.items()]
            parts.append("<h3>The recipe as this training resolved it</h3>" + _table(["setting", "value"], rows))
        recipe = self._config().get("training")
        if isinstance(recipe, Mapping) and recipe:
            rows = [[_esc(k), _esc(json.dumps(v))] for k, v in recipe.items()]
            parts.append("<h3>Recipe</h3>" + _table(["setting", "value"], rows))
        timing = (self.result or {}).get("timing")
        if isinstance(timing, Mapping):
            rows = [
                [_esc(k.removesuffix("_s")), _seconds(v)] for k, v in timing.items() if k.endswith("_s") and _finite(v)
            ]
            parts.append("<h3>Where the run's time went</h3>" + _table(["part", "seconds"], rows))
        return "".join(parts)

    def _kept(self, train: Mapping[str, Any], at: str) -> str:
        """Which epoch's weights were kept, and how they did on the held-out images."""
        if not isinstance(train.get("best_epoch"), int):
            return ""
        best = _fig(at + "/best_epoch", train["best_epoch"], str(train["best_epoch"]))
        text = f"The weights kept are those of epoch {best}"
        if isinstance(train.get("epochs_run"), int):
            text += f" of {_fig(at + '/epochs_run', train['epochs_run'], str(train['epochs_run']))} trained"
        held_out = [
            f"{label} {_fig(f'{at}/{k}', train[k], _percent(train[k]))}"
            for k, label in (("val_accuracy", "accuracy"), ("val_balanced_accuracy", "balanced accuracy"))
            if _finite(train.get(k))
        ]
        if held_out:
            text += " (on the held-out training images: " + ", ".join(held_out) + ")"
        if train.get("stopped_early") is True:
            text += "; the training stopped early, the held-out accuracy no longer improving"
        return f"<p>{text}.</p>"

    @staticmethod
    def _history(train: Mapping[str, Any]) -> tuple[list[dict[str, float]], str]:
        """Per-epoch records (``[{"epoch": 1, "train_loss": ...}, ...]``) from whichever key holds them."""
        for key in HISTORY_KEYS:
            value = train.get(key)
            records: list[dict[str, float]] = []
            if isinstance(value, list) and value and all(isinstance(r, Mapping) for r in value):
                records = [{k: float(v) for k, v in r.items() if _finite(v)} for r in value]
            elif isinstance(value, Mapping):
                series = {k: v for k, v in value.items() if isinstance(v, list)}
                length = max((len(v) for v in series.values()), default=0)
                records = [
                    {k: float(v[i]) for k, v in series.items() if i < len(v) and _finite(v[i])} for i in range(length)
                ]
            if any(len(r) > 1 or "epoch" not in r for r in records if r):
                return records, key
        return [], ""

    def _curves(self, history: list[dict[str, float]], best_epoch: Any, caption: str) -> str:
        epochs = [r.get("epoch", i + 1) for i, r in enumerate(history)]
        names = sorted({k for r in history for k in r if k != "epoch"})
        groups: dict[str, list[str]] = {"loss": [], "accuracy": [], "learning rate": [], "seconds": [], "other": []}
        for name in names:
            low = name.lower()
            if "loss" in low:
                groups["loss"].append(name)
            elif any(w in low for w in ("acc", "recall", "auc", "f1")):
                groups["accuracy"].append(name)
            elif low in ("lr", "learning_rate") or low.endswith("_lr"):
                groups["learning rate"].append(name)
            elif "second" in low:
                groups["seconds"].append(name)
            else:
                groups["other"].append(name)
        panels = [(title, keys) for title, keys in groups.items() if keys]
        if not panels:
            return ""
        fig = Figure(figsize=(4.6 * len(panels), 3.6), layout="constrained")
        for k, (title, keys) in enumerate(panels):
            ax = fig.add_subplot(1, len(panels), k + 1)
            for name in keys:
                xs = [e for e, r in zip(epochs, history, strict=True) if name in r]
                ys = [r[name] for r in history if name in r]
                ax.plot(xs, ys, marker="o", ms=3, label=name)
            if isinstance(best_epoch, int):
                ax.axvline(best_epoch, color="0.5", ls=":", lw=1, label="kept epoch")
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_title(title)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        return f"<figure>{_png(fig)}<figcaption>{_esc(caption)}</figcaption></figure>"

    def _front(self) -> str:
        result = self.result or {}
        front = result.get("front")
        if not isinstance(front, list) or not front:
            return self._plots(FRONT_PLOTS)
        entries = [e for e in front if isinstance(e, Mapping)]
        proxies = [str(p) for p in result.get("proxies") or []] or list((entries[0].get("scores") or {}).keys())
        costs = sorted({str(k) for e in entries for k in (e.get("costs") or {})})
        has_quality = any("quality" in e for e in entries)
        best = (result.get("best") or {}).get("arch")
        rows, classes = [], []
        for i, entry in enumerate(entries):
            scores, cost = entry.get("scores") or {}, entry.get("costs") or {}
            mark = " <b>(pick)</b>" if entry.get("arch") == best else ""
            row = [str(i + 1), f"<code>{_esc(entry.get('arch', ''))}</code>{mark}"]
            row += [
                _fig(_pointer("result", "front", i, "scores", p), scores.get(p), _number(scores.get(p)))
                for p in proxies
            ]
            row += [_fig(_pointer("result", "front", i, "costs", c), cost.get(c), _number(cost.get(c))) for c in costs]
            if has_quality:
                row.append(
                    _fig(_pointer("result", "front", i, "quality"), entry.get("quality"), _number(entry.get("quality")))
                )
            rows.append(row)
            classes.append("pick" if mark else "")
        head = ["#", "cell", *proxies, *(f"{c} (cost)" for c in costs)] + (["quality"] if has_quality else [])
        cells = f"{len(entries)} cell{'s' if len(entries) != 1 else ''}"
        budget = result.get("budget")
        axis = f" in {budget['axis']}" if isinstance(budget, Mapping) and budget.get("axis") else ""
        what = (
            f"The quality-cost front: {cells}, each cheaper{axis} than every cell ahead of it"
            if costs
            else f"{cells} that no other cell beats on every proxy"
        )
        intro = f"<p>{_esc(what)}; best pick first, the pick highlighted."
        if has_quality:
            intro += " Quality: the share of the evaluated cells that the ranking puts below the cell."
        intro += "</p>"
        return intro + _table(head, rows, classes) + self._plots(FRONT_PLOTS)

    def _progress(self) -> str:
        history = (self.result or {}).get("history")
        parts = []
        if isinstance(history, list) and history:
            rows, previous = [], None
            for i, record in enumerate(history):
                if not isinstance(record, Mapping):
                    continue
                pick = (record.get("best") or {}).get("arch", "")
                tournament = record.get("tournament")
                note = ""
                if isinstance(tournament, Mapping):
                    kind = "final tournament" if tournament.get("final") else "tournament"
                    note = f"{kind} of {len(tournament.get('candidates') or [])}"
                row = [
                    _fig(
                        _pointer("result", "history", i, "generation"),
                        record.get("generation"),
                        _number(record.get("generation")),
                    ),
                    _fig(
                        _pointer("result", "history", i, "evaluations"),
                        record.get("evaluations"),
                        _number(record.get("evaluations")),
                    ),
                    _esc(_number(record.get("new"))),
                    _fig(
                        _pointer("result", "history", i, "front_size"),
                        record.get("front_size"),
                        _number(record.get("front_size")),
                    ),
                    f"<code>{_esc(pick)}</code>"
                    + (" <b>(new pick)</b>" if previous is not None and pick != previous else ""),
                    _esc(note),
                ]
                rows.append(row)
                previous = pick
            parts.append(_table(["generation", "cells evaluated", "new", "front size", "pick", "tournament"], rows))
        parts.append(
            self._plots(tuple(p.name for p in sorted((self.out / PLOTS).glob("*.png")) if p.name not in FRONT_PLOTS))
        )
        return "".join(parts)

    def _plots(self, names: Sequence[str]) -> str:
        figures = []
        for name in names:
            path = self.out / PLOTS / name
            if path.is_file():
                caption = PLOT_CAPTIONS.get(name, name)
                caption = f"{_esc(caption)} ({_esc(f'{PLOTS}/{name}')})"
                figures.append(f"<figure>{_img(path.read_bytes(), name)}<figcaption>{caption}</figcaption></figure>")
        return "".join(figures)

    def _commands(self) -> str:
        config = self._config()
        out = str(config.get("out") or self.out)
        model = (self.out / "model.pt").is_file()
        if self.result is not None:
            commands = _search_commands(self.result, out, model)
        elif self.train is not None:
            commands = _train_commands(self.train, out, model)
        else:
            commands = []
        return "".join(f"<h3>{_esc(label)}</h3><pre><code>{_esc(text)}</code></pre>" for label, text in commands)

    def _files(self) -> str:
        rows = []
        for path in sorted(self.out.rglob("*")):
            if path.is_file() and not path.name.startswith(".") and path.name != REPORT_HTML:
                rows.append([f"<code>{_esc(path.relative_to(self.out))}</code>", _esc(_size(path.stat().st_size))])
        return _table(["file", "size"], rows) if rows else ""


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]  # a size shown in larger units
    return str(n)
