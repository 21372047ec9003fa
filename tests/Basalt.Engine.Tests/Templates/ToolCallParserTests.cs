using Basalt.Engine.Templates;

namespace Basalt.Engine.Tests.Templates;

public sealed class ToolCallParserTests
{
    private const string HermesCall = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>";

    [Fact]
    public void Parse_HermesSingleCall_ReturnsNameAndArguments()
    {
        var result = ToolCallParser.Parse(HermesCall, ToolCallFormat.Hermes);
        var call = Assert.Single(result.Calls);
        Assert.Equal("get_weather", call.Name);
        Assert.Equal("{\"city\": \"Paris\"}", call.ArgumentsJson);
        Assert.Equal("", result.Text);
    }

    [Fact]
    public void Parse_HermesTwoCallsAfterText_KeepsTextBeforeCalls()
    {
        var output = "Let me check.\n" + HermesCall + "\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>";
        var result = ToolCallParser.Parse(output);
        Assert.Equal(["get_weather", "get_time"], result.Calls.Select(c => c.Name));
        Assert.Equal("{}", result.Calls[1].ArgumentsJson);
        Assert.Equal("Let me check.\n", result.Text);
    }

    [Fact]
    public void Parse_HermesUnclosedButComplete_ReturnsCall()
    {
        var result = ToolCallParser.Parse("<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": [1, 2]}}\n");
        Assert.Equal("{\"a\": [1, 2]}", Assert.Single(result.Calls).ArgumentsJson);
    }

    [Theory]
    [InlineData("<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": }\n</tool_call>")]
    [InlineData("<tool_call>\n{\"arguments\": {}}\n</tool_call>")]
    [InlineData("<tool_call>\nnot json at all\n</tool_call>")]
    [InlineData("[TOOL_CALLS][{\"name\": ")]
    [InlineData("[TOOL_CALLS] nothing")]
    [InlineData("{\"name\": \"f\", \"parameters\": {\"a\": 1}")]
    [InlineData("{\"not\": \"a call\"}")]
    [InlineData("Plain answer with no calls.")]
    public void Parse_MalformedOrNoCall_LeavesOutputAsText(string output)
    {
        var result = ToolCallParser.Parse(output);
        Assert.Empty(result.Calls);
        Assert.Equal(output, result.Text);
    }

    [Theory]
    [InlineData("{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}")]
    [InlineData("<|python_tag|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}")]
    [InlineData("  {\"name\": \"get_weather\", \"arguments\": \"{\\\"city\\\": \\\"Paris\\\"}\"}\n")]
    public void Parse_Llama3JsonCall_ReturnsCall(string output)
    {
        var result = ToolCallParser.Parse(output, ToolCallFormat.Llama3Json);
        var call = Assert.Single(result.Calls);
        Assert.Equal("get_weather", call.Name);
        Assert.Equal("{\"city\": \"Paris\"}", call.ArgumentsJson);
        Assert.Equal("", result.Text);
    }

    [Fact]
    public void Parse_Llama3CallsSeparatedBySemicolon_ReturnsBoth()
    {
        var result = ToolCallParser.Parse("{\"name\": \"a\", \"parameters\": {}}; {\"name\": \"b\", \"parameters\": {\"x\": 1}}", ToolCallFormat.Llama3Json);
        Assert.Equal(["a", "b"], result.Calls.Select(c => c.Name));
    }

    [Fact]
    public void Parse_Llama3JsonAfterProse_IsNotACall()
    {
        const string output = "Here is JSON: {\"name\": \"a\", \"parameters\": {}}";
        var result = ToolCallParser.Parse(output, ToolCallFormat.Llama3Json);
        Assert.Empty(result.Calls);
        Assert.Equal(output, result.Text);
    }

    [Theory]
    [InlineData("[TOOL_CALLS][{\"name\": \"a\", \"arguments\": {\"x\": 1}}, {\"name\": \"b\", \"arguments\": {}, \"id\": \"abcdefghi\"}]")]
    [InlineData("[TOOL_CALLS] [{\"name\": \"a\", \"arguments\": {\"x\": 1}}, {\"name\": \"b\", \"arguments\": {}}]</s>")]
    public void Parse_MistralCalls_ReturnsEveryCall(string output)
    {
        var result = ToolCallParser.Parse(output, ToolCallFormat.Mistral);
        Assert.Equal(["a", "b"], result.Calls.Select(c => c.Name));
        Assert.Equal("{\"x\": 1}", result.Calls[0].ArgumentsJson);
        Assert.Equal(output.EndsWith("</s>", StringComparison.Ordinal) ? "</s>" : "", result.Text);
    }

    [Fact]
    public void Parse_ArgumentsWithBracesInStrings_AreKeptWhole()
    {
        var result = ToolCallParser.Parse("[TOOL_CALLS][{\"name\": \"echo\", \"arguments\": {\"text\": \"a ] } \\\" [\"}}]");
        Assert.Equal("{\"text\": \"a ] } \\\" [\"}", Assert.Single(result.Calls).ArgumentsJson);
    }

    public static TheoryData<string, ToolCallFormat> StreamCases => new()
    {
        { "Let me check.\n" + HermesCall + "\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>", ToolCallFormat.Hermes },
        { "Let me check.\n" + HermesCall, ToolCallFormat.Auto },
        { "  {\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}", ToolCallFormat.Llama3Json },
        { "<|python_tag|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}", ToolCallFormat.Auto },
        { "Sure. [TOOL_CALLS][{\"name\": \"a\", \"arguments\": {\"x\": 1}}]", ToolCallFormat.Mistral },
        { "a < b and <tool is not a call", ToolCallFormat.Auto },
        { "<tool_call>\n{\"name\": broken}\n</tool_call> trailing", ToolCallFormat.Hermes },
        { "<|pyth", ToolCallFormat.Auto },
        { "Once upon a time {there} was", ToolCallFormat.Auto },
    };

    [Theory]
    [MemberData(nameof(StreamCases))]
    public void ToolCallStream_AnyChunking_GivesSameTextAndCallsAsParse(string output, ToolCallFormat format)
    {
        var expected = ToolCallParser.Parse(output, format);
        for (var chunk = 1; chunk <= 4; chunk++)
        {
            var stream = new ToolCallStream(format);
            var shown = "";
            for (var i = 0; i < output.Length; i += chunk)
                shown += stream.Push(output.Substring(i, Math.Min(chunk, output.Length - i)));
            var end = stream.Finish();
            Assert.Equal(expected.Text, shown + end.Text);
            Assert.Equal(expected.Calls, end.Calls);
        }
    }

    [Fact]
    public void ToolCallStream_TextBeforeHermesCall_IsShownBeforeTheCallEnds()
    {
        var stream = new ToolCallStream(ToolCallFormat.Hermes);
        var shown = "";
        foreach (var piece in new[] { "Let me ", "check.\n<tool", "_call>\n{\"name\": \"get_weather\"" })
            shown += stream.Push(piece);
        Assert.Equal("Let me check.\n", shown);
        Assert.Equal("", stream.Push(", \"arguments\": {}}\n</tool_call>"));
        Assert.Equal("get_weather", Assert.Single(stream.Finish().Calls).Name);
    }

    [Fact]
    public void ToolCallStream_PlainText_IsShownAsItArrives()
    {
        var stream = new ToolCallStream(ToolCallFormat.Auto);
        Assert.Equal("Hello", stream.Push("Hello"));
        Assert.Equal(" world", stream.Push(" world"));
        Assert.Equal("", stream.Finish().Text);
    }

    [Theory]
    [InlineData("Qwen-Qwen2.5-7B-Instruct.jinja", ToolCallFormat.Hermes)]
    [InlineData("Qwen-Qwen3-0.6B.jinja", ToolCallFormat.Hermes)]
    [InlineData("meta-llama-Llama-3.2-3B-Instruct.jinja", ToolCallFormat.Llama3Json)]
    [InlineData("meta-llama-Llama-3.3-70B-Instruct.jinja", ToolCallFormat.Llama3Json)]
    [InlineData("mistralai-Mistral-Nemo-Instruct-2407.jinja", ToolCallFormat.Mistral)]
    [InlineData("microsoft-Phi-3.5-mini-instruct.jinja", ToolCallFormat.Auto)]
    public void DetectFormat_RealTemplate_FindsItsToolCallFormat(string file, ToolCallFormat expected)
        => Assert.Equal(expected, ToolCallParser.DetectFormat(RealTemplateTests.Load(file).Source));
}
