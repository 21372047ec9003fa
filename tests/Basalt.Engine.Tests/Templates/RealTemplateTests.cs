using Basalt.Engine.Templates;
using Basalt.Tests.Common;

namespace Basalt.Engine.Tests.Templates;

/// <summary>Renders the real chat templates kept under templates/ (see SOURCES.md) and compares with the exact
/// prompts Hugging Face's apply_chat_template produces for them.</summary>
public sealed class RealTemplateTests
{
    private const string Tool = """{"type": "function", "function": {"name": "get_weather", "description": "Get the weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}""";

    private const string ToolJson = "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Get the weather\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}, \"required\": [\"city\"]}}}";

    private static readonly DateTime July26 = new(2024, 7, 26, 10, 0, 0);

    /// <summary>The conversation of llama.cpp's test-chat-template.cpp (the spaces around the second answer test trimming).</summary>
    private static readonly ChatMessage[] Conversation =
    [
        new("system", "You are a helpful assistant"),
        new("user", "Hello"),
        new("assistant", "Hi there"),
        new("user", "Who are you"),
        new("assistant", "   I am an assistant   "),
        new("user", "Another question"),
    ];

    private static readonly ChatMessage[] ToolConversation =
    [
        new("user", "What's the weather in Paris?"),
        new("assistant", "") { ToolCalls = [new ChatToolCall("call12345", "get_weather", """{"city": "Paris"}""")] },
        new("tool", """{"temperature": 18}""") { ToolCallId = "call12345" },
    ];

    internal static ChatTemplate Load(string file)
        => ChatTemplate.Parse(File.ReadAllText(Path.Combine(SharedFiles.ProjectRoot, "tests", "Basalt.Engine.Tests", "Templates", "templates", file)));

    private static string Render(string file, IReadOnlyList<ChatMessage> messages, string bos = "", string eos = "",
        IReadOnlyList<string>? tools = null, bool addGenerationPrompt = true, Dictionary<string, object?>? variables = null)
        => Load(file).Render(new ChatTemplateInput
        {
            Messages = messages,
            BosToken = bos,
            EosToken = eos,
            Tools = tools,
            AddGenerationPrompt = addGenerationPrompt,
            Variables = variables,
            Now = July26,
        });

    [Fact]
    public void Render_Phi35Conversation_MatchesReference()
    {
        var text = Render("microsoft-Phi-3.5-mini-instruct.jinja", Conversation, eos: "<|endoftext|>");
        Assert.Equal("<|system|>\nYou are a helpful assistant<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n<|user|>\nWho are you<|end|>\n<|assistant|>\n   I am an assistant   <|end|>\n<|user|>\nAnother question<|end|>\n<|assistant|>\n", text);
    }

    [Fact]
    public void Render_Phi35WithoutGenerationPrompt_EndsWithEos()
    {
        var text = Render("microsoft-Phi-3.5-mini-instruct.jinja", Conversation[..3], eos: "<|endoftext|>", addGenerationPrompt: false);
        Assert.Equal("<|system|>\nYou are a helpful assistant<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n<|endoftext|>", text);
    }

    [Fact]
    public void Render_SmolLM2Conversation_MatchesReference()
    {
        var text = Render("SmolLM2-Instruct.jinja", Conversation);
        Assert.Equal("<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n<|im_start|>assistant\n   I am an assistant   <|im_end|>\n<|im_start|>user\nAnother question<|im_end|>\n<|im_start|>assistant\n", text);
    }

    [Fact]
    public void Render_SmolLM2WithoutSystem_AddsDefaultSystemPrompt()
    {
        var text = Render("SmolLM2-Instruct.jinja", [new("user", "Hello")]);
        Assert.Equal("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n", text);
    }

    [Fact]
    public void Render_Gemma2Conversation_MatchesReference()
    {
        var text = Render("google-gemma-2-2b-it.jinja", Conversation[1..], bos: "<bos>");
        Assert.Equal("<bos><start_of_turn>user\nHello<end_of_turn>\n<start_of_turn>model\nHi there<end_of_turn>\n<start_of_turn>user\nWho are you<end_of_turn>\n<start_of_turn>model\nI am an assistant<end_of_turn>\n<start_of_turn>user\nAnother question<end_of_turn>\n<start_of_turn>model\n", text);
    }

    [Fact]
    public void Render_Gemma2WithSystem_RaisesTemplateError()
    {
        var ex = Assert.Throws<TemplateException>(() => Render("google-gemma-2-2b-it.jinja", Conversation, bos: "<bos>"));
        Assert.True(ex.RaisedByTemplate);
        Assert.Equal("System role not supported", ex.Reason);
    }

    [Fact]
    public void Render_Gemma3WithSystem_FoldsSystemIntoFirstUserTurn()
    {
        var text = Render("google-gemma-3-it.jinja", Conversation, bos: "<bos>");
        Assert.Equal("<bos><start_of_turn>user\nYou are a helpful assistant\n\nHello<end_of_turn>\n<start_of_turn>model\nHi there<end_of_turn>\n<start_of_turn>user\nWho are you<end_of_turn>\n<start_of_turn>model\nI am an assistant<end_of_turn>\n<start_of_turn>user\nAnother question<end_of_turn>\n<start_of_turn>model\n", text);
    }

    [Fact]
    public void Render_Gemma3RolesOutOfOrder_RaisesAlternationError()
    {
        var ex = Assert.Throws<TemplateException>(() => Render("google-gemma-3-it.jinja", [new("user", "a"), new("user", "b")]));
        Assert.Contains("Conversation roles must alternate", ex.Message);
    }

    [Fact]
    public void Render_Qwen25Conversation_MatchesReference()
    {
        var text = Render("Qwen-Qwen2.5-7B-Instruct.jinja", Conversation);
        Assert.Equal("<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n<|im_start|>assistant\n   I am an assistant   <|im_end|>\n<|im_start|>user\nAnother question<|im_end|>\n<|im_start|>assistant\n", text);
    }

    [Fact]
    public void Render_Qwen25WithoutSystem_AddsQwenSystemPrompt()
    {
        var text = Render("Qwen-Qwen2.5-7B-Instruct.jinja", [new("user", "Hello")]);
        Assert.Equal("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n", text);
    }

    [Fact]
    public void Render_Qwen25ToolConversation_MatchesReference()
    {
        var text = Render("Qwen-Qwen2.5-7B-Instruct.jinja", ToolConversation, tools: [Tool]);
        Assert.Equal(
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
            + ToolJson
            + "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n"
            + "<|im_start|>user\nWhat's the weather in Paris?<|im_end|>\n"
            + "<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call><|im_end|>\n"
            + "<|im_start|>user\n<tool_response>\n{\"temperature\": 18}\n</tool_response><|im_end|>\n"
            + "<|im_start|>assistant\n",
            text);
    }

    [Fact]
    public void Render_Qwen3Conversation_MatchesReference()
    {
        var text = Render("Qwen-Qwen3-0.6B.jinja", Conversation);
        Assert.Equal("<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n<|im_start|>assistant\n   I am an assistant   <|im_end|>\n<|im_start|>user\nAnother question<|im_end|>\n<|im_start|>assistant\n", text);
    }

    [Fact]
    public void Render_Qwen3ThinkingDisabled_AppendsEmptyThinkBlock()
    {
        var text = Render("Qwen-Qwen3-0.6B.jinja", [new("user", "Hello")], variables: new() { ["enable_thinking"] = false });
        Assert.Equal("<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n", text);
    }

    [Fact]
    public void Render_Qwen3ReasoningInLastTurn_KeepsThinkBlock()
    {
        var text = Render("Qwen-Qwen3-0.6B.jinja", [new("user", "Hi"), new("assistant", "<think>\nPlan\n</think>\n\nHello!")], addGenerationPrompt: false);
        Assert.Equal("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\nPlan\n</think>\n\nHello!<|im_end|>\n", text);
    }

    [Fact]
    public void Render_Qwen3ReasoningInEarlierTurn_DropsThinkBlock()
    {
        var text = Render("Qwen-Qwen3-0.6B.jinja", [new("user", "Hi"), new("assistant", "<think>\nPlan\n</think>\n\nHello!"), new("user", "Bye")]);
        Assert.Equal("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n", text);
    }

    [Fact]
    public void Render_Qwen3ToolConversation_MatchesReference()
    {
        var text = Render("Qwen-Qwen3-0.6B.jinja", ToolConversation, tools: [Tool]);
        Assert.Equal(
            "<|im_start|>system\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
            + ToolJson
            + "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n"
            + "<|im_start|>user\nWhat's the weather in Paris?<|im_end|>\n"
            + "<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call><|im_end|>\n"
            + "<|im_start|>user\n<tool_response>\n{\"temperature\": 18}\n</tool_response><|im_end|>\n"
            + "<|im_start|>assistant\n",
            text);
    }

    private const string LlamaConversationBody =
        "You are a helpful assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nI am an assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nAnother question<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";

    [Fact]
    public void Render_Llama32Conversation_UsesStrftimeNowForTheDate()
    {
        var text = Render("meta-llama-Llama-3.2-3B-Instruct.jinja", Conversation, bos: "<|begin_of_text|>");
        Assert.Equal("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n" + LlamaConversationBody, text);
    }

    [Fact]
    public void Render_Llama31Conversation_MatchesReference()
    {
        var text = Render("meta-llama-Llama-3.3-70B-Instruct.jinja", Conversation, bos: "<|begin_of_text|>", variables: new() { ["date_string"] = "01 Jan 2025" });
        Assert.Equal("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 01 Jan 2025\n\n" + LlamaConversationBody, text);
    }

    [Fact]
    public void Render_Llama31BuiltinTools_ListsThemWithoutCodeInterpreter()
    {
        var text = Render("meta-llama-Llama-3.3-70B-Instruct.jinja", [new("user", "Hi")], bos: "<|begin_of_text|>",
            variables: new() { ["builtin_tools"] = new List<object?> { "code_interpreter", "brave_search", "wolfram_alpha" } });
        Assert.Equal("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython\nTools: brave_search, wolfram_alpha\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", text);
    }

    [Fact]
    public void Render_Llama32ToolConversation_PutsToolsInFirstUserMessage()
    {
        var text = Render("meta-llama-Llama-3.2-3B-Instruct.jinja", ToolConversation, bos: "<|begin_of_text|>", tools: [Tool]);
        const string indentedTool = "{\n    \"type\": \"function\",\n    \"function\": {\n        \"name\": \"get_weather\",\n        \"description\": \"Get the weather\",\n        \"parameters\": {\n            \"type\": \"object\",\n            \"properties\": {\n                \"city\": {\n                    \"type\": \"string\"\n                }\n            },\n            \"required\": [\n                \"city\"\n            ]\n        }\n    }\n}";
        Assert.Equal(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>"
            + "<|start_header_id|>user<|end_header_id|>\n\nGiven the following functions, please respond with a JSON for a function call with its proper arguments that best answers the given prompt.\n\n"
            + "Respond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}.Do not use variables.\n\n"
            + indentedTool + "\n\nWhat's the weather in Paris?<|eot_id|>"
            + "<|start_header_id|>assistant<|end_header_id|>\n\n{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}<|eot_id|>"
            // A string tool result "is iterable" in Jinja, so the template JSON-quotes it (as Hugging Face renders it too).
            + "<|start_header_id|>ipython<|end_header_id|>\n\n\"{\\\"temperature\\\": 18}\"<|eot_id|>"
            + "<|start_header_id|>assistant<|end_header_id|>\n\n",
            text);
    }

    [Fact]
    public void Render_Llama32TwoToolCallsInOneMessage_RaisesTemplateError()
    {
        ChatMessage[] messages =
        [
            new("user", "Weather?"),
            new("assistant", "") { ToolCalls = [new("a", "get_weather", "{}"), new("b", "get_weather", "{}")] },
        ];
        var ex = Assert.Throws<TemplateException>(() => Render("meta-llama-Llama-3.2-3B-Instruct.jinja", messages));
        Assert.Equal("This model only supports single tool-calls at once!", ex.Reason);
    }

    [Fact]
    public void Render_MistralConversation_PutsSystemInLastUserTurn()
    {
        var text = Render("mistralai-Mistral-Nemo-Instruct-2407.jinja", Conversation, bos: "<s>", eos: "</s>");
        Assert.Equal("<s>[INST]Hello[/INST]Hi there</s>[INST]Who are you[/INST]   I am an assistant   </s>[INST]You are a helpful assistant\n\nAnother question[/INST]", text);
    }

    [Fact]
    public void Render_MistralRolesOutOfOrder_RaisesAlternationError()
    {
        var ex = Assert.Throws<TemplateException>(() =>
            Render("mistralai-Mistral-Nemo-Instruct-2407.jinja", [new("user", "a"), new("user", "b")], bos: "<s>", eos: "</s>"));
        Assert.True(ex.RaisedByTemplate);
        Assert.Equal("After the optional system message, conversation roles must alternate user/assistant/user/assistant/...", ex.Reason);
    }

    [Fact]
    public void Render_MistralToolConversation_MatchesReference()
    {
        var text = Render("mistralai-Mistral-Nemo-Instruct-2407.jinja", ToolConversation, bos: "<s>", eos: "</s>", tools: [Tool]);
        Assert.Equal(
            "<s>[AVAILABLE_TOOLS][{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Get the weather\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}, \"required\": [\"city\"]}}}][/AVAILABLE_TOOLS]"
            + "[INST]What's the weather in Paris?[/INST]"
            + "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}, \"id\": \"call12345\"}]</s>"
            + "[TOOL_RESULTS]{\"content\": {\"temperature\": 18}, \"call_id\": \"call12345\"}[/TOOL_RESULTS]",
            text);
    }

    [Fact]
    public void Render_MistralToolCallIdOfWrongLength_RaisesTemplateError()
    {
        ChatMessage[] messages =
        [
            new("user", "Weather?"),
            new("assistant", "") { ToolCalls = [new("short", "get_weather", "{}")] },
        ];
        var ex = Assert.Throws<TemplateException>(() => Render("mistralai-Mistral-Nemo-Instruct-2407.jinja", messages, tools: [Tool]));
        Assert.Equal("Tool call IDs should be alphanumeric strings with length 9!", ex.Reason);
    }

    [Fact]
    public void Fallback_Conversation_RendersRoleColonContentEndingWithAssistant()
    {
        var text = ChatTemplate.Fallback.Render(new ChatTemplateInput { Messages = [new("system", "Be brief."), new("user", "Hello")] });
        Assert.Equal("system: Be brief.\nuser: Hello\nassistant:", text);
    }
}
