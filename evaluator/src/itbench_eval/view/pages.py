"""The view's pages, rendered on the server as HTML (every value escaped)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from itbench_eval.report import AgentSummary, Comparison
from itbench_eval.results import ERROR_CLASSES, RunResult
from itbench_eval.view import plots
from itbench_eval.view.data import (
    FOLD_CHARS,
    FOLD_LINES,
    Loaded,
    ResultsDir,
    Step,
    read_jsonl,
    read_text,
    timeline,
)

__all__ = [
    "RUN_FILES",
    "colour",
    "compare",
    "e",
    "file_url",
    "fold",
    "leaderboard",
    "matrix",
    "money",
    "number",
    "outcome_badges",
    "page",
    "percent",
    "read_jsonl_object",
    "run_page",
    "run_url",
    "running_page",
    "score_html",
    "score_text",
]

RUN_FILES = (
    "transcript.jsonl",
    "audit.jsonl",
    "model_calls.jsonl",
    "agent.stdout",
    "agent.stderr",
    "server.stderr",
    "submission.json",
    "score.json",
)


def e(value: object) -> str:
    return escape(str(value), quote=True)


# One score format everywhere: a percent with one decimal, then its interval.
def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def score_text(value: float, ci: tuple[float, float] | None = None) -> str:
    if ci is None:
        return percent(value)
    return f"{percent(value)} [{percent(ci[0])}, {percent(ci[1])}]"


def score_html(value: float, ci: tuple[float, float] | None = None) -> str:
    text = percent(value)
    if ci is None:
        return f'<span class="score">{e(text)}</span>'
    return (
        f'<span class="score">{e(text)}</span> '
        f'<span class="ci">[{e(percent(ci[0]))}, {e(percent(ci[1]))}]</span>'
    )


def _signed(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:+.1f}%"


def money(value: float | None) -> str:
    return "—" if value is None else f"${value:.4f}"


def number(value: float | int | None, template: str = "{}") -> str:
    return "—" if value is None else template.format(value)


def colour(score: float) -> str:
    """A cell's background: red at 0, amber at 0.5, green at 1."""
    hue = round(120 * max(0.0, min(1.0, score)))
    return f"hsl({hue} 65% 82%)"


def run_url(directory: ResultsDir, row: RunResult) -> str:
    return f"/run/{directory.index}/{quote(row.task, safe='')}/{quote(row.agent, safe='')}/{row.repeat}"


def file_url(directory: ResultsDir, relative: str) -> str:
    return f"/file/{directory.index}/{quote(relative)}"


def page(title: str, body: str, *, active: str, stamp: str, dirs: Sequence[ResultsDir]) -> str:
    links = [("/", "Leaderboard", "leaderboard"), ("/matrix", "Matrix", "matrix")]
    if len(dirs) > 1:
        links.append(("/compare", "Compare", "compare"))
    nav = "".join(
        f'<a href="{href}"{" aria-current=page" if key == active else ""}>{e(text)}</a>'
        for href, text, key in links
    )
    sources = ", ".join(e(d.label) for d in dirs)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)} · itbench-eval view</title>
<link rel="stylesheet" href="/static/view.css">
<script src="/static/view.js" defer></script>
</head><body data-stamp="{e(stamp)}">
<header><nav>{nav}</nav>
<label class="live"><input type="checkbox" id="live" checked> live</label>
<span class="sources">{sources}</span></header>
<main><h1>{e(title)}</h1>
{body}
</main></body></html>"""


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], *, cls: str = "", test_id: str = "") -> str:
    header = "".join(f"<th>{cell}</th>" for cell in head)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    attribute = f' data-testid="{e(test_id)}"' if test_id else ""
    return (
        f'<div class="scroll"><table class="{e(cls)}"{attribute}><thead><tr>{header}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


_CLASS_ORDER = {name: index for index, name in enumerate(ERROR_CLASSES)}


def outcome_badges(classes: dict[str, int]) -> str:
    return " ".join(
        f'<span class="badge {e(name)}">{e(name)} {count}</span>'
        for name, count in sorted(
            classes.items(), key=lambda item: _CLASS_ORDER.get(item[0], len(_CLASS_ORDER))
        )
        if count
    )


def _notes(loaded: Loaded, directory: ResultsDir) -> str:
    if not loaded.notes:
        return ""
    items = "".join(f"<li>{e(note)}</li>" for note in loaded.notes)
    return f'<details class="notes"><summary>{e(directory.label)}: notes</summary><ul>{items}</ul></details>'


def _agent_label(directory: ResultsDir, agent: str, dirs: Sequence[ResultsDir]) -> str:
    return agent if len(dirs) == 1 or directory.label == agent else f"{agent} ({directory.label})"


# ---------------------------------------------------------------------------------------------
# Leaderboard


def leaderboard(dirs: Sequence[ResultsDir]) -> str:
    entries: list[tuple[ResultsDir, AgentSummary]] = []
    notes = ""
    for directory in dirs:
        loaded = directory.load()
        entries += [(directory, agent) for agent in loaded.summary.agents]
        notes += _notes(loaded, directory)
    if not entries:
        return (
            '<p class="empty">No finished run yet; this page follows results.jsonl as it grows.</p>' + notes
        )
    entries.sort(key=lambda entry: (-entry[1].score, entry[1].agent))
    rows = []
    for directory, agent in entries:
        pass_k = " ".join(
            f'<span class="nowrap">{e(f"pass@{p.k} {score_text(p.pass_at_k, p.pass_at_k_ci)}")}</span>'
            for p in agent.pass_k
            if p.k > 1
        )
        matrix = "/matrix?" + urlencode({"d": directory.index, "agent": agent.agent})
        rows.append(
            [
                f'<a href="{e(matrix)}">{e(_agent_label(directory, agent.agent, dirs))}</a>',
                score_html(agent.score, agent.score_ci),
                e(percent(agent.pass_at_1)) + (f'<div class="sub">{pass_k}</div>' if pass_k else ""),
                e(money(agent.cost_per_task_usd)),
                e(f"{agent.mean_turns:.1f}"),
                f"{agent.tasks_count} / {agent.runs}",
                outcome_badges(agent.error_classes),
            ]
        )
    table = _table(
        ["agent", "score [95% interval]", "pass@1", "cost / task", "turns", "tasks / runs", "outcomes"],
        rows,
        cls="leaderboard",
        test_id="leaderboard",
    )
    figure = plots.score_bars(
        [_agent_label(d, a.agent, dirs) for d, a in entries],
        [a.score for _, a in entries],
        [a.score_ci for _, a in entries],
    )
    return table + f'<figure class="plot">{figure}</figure>' + notes


# ---------------------------------------------------------------------------------------------
# Matrix


def _select(name: str, label: str, options: Sequence[tuple[str, str]], chosen: str) -> str:
    items = "".join(
        f'<option value="{e(value)}"{" selected" if value == chosen else ""}>{e(text)}</option>'
        for value, text in [("", "all"), *options]
    )
    return (
        f'<label>{e(label)} <select name="{e(name)}" data-testid="filter-{e(name)}">{items}</select></label>'
    )


def matrix(dirs: Sequence[ResultsDir], query: dict[str, str]) -> str:
    chosen_dir = query.get("d", "")
    task_filter, fault_filter = query.get("task", ""), query.get("fault", "")
    outcome_filter, agent_filter = query.get("outcome", ""), query.get("agent", "")
    shown = [d for d in dirs if chosen_dir in ("", str(d.index))]
    loaded = {d.index: d.load() for d in dirs}
    all_tasks = sorted({r.task for lo in loaded.values() for r in lo.rows}, key=_order)
    faults = {task: f for lo in loaded.values() for task, f in lo.fault_types.items()}
    agents = sorted({r.agent for lo in loaded.values() for r in lo.rows})
    form = (
        '<form class="filters" method="get" action="/matrix">'
        + (
            _select("d", "results", [(str(d.index), d.label) for d in dirs], chosen_dir)
            if len(dirs) > 1
            else ""
        )
        + _select("agent", "agent", [(a, a) for a in agents], agent_filter)
        + _select("task", "task", [(t, t) for t in all_tasks], task_filter)
        + _select("fault", "fault type", [(f, f) for f in sorted(set(faults.values()))], fault_filter)
        + _select("outcome", "outcome", [(c, c) for c in ERROR_CLASSES], outcome_filter)
        + '<noscript><button type="submit">filter</button></noscript></form>'
    )
    columns: list[tuple[ResultsDir, str, int]] = []
    for directory in shown:
        rows = loaded[directory.index].rows
        for agent in sorted({r.agent for r in rows}):
            if agent_filter and agent != agent_filter:
                continue
            repeats = sorted({r.repeat for r in rows if r.agent == agent})
            columns += [(directory, agent, repeat) for repeat in repeats]

    def wanted(row: RunResult) -> bool:
        return not outcome_filter or row.error_class == outcome_filter

    body_rows = []
    for task in all_tasks:
        if task_filter and task != task_filter:
            continue
        if fault_filter and faults.get(task) != fault_filter:
            continue
        cells = []
        any_shown = False
        for directory, agent, repeat in columns:
            row = loaded[directory.index].row(task, agent, repeat)
            if row is None or not wanted(row):
                cells.append('<span class="none">·</span>')
                continue
            any_shown = True
            outcome = "" if row.error_class == "ok" else f'<div class="sub">{e(row.error_class)}</div>'
            cells.append(
                f'<a class="cell" data-testid="cell" href="{e(run_url(directory, row))}" '
                f'style="background:{colour(row.score)}" title="{e(task)} · {e(agent)} · r{repeat}">'
                f"{e(percent(row.score))}{outcome}</a>"
            )
        if not any_shown:
            continue
        fault = faults.get(task)
        body_rows.append(
            [
                f'<span class="task">{e(task)}</span>'
                + (f'<div class="sub">{e(fault)}</div>' if fault else ""),
                *cells,
            ]
        )
    head = ["task"] + [
        f"{e(_agent_label(d, agent, shown))}<div class=sub>r{repeat}</div>" for d, agent, repeat in columns
    ]
    running = _running(shown)
    if not body_rows:
        return form + '<p class="empty" data-testid="no-runs">No run matches the filters.</p>' + running
    return form + _table(head, body_rows, cls="matrix", test_id="matrix") + running


def _running(dirs: Sequence[ResultsDir]) -> str:
    """The runs without a row yet, each linked to its trajectory so far."""
    items = []
    for directory in dirs:
        for relative, events in directory.running(directory.load().rows):
            url = f"/running/{directory.index}/{quote(relative)}"
            items.append(
                f'<li><a href="{e(url)}">{e(relative)}</a> <span class="sub">{events} events</span></li>'
            )
    if not items:
        return ""
    return (
        f'<section><h2>Running (no result yet)</h2><ul data-testid="running">{"".join(items)}</ul></section>'
    )


def running_page(directory: ResultsDir, path: Path) -> str:
    """The trajectory so far of a run without a row."""
    steps = timeline(read_jsonl(path / "transcript.jsonl"))
    items = "".join(_step_html(step, n) for n, step in enumerate(steps, 1))
    return (
        f'<p class="crumbs">{e(directory.label)} · no result yet; this page shows the transcript as '
        f"it was when loaded</p>"
        f'<section><h2>Trajectory so far</h2><ol class="timeline" data-testid="timeline">{items}</ol></section>'
    )


def _order(name: str) -> list[object]:
    import re

    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


# ---------------------------------------------------------------------------------------------
# One run


def fold(text: str, *, cls: str = "out") -> str:
    """``text`` in a block that wraps at word boundaries, folded when long."""
    if not text:
        return ""
    lines = text.count("\n") + 1
    block = f'<pre class="{e(cls)}">{e(text)}</pre>'
    if len(text) <= FOLD_CHARS and lines <= FOLD_LINES:
        return block
    return f'<details class="fold"><summary>{lines} lines, {len(text)} characters</summary>{block}</details>'


def _step_html(step: Step, number: int) -> str:
    classes = f"step {step.kind}" + (" error" if step.error else "")
    meta = []
    if step.t is not None:
        meta.append(f"t={step.t:.2f}s")
    if step.latency_s is not None:
        meta.append(f"latency {step.latency_s:.2f}s")
    if step.error:
        meta.append("error")
    facts = " · ".join(f"{e(k)} {e(v)}" for k, v in step.facts)
    parts = [
        f'<div class="head"><span class="n">{number}</span> <b>{e(step.title)}</b> '
        f'<span class="meta">{e(" · ".join(meta))}</span></div>'
    ]
    if facts:
        parts.append(f'<div class="facts">{facts}</div>')
    if step.text:
        parts.append(fold(step.text, cls="text"))
    if step.arguments:
        parts.append('<div class="label">arguments</div>' + fold(step.arguments, cls="args"))
    if step.output:
        parts.append('<div class="label">output</div>' + fold(step.output))
    return f'<li class="{e(classes)}" data-testid="step">{"".join(parts)}</li>'


def _facts(pairs: Sequence[tuple[str, str]]) -> str:
    return '<dl class="facts">' + "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in pairs) + "</dl>"


def _submission(run_path: Path | None) -> str:
    if run_path is None or not (run_path / "submission.json").is_file():
        return '<p class="empty">No submission.json.</p>'
    text = read_text(run_path / "submission.json")
    try:
        data: Any = json.loads(text)
    except ValueError:
        return fold(text)
    factors = data.get("contributing_factors") if isinstance(data, dict) else None
    if not isinstance(factors, list):
        return fold(json.dumps(data, indent=2, ensure_ascii=False))
    items = []
    for factor in factors:
        if not isinstance(factor, dict):
            continue
        items.append(
            f"<li><code>{e(factor.get('name', ''))}</code>"
            + (f"<p>{e(factor.get('reasoning'))}</p>" if factor.get("reasoning") else "")
            + (f'<p class="sub">evidence: {e(factor.get("evidence"))}</p>' if factor.get("evidence") else "")
            + "</li>"
        )
    raw = f'<details class="fold"><summary>submission.json</summary>{fold(text)}</details>'
    return f'<ol class="names">{"".join(items)}</ol>{raw}'


def _answer_key(loaded: Loaded, row: RunResult, run_path: Path | None) -> str:
    truth = loaded.ground_truths.get(row.task)
    if truth is not None:
        items = []
        for set_id in truth.root_cause_set_ids:
            names = truth.alias_sets.get(set_id, ())
            groups = [g for g in truth.root_cause_groups if truth.set_ids.get(g.id) == set_id]
            described = ", ".join(
                f"{g.namespace or '*'}/{g.kind}/{g.name or ' | '.join(g.filters)}" for g in groups
            )
            items.append(
                f"<li><code>{e(set_id)}</code>: {e(described)}"
                + (f'<div class="sub">aliases: {e(", ".join(names))}</div>' if names else "")
                + "</li>"
            )
        fault = loaded.fault_types.get(row.task)
        return (
            f'<p class="sub">fault type: {e(fault)}</p>' if fault else ""
        ) + f'<ol class="names">{"".join(items)}</ol>'
    score = read_jsonl_object(run_path / "score.json") if run_path else None
    sets = score.get("root_cause_sets") if score else None
    if isinstance(sets, list):
        items = "".join(f"<li>{e(', '.join(map(str, s)))}</li>" for s in sets if isinstance(s, list))
        return f'<p class="sub">root-cause sets from score.json</p><ol class="names">{items}</ol>'
    return '<p class="empty">The answer key is not available (give the scenarios the runs used).</p>'


def read_jsonl_object(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(read_text(path))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def run_page(directory: ResultsDir, row: RunResult) -> str:
    loaded = directory.load()
    detail = loaded.detail(row)
    run_path = directory.run_path(row)
    facts = [
        ("score", percent(row.score)),
        ("outcome", row.error_class),
        ("tp / fp / fn", f"{row.tp} / {row.fp} / {row.fn}"),
        ("turns", str(row.turns)),
        ("tool calls", str(row.tool_calls)),
        ("wall time", f"{row.wall_time_s:.1f} s"),
        ("cost", money(row.cost_usd)),
        ("model requests", number(row.model_requests)),
        ("tokens in", number(row.tokens_in, "{:,}")),
        ("tokens out", number(row.tokens_out, "{:,}")),
        ("tokens cached", number(row.tokens_cached, "{:,}")),
        ("tokens reasoning", number(row.tokens_reasoning, "{:,}")),
        ("forced final answer", "yes" if row.forced_final_answer else "no"),
        ("seed", str(row.seed)),
    ]
    if detail is not None:
        facts[3:3] = [("precision", percent(detail.precision)), ("recall", percent(detail.recall))]
    error = f'<p class="error-text">{e(row.error)}</p>' if row.error else ""
    verdicts = ""
    if detail is not None and detail.names:
        verdicts = _table(
            ["name", "verdict", "counted", "group", "why"],
            (
                [
                    f"<code>{e(v.name)}</code>",
                    f'<span class="badge {e(v.counted_as)}">{e(v.outcome)}</span>',
                    e(v.counted_as),
                    e(v.group_id or "—"),
                    e(v.why),
                ]
                for v in detail.names
            ),
            cls="verdicts",
            test_id="verdicts",
        )
    missed = ""
    if detail is not None and detail.missed_root_causes:
        missed = (
            "<p>missed: " + "; ".join(e(", ".join(group)) for group in detail.missed_root_causes) + "</p>"
        )
    process = ""
    if detail is not None and detail.process is not None:
        metrics = detail.process.model_dump()
        tools = metrics.pop("tools_used", {}) or {}
        pairs = [(k.replace("_", " "), _plain(v)) for k, v in metrics.items()]
        pairs.append(("tools used", ", ".join(f"{k} {v}" for k, v in tools.items()) or "—"))
        process = "<section><h2>Process</h2>" + _facts(pairs) + "</section>"
    if detail is not None and detail.ibm:
        ibm = _facts([(k.replace("_", " "), percent(v)) for k, v in detail.ibm.items()])
        process += f"<section><h2>IBM's metrics</h2>{ibm}</section>"
    steps: list[Step] = []
    if run_path is not None and (run_path / "transcript.jsonl").is_file():
        steps = timeline(read_jsonl(run_path / "transcript.jsonl"))
    elif run_path is not None and (run_path / "agent.stdout").is_file():
        steps = [Step("note", "agent.stdout", text=read_text(run_path / "agent.stdout"))]
    trajectory = (
        '<ol class="timeline" data-testid="timeline">'
        + "".join(_step_html(step, n) for n, step in enumerate(steps, 1))
        + "</ol>"
        if steps
        else '<p class="empty">No transcript (yet).</p>'
    )
    files = ""
    if run_path is not None:
        present = [name for name in RUN_FILES if (run_path / name).is_file()]
        relative = run_path.relative_to(directory.path).as_posix()
        files = " · ".join(
            f'<a href="{e(file_url(directory, relative + "/" + n))}">{e(n)}</a>' for n in present
        )
    return f"""<p class="crumbs"><a href="/matrix?{e(urlencode({"d": directory.index, "task": row.task}))}">{e(row.task)}</a>
 · {e(row.agent)} · repeat {row.repeat} · {e(directory.label)}</p>
{error}
<div class="grid">
<section><h2>Outcome</h2>{_facts(facts)}</section>
<section><h2>Submission</h2>{_submission(run_path)}</section>
<section><h2>Answer key</h2>{_answer_key(loaded, row, run_path)}</section>
</div>
<section><h2>Verdicts</h2>{verdicts or '<p class="empty">No name was submitted.</p>'}{missed}</section>
<div class="grid">{process}</div>
<section><h2>Trajectory</h2>{trajectory}</section>
<p class="files">{files}</p>"""


def _plain(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "—"
    return str(value)


# ---------------------------------------------------------------------------------------------
# Two results directories side by side


def compare(
    a: ResultsDir, b: ResultsDir, dirs: Sequence[ResultsDir], comparison: Comparison | None, why: str
) -> str:
    choose = "".join(
        f'<label>{side} <select name="{side.lower()}">'
        + "".join(
            f'<option value="{d.index}"{" selected" if d.index == chosen.index else ""}>{e(d.label)}</option>'
            for d in dirs
        )
        + "</select></label>"
        for side, chosen in (("A", a), ("B", b))
    )
    form = f'<form class="filters" method="get" action="/compare">{choose}<noscript><button>compare</button></noscript></form>'
    loaded_a, loaded_b = a.load(), b.load()
    tasks = sorted({r.task for r in loaded_a.rows} | {r.task for r in loaded_b.rows}, key=_order)

    def side(directory: ResultsDir, loaded: Loaded, task: str) -> str:
        rows = [r for r in loaded.rows if r.task == task]
        if not rows:
            return '<span class="none">not run</span>'
        cells = "".join(
            f'<a class="cell" href="{e(run_url(directory, r))}" style="background:{colour(r.score)}" '
            f'title="{e(r.agent)} r{r.repeat}">{e(percent(r.score))}</a>'
            for r in sorted(rows, key=lambda r: (r.agent, r.repeat))
        )
        summaries = [t for agent in loaded.summary.agents for t in agent.tasks if t.task == task]
        mean = " ".join(score_html(t.mean_score, t.score_ci) for t in summaries)
        return f'<div>{mean}</div><div class="cells">{cells}</div>'

    deltas = {t.task: t.delta for t in comparison.tasks} if comparison else {}
    rows = [
        [
            e(task),
            side(a, loaded_a, task),
            side(b, loaded_b, task),
            _signed(deltas.get(task)),
        ]
        for task in tasks
    ]
    heading = []
    for label, directory, loaded in (("A", a, loaded_a), ("B", b, loaded_b)):
        agents = "; ".join(f"{x.agent} {score_text(x.score, x.score_ci)}" for x in loaded.summary.agents)
        heading.append(f"<li><b>{label}</b>: {e(directory.label)}: {e(agents or 'no run yet')}</li>")
    verdict = ""
    if comparison is not None and comparison.paired is not None:
        paired = comparison.paired
        verdict = (
            f"<p>B − A over {paired.tasks} shared task(s): {e(f'{100 * paired.difference:+.1f}%')} "
            f"[{e(f'{100 * paired.difference_ci[0]:+.1f}%')}, {e(f'{100 * paired.difference_ci[1]:+.1f}%')}], "
            f"p = {paired.p_value:.3f} ({e(paired.method)}): {e(paired.verdict)}</p>"
        )
    differences = ""
    if comparison is not None and comparison.settings_differences:
        differences = (
            "<p class=error-text>different conditions: "
            + e("; ".join(comparison.settings_differences))
            + "</p>"
        )
    if why:
        differences += f'<p class="sub">{e(why)}</p>'
    table = _table(
        ["task", f"A: {e(a.label)}", f"B: {e(b.label)}", "B − A"], rows, cls="compare", test_id="compare"
    )
    return form + f'<ul class="plain">{"".join(heading)}</ul>' + verdict + differences + table
