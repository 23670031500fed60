"""Static analysis of Jinja chat templates for sandbox escapes: parse to an AST, never render."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension

from aisec.analyzers.base import AnalysisContext
from aisec.analyzers.jinja_facts import TEMPLATE_FACTS as TEMPLATE_FACTS  # re-exported for gguf
from aisec.model import ArtifactKind, Fact, Location
from aisec.source import Source

MAX_TEMPLATE_CHARS = 1_000_000
"""Longer templates are only checked with the regex fallback (and reported as unparsed)."""

_DUNDER = re.compile(r"__[A-Za-z0-9_]+__")
DANGEROUS_CALLS = frozenset({
    "popen", "system", "spawn", "spawnv", "execv", "execl", "check_output", "getoutput", "run", "call",
    "import_module", "load_module", "exec_module", "eval", "exec", "compile", "open", "read_text", "write_text",
    "mro",
})
"""Attribute names flagged when called (``x.popen(...)``): as plain data (``ns.system``) they are common words."""
DANGEROUS_ATTRS = frozenset({"f_globals", "f_builtins", "f_locals", "gi_frame", "tb_frame", "func_globals",
                             "environ"})
"""Attribute names flagged on any access: frame and namespace internals."""
DANGEROUS_NAMES = frozenset({
    "os", "sys", "subprocess", "builtins", "eval", "exec", "compile", "importlib", "open", "getattr", "setattr",
    "globals", "locals", "vars", "__import__",
})
GADGET_GLOBALS = frozenset({"cycler", "joiner", "namespace", "lipsum", "range", "dict", "self", "loop",
                            "caller", "varargs", "kwargs"})
"""Names whose attributes lead to Python internals when combined with a dunder access."""
_INCLUDES = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)
_FALLBACK = (
    ("escape", re.compile(r"__(?:class|mro|base|bases|subclasses|globals|builtins|init|import|dict|getattribute|"
                          r"code|func|self|reduce|reduce_ex)__")),
    ("escape", re.compile(r"\b(?:popen|subprocess|__import__|import_module|os\.system)\b")),
    ("obfuscation", re.compile(r"\|\s*attr\b")),
    ("obfuscation", re.compile(r"\\x5[fF]|\\u005[fF]|\\137")),
    ("obfuscation", re.compile(r"['\"]_[^'\"]*['\"]\s*[~+]\s*['\"]")),
)


@dataclass(frozen=True, kw_only=True)
class TemplateIssue:
    """One finding about a template: its kind (escape, obfuscation, suspicious, parse_error) and evidence."""

    kind: str
    indicator: str
    line: int | None = None


class _GenerationTag(Extension):
    """Hugging Face's ``{% generation %}`` block (assistant-mask tracking): parsed, body kept for analysis."""

    tags = {"generation"}

    def parse(self, parser: Any) -> nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.Scope(body, lineno=lineno)


def _environment() -> jinja2.Environment:
    # Only used to lex and parse; nothing is ever rendered or compiled to Python.
    return jinja2.Environment(extensions=["jinja2.ext.loopcontrols", "jinja2.ext.do", _GenerationTag],
                              autoescape=False)  # noqa: S701 - never renders


def analyze_template(text: str) -> list[TemplateIssue]:
    """Every escape/obfuscation indicator in ``text``; a template that does not parse gets a regex pass."""
    if len(text) > MAX_TEMPLATE_CHARS:
        return [TemplateIssue(kind="parse_error", indicator=f"template longer than {MAX_TEMPLATE_CHARS} characters"),
                *_regex_issues(text)]
    try:
        tree = _environment().parse(text)
    except jinja2.TemplateSyntaxError as exc:
        return [TemplateIssue(kind="parse_error", indicator=f"syntax error: {exc.message}", line=exc.lineno),
                *_regex_issues(text)]
    except RecursionError:
        return [TemplateIssue(kind="parse_error", indicator="template nested too deeply to parse"),
                *_regex_issues(text)]
    issues: list[TemplateIssue] = []
    try:
        _walk(tree, issues, 0)
    except RecursionError:
        return [TemplateIssue(kind="parse_error", indicator="template nested too deeply to analyze"),
                *_regex_issues(text)]
    issues.extend(_token_issues(text))
    return _dedupe(issues)


_ESCAPED_UNDERSCORE = re.compile(r"\\(?:x5[fF]|u005[fF]|U0000005[fF]|137|N\{LOW LINE\})")


def _token_issues(text: str) -> list[TemplateIssue]:
    """String literals that spell underscores with escapes: the parsed value hides how it was written."""
    issues = []
    for lineno, token_type, raw in _environment().lex(text):
        if token_type == "string" and _ESCAPED_UNDERSCORE.search(raw):  # noqa: S105 - a token type, not a secret
            issues.append(TemplateIssue(kind="obfuscation", indicator="underscore written as an escape sequence",
                                        line=lineno))
    return issues


def _dedupe(issues: list[TemplateIssue]) -> list[TemplateIssue]:
    seen: dict[tuple[str, str, int | None], TemplateIssue] = {}
    for issue in issues:
        seen.setdefault((issue.kind, issue.indicator, issue.line), issue)
    return sorted(seen.values(), key=lambda i: (i.line or 0, i.kind, i.indicator))


def _regex_issues(text: str) -> list[TemplateIssue]:
    issues = []
    for kind, pattern in _FALLBACK:
        for match in pattern.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            issues.append(TemplateIssue(kind=kind, indicator=f"pattern {match.group(0)!r}", line=line))
    return _dedupe(issues)


def _walk(node: nodes.Node, issues: list[TemplateIssue], depth: int) -> None:
    if depth > 500:
        issues.append(TemplateIssue(kind="parse_error", indicator="expression nested too deeply",
                                    line=node.lineno))
        return
    _inspect(node, issues)
    for child in node.iter_child_nodes():
        _walk(child, issues, depth + 1)


def _base_name(node: nodes.Node) -> str | None:
    current: nodes.Node | None = node
    while isinstance(current, (nodes.Getattr, nodes.Getitem, nodes.Call, nodes.Filter)):
        current = current.node
    return current.name if isinstance(current, nodes.Name) else None


def _inspect(node: nodes.Node, issues: list[TemplateIssue]) -> None:
    line = node.lineno
    if isinstance(node, _INCLUDES):
        issues.append(TemplateIssue(kind="suspicious", indicator=f"{type(node).__name__.lower()} loads another "
                                    "template", line=line))
    elif isinstance(node, nodes.Getattr):
        _attribute(node.attr, node, issues, computed=False)
    elif isinstance(node, nodes.Getitem):
        key = _fold(node.arg)
        if isinstance(key, str):
            _attribute(key, node, issues, computed=not isinstance(node.arg, nodes.Const))
    elif isinstance(node, nodes.Filter) and node.name == "attr":
        arg = _fold(node.args[0]) if node.args else None
        if isinstance(arg, str):
            if not isinstance(node.args[0], nodes.Const):
                issues.append(TemplateIssue(kind="obfuscation", indicator=f"|attr with a built name {arg!r}",
                                            line=line))
            _attribute(arg, node, issues, computed=False)
        else:
            issues.append(TemplateIssue(kind="obfuscation", indicator="|attr with a computed attribute name",
                                        line=line))
    elif isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr) and node.node.attr in DANGEROUS_CALLS:
        issues.append(TemplateIssue(kind="escape", indicator=f"call path through .{node.node.attr}()", line=line))
    elif isinstance(node, nodes.Name) and node.ctx == "load" and node.name in DANGEROUS_NAMES:
        issues.append(TemplateIssue(kind="escape", indicator=f"reference to {node.name!r}", line=line))
    elif isinstance(node, nodes.Const) and isinstance(node.value, str) and _DUNDER.search(node.value):
        issues.append(TemplateIssue(kind="escape", indicator=f"string {_DUNDER.search(node.value).group(0)!r}"  # type: ignore[union-attr]
                                    , line=line))
    if isinstance(node, (nodes.Concat, nodes.Add, nodes.Mod, nodes.Filter, nodes.Call)):
        _built_string(node, issues)


def _attribute(name: str, node: nodes.Node, issues: list[TemplateIssue], *, computed: bool) -> None:
    line = node.lineno
    base = _base_name(node)
    if _DUNDER.fullmatch(name) or name.startswith("_"):
        via = f"{base}." if base in GADGET_GLOBALS else ""
        issues.append(TemplateIssue(kind="escape", indicator=f"access to {via}{name}", line=line))
        if computed:
            issues.append(TemplateIssue(kind="obfuscation", indicator=f"attribute name {name!r} built at render "
                                        "time", line=line))
    elif name in DANGEROUS_ATTRS:
        issues.append(TemplateIssue(kind="escape", indicator=f"access to .{name}", line=line))


def _built_string(node: nodes.Node, issues: list[TemplateIssue]) -> None:
    """String expressions that fold to a dunder or a dangerous name although no single literal is one."""
    value = _fold(node)
    if not isinstance(value, str) or isinstance(node, nodes.Const):
        return
    if _DUNDER.search(value) or value in DANGEROUS_ATTRS | DANGEROUS_CALLS | DANGEROUS_NAMES:
        literals = [c.value for c in node.find_all(nodes.Const) if isinstance(c.value, str)]
        if not any(value in lit for lit in literals):
            issues.append(TemplateIssue(kind="obfuscation", indicator=f"name {value!r} built from strings",
                                        line=node.lineno))


def _fold(node: nodes.Node, depth: int = 0) -> Any:
    """Constant-fold string expressions (~, +, %, join, format, reverse, replace, lower/upper); else None."""
    if depth > 50:
        return None
    if isinstance(node, nodes.Const):
        return node.value
    if isinstance(node, (nodes.List, nodes.Tuple)):
        items = [_fold(i, depth + 1) for i in node.items]
        return items if all(isinstance(i, str) for i in items) else None
    if isinstance(node, nodes.Concat):
        parts = [_fold(n, depth + 1) for n in node.nodes]
        return "".join(parts) if all(isinstance(p, str) for p in parts) else None
    if isinstance(node, (nodes.Add, nodes.Mod)):
        left, right = _fold(node.left, depth + 1), _fold(node.right, depth + 1)
        if isinstance(node, nodes.Add) and isinstance(left, str) and isinstance(right, str):
            return left + right
        if isinstance(node, nodes.Mod) and isinstance(left, str) and isinstance(right, (str, list)):
            return _percent(left, right)
        return None
    if isinstance(node, nodes.Filter) and node.node is not None:
        return _fold_filter(node, _fold(node.node, depth + 1), [_fold(a, depth + 1) for a in node.args])
    return None


def _percent(fmt: str, args: str | list[str]) -> str | None:
    try:
        return fmt % (tuple(args) if isinstance(args, list) else args)
    except (TypeError, ValueError):
        return None


def _fold_filter(node: nodes.Filter, subject: Any, args: list[Any]) -> Any:
    name = node.name
    if name == "join" and isinstance(subject, list):
        sep = args[0] if args and isinstance(args[0], str) else ""
        return sep.join(subject)
    if name == "format" and isinstance(subject, str) and all(isinstance(a, str) for a in args):
        return _percent(subject, args)
    if name == "reverse" and isinstance(subject, str):
        return subject[::-1]
    if name in ("lower", "upper", "trim", "string") and isinstance(subject, str):
        if name == "lower":
            return subject.lower()
        if name == "upper":
            return subject.upper()
        return subject.strip() if name == "trim" else subject
    if name == "replace" and isinstance(subject, str) and len(args) >= 2 and all(isinstance(a, str)
                                                                                  for a in args[:2]):
        return subject.replace(args[0], args[1])
    return None


def template_facts(text: str, context: AnalysisContext, *, source: str,
                   location: Location | None = None, text_lines: bool = False) -> Iterator[Fact]:
    """Facts for one template; ``text_lines`` puts template line numbers into the location (a .jinja file)."""
    base = location if location is not None else context.at(pointer=source)
    yield context.fact("template.found", source, location=base, chars=len(text))
    for issue in analyze_template(text):
        loc = base
        detail: dict[str, str | int] = {"source": source}
        if issue.line is not None:
            if text_lines:
                loc = Location(path=base.path, member=base.member, pointer=base.pointer, line=issue.line)
            detail["template_line"] = issue.line
        yield context.fact(f"template.{issue.kind}", issue.indicator, location=loc, **detail)


class JinjaAnalyzer:
    """Analyzes standalone Jinja template files (``chat_template.jinja``)."""

    name = "jinja"
    kinds = frozenset({ArtifactKind.JINJA})
    provides: Mapping[str, str] = TEMPLATE_FACTS

    def analyze(self, source: Source, context: AnalysisContext) -> Iterator[Fact]:
        """Read the template (bounded by max_header_bytes) and analyze it."""
        if source.size > context.limits.max_header_bytes:
            context.error("limit", f"template larger than max_header_bytes={context.limits.max_header_bytes}",
                          limit="max_header_bytes")
            return
        text = source.read_at(0, source.size).decode("utf-8", "replace")
        yield from template_facts(text, context, source="file", location=context.at(), text_lines=True)
