using Basalt.Engine.Templates;

namespace Basalt.Engine.Tests.Templates;

public sealed class JinjaInterpreterTests
{
    private static readonly DateTime Noon = new(2025, 3, 9, 12, 30, 5);

    private static string Render(string source, Dictionary<string, object?>? variables = null)
        => JinjaInterpreter.Render(JinjaParser.Parse(source), variables ?? new Dictionary<string, object?>(), Noon);

    [Theory]
    [InlineData("{% if true %}\n  yes\n{% endif %}\n", "  yes\n")]
    [InlineData("  {% if true %}x{% endif %}", "x")]
    [InlineData("a\n    {% if true %}x{% endif %}", "a\nx")]
    [InlineData("a  {%- if true -%}  b  {%- endif %}", "ab")]
    [InlineData("{{ 'a' }}\n", "a\n")]
    [InlineData("{{- 'a' -}}  \n b", "ab")]
    [InlineData("{# a comment #}\nx", "x")]
    [InlineData("a {%+ if true %}x{% endif %}", "a x")]
    public void Render_WhitespaceControl_FollowsHuggingFaceSettings(string source, string expected)
        => Assert.Equal(expected, Render(source));

    [Theory]
    [InlineData("{% for x in ['a','b','c'] %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }} {% endfor %}",
        "10TrueFalse3 21FalseFalse3 32FalseTrue3 ")]
    [InlineData("{% for x in [1,2,3,4] if x is even %}{{ x }}{% endfor %}", "24")]
    [InlineData("{% for x in [1,2,3,4] if x > 1 %}{{ loop.length }}{% endfor %}", "333")]
    [InlineData("{% for x in [] %}a{% else %}empty{% endfor %}", "empty")]
    [InlineData("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}", "a=1;b=2;")]
    [InlineData("{% for k in {'a': 1, 'b': 2} %}{{ k }}{% endfor %}", "ab")]
    [InlineData("{% for x in [1,2,3] %}{% if x == 2 %}{% continue %}{% endif %}{{ x }}{% endfor %}", "13")]
    [InlineData("{% for x in [1,2,3] %}{% if x == 2 %}{% break %}{% endif %}{{ x }}{% endfor %}", "1")]
    [InlineData("{% for x in 'ab' %}{{ x }}.{% endfor %}", "a.b.")]
    public void Render_ForLoop_ExposesLoopVariablesAndFilters(string source, string expected)
        => Assert.Equal(expected, Render(source));

    [Theory]
    [InlineData("{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{% endfor %}{{ x }}", "1")]
    [InlineData("{% set x = 1 %}{% if true %}{% set x = 2 %}{% endif %}{{ x }}", "2")]
    [InlineData("{% set ns = namespace(x=1) %}{% for i in [1,2] %}{% set ns.x = ns.x + i %}{% endfor %}{{ ns.x }}", "4")]
    [InlineData("{% set ns = namespace() %}{% set ns.found = true %}{{ ns.found }}", "True")]
    [InlineData("{% set a, b = 1, 2 %}{{ a }}{{ b }}", "12")]
    [InlineData("{% set block %}in{{ 1 }}{% endset %}[{{ block }}]", "[in1]")]
    public void Render_Set_FollowsJinjaScoping(string source, string expected)
        => Assert.Equal(expected, Render(source));

    [Theory]
    [InlineData("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('Bo') }}{{ greet('Al', punct='?') }}", "Hi Bo!Hi Al?")]
    [InlineData("{% macro wrap() %}[{{ caller() }}]{% endmacro %}{% call wrap() %}inner{% endcall %}", "[inner]")]
    [InlineData("{% filter upper %}abc{% endfilter %}", "ABC")]
    [InlineData("{% generation %}kept{% endgeneration %}", "kept")]
    public void Render_MacrosCallsAndFilterBlocks_Work(string source, string expected)
        => Assert.Equal(expected, Render(source));

    [Theory]
    [InlineData("{{ '  hi  ' | trim }}", "hi")]
    [InlineData("{{ [1,2,3] | length }}{{ 'ab' | count }}", "32")]
    [InlineData("{{ missing | default('d') }}{{ '' | d('e', true) }}{{ 'x' | default('f') }}", "dex")]
    [InlineData("{{ 'hello world' | title }}|{{ 'hELLO' | capitalize }}|{{ 'Ab' | upper }}{{ 'Ab' | lower }}", "Hello World|Hello|ABab")]
    [InlineData("{{ 'a-b-c' | replace('-', '+') }}", "a+b+c")]
    [InlineData("{{ ['a','b'] | join(', ') }}", "a, b")]
    [InlineData("{{ [3,1,2] | sort | first }}{{ [3,1,2] | last }}{{ [3,1,2] | sort(reverse=true) | join }}", "12321")]
    [InlineData("{{ 'abc' | list }}", "['a', 'b', 'c']")]
    [InlineData("{{ '42' | int + 1 }}{{ 'x' | int }}{{ 3.9 | int }}", "4303")]
    [InlineData("{{ ['a','A','b'] | unique | list }}", "['a', 'b']")]
    [InlineData("{{ '<a href=\"x\">' | e }}", "&lt;a href=&#34;x&#34;&gt;")]
    [InlineData("{{ 'a\nb\n\nc' | indent(2) }}", "a\n  b\n\n  c")]
    [InlineData("{{ 'a\nb' | indent(2, true) }}", "  a\n  b")]
    [InlineData("{{ {'a': 1} | items | list }}", "[['a', 1]]")]
    [InlineData("{{ 5 | string ~ 'x' }}{{ 'x' | safe }}", "5xx")]
    [InlineData("{{ ['a', 'code', 'b'] | reject('equalto', 'code') | join(',') }}", "a,b")]
    [InlineData("{{ [1, 2, 3, 4] | select('odd') | list }}", "[1, 3]")]
    [InlineData("{{ ['a','b'] | map('upper') | join }}", "AB")]
    public void Render_Filter_BehavesLikeJinja(string source, string expected)
        => Assert.Equal(expected, Render(source));

    [Fact]
    public void Render_SelectattrAndMap_PickAttributesOfMappings()
    {
        var users = new List<object?>
        {
            new Dictionary<string, object?> { ["name"] = "ann", ["role"] = "user" },
            new Dictionary<string, object?> { ["name"] = "bob", ["role"] = "assistant" },
            new Dictionary<string, object?> { ["name"] = "cy", ["role"] = "user", ["tool_calls"] = new List<object?>() },
        };
        var vars = new Dictionary<string, object?> { ["users"] = users };
        Assert.Equal("ann,cy", Render("{{ users | selectattr('role', 'equalto', 'user') | map(attribute='name') | join(',') }}", vars));
        Assert.Equal("bob", Render("{{ users | rejectattr('role', 'equalto', 'user') | map(attribute='name') | join(',') }}", vars));
        Assert.Equal("ann,bob", Render("{{ users | selectattr('tool_calls', 'undefined') | map(attribute='name') | join(',') }}", vars));
        Assert.Equal("ann,bob,cy", Render("{{ users | sort(attribute='name') | map(attribute='name') | join(',') }}", vars));
    }

    [Theory]
    [InlineData("{{ {'b': 1, 'a': [true, none, 1.5]} | tojson }}", "{\"b\": 1, \"a\": [true, null, 1.5]}")]
    [InlineData("{{ {'a': {'b': []}} | tojson(indent=2) }}", "{\n  \"a\": {\n    \"b\": []\n  }\n}")]
    [InlineData("{{ 'é\"\\\\\n' | tojson }}", "\"é\\\"\\\\\\n\"")]
    [InlineData("{{ {'b': 1, 'a': 2} | tojson(sort_keys=true) }}", "{\"a\": 2, \"b\": 1}")]
    public void Render_Tojson_MatchesPythonJsonDumps(string source, string expected)
        => Assert.Equal(expected, Render(source));

    [Theory]
    [InlineData("{{ 1.5 }}|{{ 2.0 }}|{{ 1e20 }}|{{ 0.0001 }}|{{ 1e-05 }}", "1.5|2.0|1e+20|0.0001|1e-05")]
    [InlineData("{{ 7 // 2 }}{{ -7 // 2 }}{{ 7 % 3 }}{{ -7 % 3 }}{{ 7 / 2 }}", "3-4123.5")]
    [InlineData("{{ 'a' ~ 1 }}{{ 'a' + 'b' }}{{ [1] + [2] }}{{ 2 * 3 }}{{ 2 ** 3 }}", "a1ab[1, 2]68")]
    [InlineData("{{ none }}|{{ true }}|{{ false }}|{{ [1, 'a', none] }}|{{ {'k': 'v'} }}", "|True|False|[1, 'a', None]|{'k': 'v'}")]
    [InlineData("{{ 'b' in 'abc' }}{{ 'z' not in ['a'] }}{{ 1 if false else 2 }}{{ not true }}{{ 'x' if true }}", "TrueTrue2Falsex")]
    [InlineData("{{ 1 < 2 and 2 >= 2 }}{{ 1 == 1.0 }}{{ 'a' != 'b' }}{{ none or 'd' }}{{ 0 and 1 }}", "TrueTrueTrued0")]
    [InlineData("{{ [1,2,3,4][1:3] }}{{ 'abcd'[::-1] }}{{ [1,2,3][-1] }}{{ 'abcdef'[::2] }}{{ [1,2,3][:-1] }}", "[2, 3]dcba3ace[1, 2]")]
    [InlineData("{{ (1, 2)[0] }}{{ [[1, 2]][0][1] }}{{ {'a': {'b': 'c'}}.a.b }}{{ {'a': 1}['a'] }}", "12c1")]
    public void Render_ExpressionsAndPrinting_MatchPython(string source, string expected)
        => Assert.Equal(expected, Render(source));

    [Theory]
    [InlineData("{{ x is defined }}{{ y is undefined }}{{ none is none }}{{ 'a' is string }}{{ {} is mapping }}", "FalseTrueTrueTrueTrue")]
    [InlineData("{{ [] is iterable }}{{ 'a' is iterable }}{{ 1 is iterable }}{{ [] is sequence }}", "TrueTrueFalseTrue")]
    [InlineData("{{ 1 is number }}{{ 'a' is number }}{{ true is boolean }}{{ true is true }}{{ 0 is false }}", "TrueFalseTrueTrueFalse")]
    [InlineData("{{ 3 is odd }}{{ 3 is even }}{{ 'a' is in 'abc' }}{{ 2 is equalto 2 }}{{ 2 is not equalto 3 }}{{ 6 is divisibleby 3 }}", "TrueFalseTrueTrueTrueTrue")]
    public void Render_Test_BehavesLikeJinja(string source, string expected)
        => Assert.Equal(expected, Render(source));

    [Theory]
    [InlineData("{{ 'a,b'.split(',') }}{{ 'a  b'.split() }}{{ 'a,b,c'.split(',', 1) }}", "['a', 'b']['a', 'b']['a', 'b,c']")]
    [InlineData("{{ '  x '.strip() }}{{ 'xxhixx'.lstrip('x') }}{{ 'xxhixx'.rstrip('x') }}{{ '\nhi\n'.strip('\n') }}", "xhixxxxhihi")]
    [InlineData("{{ 'Hi'.startswith('H') }}{{ 'Hi'.endswith(('x', 'i')) }}{{ 'Hi'.upper() }}{{ 'Hi'.lower() }}{{ 'a b'.replace(' ', '_') }}{{ 'ab cd'.title() }}", "TrueTrueHIhia_bAb Cd")]
    [InlineData("{% set d = {'a': 1} %}{{ d.get('a') }}{{ d.get('z', 'none') }}{{ d.get('z') }}{{ d.keys() | list }}{{ d.values() | list }}", "1none['a'][1]")]
    [InlineData("{% set l = [] %}{% set _ = l.append(1) %}{{ l }}", "[1]")]
    [InlineData("{{ range(3) | list }}{{ range(1, 7, 2) | join(',') }}{{ range(3, 0, -1) | list }}", "[0, 1, 2]1,3,5[3, 2, 1]")]
    [InlineData("{{ strftime_now('%d %b %Y %H:%M:%S') }}|{{ strftime_now('%B %A') }}", "09 Mar 2025 12:30:05|March Sunday")]
    [InlineData("{{ '{} and {name}'.format(1, name='x') }}", "1 and x")]
    public void Render_MethodsAndGlobals_BehaveLikePython(string source, string expected)
        => Assert.Equal(expected, Render(source));

    [Fact]
    public void Render_RaiseException_ThrowsWithTheTemplatesMessage()
    {
        var ex = Assert.Throws<TemplateException>(() => Render("ok\n{{ raise_exception('roles must alternate') }}"));
        Assert.True(ex.RaisedByTemplate);
        Assert.Equal("roles must alternate", ex.Reason);
        Assert.Equal(2, ex.Line);
    }

    [Theory]
    [InlineData("a\n{% include 'x.jinja' %}", "Unsupported statement '{% include %}'", 2)]
    [InlineData("{% extends 'base' %}", "Unsupported statement '{% extends %}'", 1)]
    [InlineData("\n\n{{ x | frobnicate }}", "Unknown filter 'frobnicate'", 3)]
    [InlineData("{{ x is shiny }}", "Unknown test 'shiny'", 1)]
    [InlineData("{% if true %}x", "Missing '{% endif %}'", 1)]
    [InlineData("{% endfor %}", "Unexpected '{% endfor %}'", 1)]
    [InlineData("{{ 1 + }}", "Unexpected '}}'", 1)]
    [InlineData("{{ 'unterminated }}", "Unterminated string literal", 1)]
    [InlineData("{{ x ", "Unclosed '{{'", 1)]
    [InlineData("{% for x in y recursive %}{% endfor %}", "Unsupported construct 'for ... recursive'", 1)]
    public void Parse_BadOrUnsupportedTemplate_ThrowsNamingConstructAndLine(string source, string reason, int line)
    {
        var ex = Assert.Throws<TemplateException>(() => ChatTemplate.Parse(source));
        Assert.StartsWith(reason, ex.Reason);
        Assert.Equal(line, ex.Line);
        Assert.Contains($"template line {line}", ex.Message);
    }

    [Theory]
    [InlineData("{{ 'a' + 1 }}", "Unsupported operand types for +: 'str' and 'int'")]
    [InlineData("{{ missing + 1 }}", "'missing' is undefined")]
    [InlineData("{% set x = 1 %}{% set x.y = 2 %}", "Cannot set attribute 'y' on 'x'")]
    [InlineData("{{ 1 / 0 }}", "Division by zero")]
    [InlineData("{{ nothing() }}", "'nothing' is undefined and cannot be called")]
    [InlineData("{% for x in 5 %}{% endfor %}", "'int' object is not iterable")]
    [InlineData("{{ 'abc'.frob() }}", "'str' object has no method 'frob'")]
    [InlineData("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "Macro calls nest deeper than")]
    [InlineData("{{ range(1000000) | length }}", "range() would produce more than")]
    public void Render_RuntimeError_ThrowsTemplateException(string source, string reason)
    {
        var ex = Assert.Throws<TemplateException>(() => Render(source));
        Assert.StartsWith(reason, ex.Reason);
    }

    [Fact]
    public void Parse_DeeplyNestedExpression_ThrowsInsteadOfOverflowingTheStack()
    {
        var source = "{{ " + new string('(', 5000) + "1" + new string(')', 5000) + " }}";
        var ex = Assert.Throws<TemplateException>(() => ChatTemplate.Parse(source));
        Assert.Contains("nests deeper", ex.Message);
    }
}
