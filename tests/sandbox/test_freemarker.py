"""The FreeMarker subset the Expensify fake renders export templates with."""

import json

import pytest

from sandbox.freemarker import TemplateError, render


def test_list_with_sep_both_forms_and_else():
    data = {"xs": [1, 2, 3], "none": []}
    assert render("<#list xs as x>${x}<#sep>, </#sep></#list>", data) == "1, 2, 3"
    assert render("<#list xs as x>${x}<#sep>;</#list>", data) == "1;2;3"
    assert render("<#list none as x>${x}<#else>empty</#list>", data) == "empty"
    assert render("<#list xs as x>${x?index}${x?counter}<#if x?has_next>|</#if></#list>", data) == "01|12|23"


def test_nested_lists_and_dotted_access():
    data = {"reports": [{"id": "1", "items": [{"a": 5}, {"a": 6}]}, {"id": "2", "items": []}]}
    out = render("<#list reports as r>${r.id}:[<#list r.items as i>${i.a}<#sep>,</#list>]<#sep> </#list>", data)
    assert out == "1:[5,6] 2:[]"


def test_conditions_and_operators():
    data = {"a": 3, "s": "x", "t": True, "f": False, "m": {"k": "v"}}
    tpl = ("<#if a == 3 && s != 'y'>A</#if><#if f || !t>B<#elseif a gt 2>C<#else>D</#if>"
           "<#if m.k??>E</#if><#if m.nope??>F</#if><#if (a > 2)>G</#if><#if s = \"x\">H</#if>")
    assert render(tpl, data) == "ACEGH"


def test_builtins():
    data = {"s": 'say "hi"\n<b>', "n": 1234567, "b": True, "e": "", "xs": [1, 2], "f": 2.5}
    assert json.loads('"' + render("${s?json_string}", data) + '"') == data["s"]
    assert render("${n?c} ${n} ${f?c} ${b?c} ${b?string('yes','no')}", data) == "1234567 1,234,567 2.5 true yes"
    assert render("${e?has_content?c} ${s?has_content?c} ${missing?has_content?c} ${xs?size}", data) == "false true false 2"
    assert render("${missing!'dflt'} ${(m.x)!} ${' pad '?trim?upper_case}", data) == "dflt  PAD"
    assert render("<#assign total = n + 1>${total?c}", data) == "1234568"
    assert render("${n?is_number?c} ${s?is_number?c} ${s?is_string?c} ${b?is_boolean?c} ${xs?is_sequence?c}", data) \
        == "true false true true true"


def test_comments_and_line_stripping():
    tpl = "<#-- a comment -->\n<#list xs as x>\n${x}\n</#list>\nend"
    assert render(tpl, {"xs": ["a", "b"]}) == "a\nb\nend"


@pytest.mark.parametrize("tpl, message", [
    ("${missing}", "null or missing: missing"),
    ("${b}", "boolean"),
    ("${s?c}", "?c expects a number"),
    ("${n?json_string}", "expected a string"),
    ("<#if s>x</#if>", "condition must be a boolean"),
    ("<#macro m></#macro>", "unsupported directive <#macro>"),
    ("${s?capitalize}", "unsupported built-in ?capitalize"),
    ("<#list xs as x>${x}", "never closed"),
    ("<#if true>x", "never closed"),
    ("${s", "unclosed"),
    ("</#if>", "unexpected"),
    ("<#sep>,", "outside <#list>"),
])
def test_errors_are_clear(tpl, message):
    with pytest.raises(TemplateError) as info:
        render(tpl, {"s": "x", "n": 1, "b": True, "xs": [1]})
    assert message in str(info.value)
