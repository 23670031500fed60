"""XML models (PMML, OpenVINO IR): DTDs stop the parse before expansion; extension code and custom layers found."""

from __future__ import annotations

import time

import pytest
from gen_xml_models import openvino, pmml  # fixtures/ is on sys.path

from aisec.analyzers.base import AnalysisContext, AnalyzerError
from aisec.analyzers.xml_model import XmlModelAnalyzer
from aisec.limits import Limits
from aisec.model import Fact, ScanError
from aisec.source import BytesSource


def analyze(data: bytes) -> tuple[list[Fact], list[ScanError]]:
    context = AnalysisContext(path="model.pmml", limits=Limits())
    facts = list(XmlModelAnalyzer().analyze(BytesSource(data, budget=4 * len(data) + 8192), context))
    return facts, context.errors


def test_clean_models_yield_nothing() -> None:
    assert analyze(pmml()) == ([], [])
    relu = '    <layer id="1" name="r" type="ReLU" version="opset8"/>\n'
    assert analyze(openvino(relu)) == ([], [])


def test_an_entity_bomb_stops_at_its_first_declaration() -> None:
    laughs = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 40))
    started = time.process_time()
    facts, _ = analyze(pmml('<Extension value="&l39;"/>', prolog=f'<!DOCTYPE PMML [<!ENTITY l0 "x">{laughs}]>\n'))
    assert time.process_time() - started < 5  # 10**39 expansions would never finish
    assert [(f.value, f.detail["name"]) for f in facts] == [("doctype", "PMML"), ("entity", "l0")]


def test_external_entity_and_dtd_name_what_they_fetch() -> None:
    facts, _ = analyze(pmml(prolog='<!DOCTYPE PMML [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'))
    assert [(f.value, f.detail["system_id"]) for f in facts] == [("doctype", ""),
                                                                ("external_entity", "file:///etc/passwd")]


def test_extension_code_and_openvino_custom_layers() -> None:
    facts, _ = analyze(pmml('<Extension name="post"><X>import os</X></Extension>'))
    assert [(f.key, f.detail["name"]) for f in facts] == [("pmml.extension_code", "post")]
    facts, _ = analyze(openvino('<layer id="1" type="Acme" version="extension"><data lib="x.dll"/></layer>'))
    assert sorted((f.key, f.value) for f in facts) == [("openvino.custom_layer", "Acme"),
                                                        ("openvino.library", "x.dll")]


def test_other_xml_is_left_alone_and_broken_models_fail_closed() -> None:
    assert analyze(b'<?xml version="1.0"?><svg><!-- PMML --></svg>') == ([], [])
    with pytest.raises(AnalyzerError):
        analyze(pmml()[:-30])
    with pytest.raises(AnalyzerError):  # found by fuzzing: expat raises LookupError for an unknown encoding
        analyze(pmml().replace(b'encoding="UTF-8"', b'encoding="UTQQF-8"'))
