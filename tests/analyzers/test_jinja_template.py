"""Chat-template analysis: realistic templates stay clean; each escape and obfuscation family is caught."""

from __future__ import annotations

import chat_templates as ct
import pytest

from aisec.analyzers.jinja_template import JinjaAnalyzer, analyze_template
from tests.analyzers.util import run


def _kinds(text: str) -> set[str]:
    return {i.kind for i in analyze_template(text)}


@pytest.mark.parametrize("name", sorted(ct.BENIGN))
def test_realistic_templates_are_clean(name: str) -> None:
    assert analyze_template(ct.BENIGN[name]) == []


@pytest.mark.parametrize("name", sorted(ct.ESCAPES))
def test_escape_families(name: str) -> None:
    assert "escape" in _kinds(ct.ESCAPES[name])


@pytest.mark.parametrize("name", sorted(ct.OBFUSCATIONS))
def test_obfuscation_families(name: str) -> None:
    assert "obfuscation" in _kinds(ct.OBFUSCATIONS[name])


@pytest.mark.parametrize(("text", "expected"), [
    ("{{ x['__glo' ~ 'bals__'] }}", "name '__globals__' built from strings"),
    ("{{ x|attr(['__', 'class', '__']|join('')) }}", "|attr with a built name '__class__'"),
    ("{{ x|attr('%s' % '__init__') }}", "|attr with a built name '__init__'"),
    ("{{ x['__CLASS__'|lower] }}", "name '__class__' built from strings"),
    ("{{ x['-_class_-'|replace('-', '_')] }}", "name '__class__' built from strings"),
    ("{{ x|attr('\\u005f\\u005fclass\\u005f\\u005f') }}", "underscore written as an escape sequence"),
    ("{{ x|attr('po' ~ 'pen') }}", "name 'popen' built from strings"),
])
def test_string_building_variants(text: str, expected: str) -> None:
    assert expected in {i.indicator for i in analyze_template(text)}


def test_gadget_chains_name_the_global() -> None:
    indicators = {i.indicator for i in analyze_template(ct.ESCAPES["globals_os"])}
    assert "access to lipsum.__globals__" in indicators
    assert "call path through .popen()" in indicators


def test_namespace_and_attr_with_plain_names_are_not_flagged() -> None:
    text = "{% set ns = namespace(found=false, system='') %}{{ message|attr('content') }}{% set ns.found = true %}" \
        "{{ ns.system }}{{ messages[0]['system'] }}{% if message.run is defined %}{{ message.open }}{% endif %}"
    assert analyze_template(text) == []


def test_dangerous_names_are_flagged_when_called() -> None:
    indicators = {i.indicator for i in analyze_template("{{ x.system('id') }}{{ y.os.environ }}")}
    assert indicators == {"call path through .system()", "access to .environ"}


def test_unparseable_template_is_reported_and_still_pattern_checked() -> None:
    issues = analyze_template("{% for m in messages %}{{ m.__class__.__mro__ }}")
    kinds = {i.kind for i in issues}
    assert kinds == {"parse_error", "escape"}


def test_hostile_nesting_is_a_parse_error_not_a_crash() -> None:
    issues = analyze_template("{{ " + "(" * 20000 + "1" + ")" * 20000 + " }}")
    assert [i.kind for i in issues][:1] == ["parse_error"]


def test_includes_are_suspicious() -> None:
    assert _kinds(ct.SUSPICIOUS["include"]) == {"suspicious"}


def test_template_files_get_line_numbers() -> None:
    text = "{{ bos_token }}\n{% for m in messages %}\n{{ m.__class__ }}\n{% endfor %}\n"
    result = run(JinjaAnalyzer(), text.encode())
    escapes = [f for f in result.facts if f.key == "template.escape"]
    assert [f.location.line for f in escapes] == [3]
