using Basalt.Server.Customization;
using Basalt.Tests.Common;

namespace Basalt.Server.Tests.Customization;

public sealed class TrainingDataTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("basalt-data-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, params string[] lines)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllLines(path, lines);
        return path;
    }

    [Fact]
    public void Read_FineTuningRecordWithoutCompletion_ErrorNamesFileAndLine()
    {
        var path = Write("train.jsonl",
            """{"prompt": "a", "completion": "b"}""",
            "",
            """{"prompt": "c"}""");
        var e = Assert.Throws<TrainingDataException>(() => TrainingDataReader.Read(path, CustomizationTypes.FineTuning));
        Assert.Equal(3, e.Line);
        Assert.StartsWith("train.jsonl line 3:", e.Message);
        Assert.Contains("\"completion\"", e.Message);
    }

    [Fact]
    public void Read_BadJson_ErrorNamesLine()
    {
        var path = Write("train.jsonl", """{"input": "fine"}""", """{"input": "broken""");
        var e = Assert.Throws<TrainingDataException>(() => TrainingDataReader.Read(path, CustomizationTypes.ContinuedPreTraining));
        Assert.Equal(2, e.Line);
        Assert.Contains("not valid JSON", e.Message);
    }

    [Fact]
    public void Read_EmptyInputText_ErrorNamesLine()
    {
        var path = Write("cpt.jsonl", """{"input": "   "}""");
        var e = Assert.Throws<TrainingDataException>(() => TrainingDataReader.Read(path, CustomizationTypes.ContinuedPreTraining));
        Assert.Equal("cpt.jsonl line 1: \"input\" is empty.", e.Message);
    }

    [Fact]
    public void Read_ConversationRecord_GivesSystemTurnsAndTheLastAssistantReply()
    {
        var path = Write("chat.jsonl",
            """{"schemaVersion":"bedrock-conversation-2024","system":[{"text":"Be brief."}],"messages":[{"role":"user","content":[{"text":"Hi"}]},{"role":"assistant","content":[{"text":"Hello"}]},{"role":"user","content":[{"text":"Name?"}]},{"role":"assistant","content":[{"text":"Basalt"}]}]}""");
        var record = Assert.Single(TrainingDataReader.Read(path, CustomizationTypes.FineTuning));
        Assert.Equal("Be brief.", record.System);
        Assert.Equal(["user:Hi", "assistant:Hello", "user:Name?"], record.Turns.Select(t => t.Role + ":" + t.Text));
        Assert.Equal("Basalt", record.Completion);
    }

    [Fact]
    public void Read_DistillationPromptEndingWithAssistant_DropsTheReferenceAnswer()
    {
        var path = Write("prompts.jsonl",
            """{"schemaVersion":"bedrock-conversation-2024","messages":[{"role":"user","content":[{"text":"Q"}]},{"role":"assistant","content":[{"text":"reference"}]}]}""",
            """{"schemaVersion":"bedrock-conversation-2024","messages":[{"role":"assistant","content":[{"text":"A"}]}]}""");
        var e = Assert.Throws<TrainingDataException>(() => TrainingDataReader.Read(path, CustomizationTypes.Distillation));
        Assert.Equal(2, e.Line);
        Assert.Contains("messages[0] must be a user message", e.Message);
        var first = TrainingDataReader.Parse("prompts.jsonl", 1, File.ReadAllLines(path)[0], CustomizationTypes.Distillation);
        Assert.Null(first.Completion);
        Assert.Equal("Q", Assert.Single(first.Turns).Text);
    }

    [Fact]
    public void Tokenize_ExampleLongerThanTheSequence_ErrorNamesLine()
    {
        if (SharedFiles.Path("models/stories260K.gguf") is not { } model) return;
        var path = Write("train.jsonl",
            """{"prompt": "Once upon a time", "completion": "there was a cat."}""",
            $$"""{"prompt": "{{string.Concat(Enumerable.Repeat("the dog ran and ran. ", 20))}}", "completion": "The end."}""");
        var records = TrainingDataReader.Read(path, CustomizationTypes.FineTuning);
        var tokenization = TrainingTokenization.FromGguf(model);
        var e = Assert.Throws<TrainingDataException>(() => tokenization.Tokenize(records, 64, "train.jsonl"));
        Assert.Equal(2, e.Line);
        Assert.Contains("longer than the 64 tokens", e.Message);
    }

    [Fact]
    public void Conversation_PromptAndReply_OnlyTheReplyAndItsEndCountInTheLoss()
    {
        if (SharedFiles.Path("models/stories260K.gguf") is not { } model) return;
        var tokenization = TrainingTokenization.FromGguf(model);
        var record = new TrainingRecord(1, null, null, [new TrainingTurn("user", "Once upon a time")], "there was a cat.");
        var example = tokenization.Conversation(record);
        var promptLength = example.LossMask!.TakeWhile(m => !m).Count();
        Assert.True(promptLength > 3);
        Assert.All(example.LossMask!.Skip(promptLength), Assert.True);
        Assert.Equal(2, example.Tokens[^1]); // stories260K's EOS: the model learns to stop after the reply
    }
}
