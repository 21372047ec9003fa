using Basalt.Engine.Gguf;
using Basalt.Engine.Templates;
using Basalt.Engine.Tokenization;
using Basalt.Engine.Training;

namespace Basalt.Server.Customization;

/// <summary>Turns training records into token sequences with the base model's tokenizer and chat template, the same way the
/// local provider renders a Converse request, so a fine-tuned model sees at serving time exactly the prompt it learned on.</summary>
public sealed class TrainingTokenization
{
    private static readonly DateTime FixedDate = new(2025, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    private readonly Tokenizer _tokenizer;
    private readonly ChatTemplate _template;
    private readonly string _bos;
    private readonly string _eos;

    private TrainingTokenization(Tokenizer tokenizer, string? templateSource, int contextLength)
    {
        ContextLength = contextLength;
        _tokenizer = tokenizer;
        _template = templateSource is { Length: > 0 } ? ChatTemplate.Parse(templateSource) : ChatTemplate.Fallback;
        _bos = tokenizer.BosId >= 0 ? tokenizer.TokenText(tokenizer.BosId) : "";
        _eos = tokenizer.EosId >= 0 ? tokenizer.TokenText(tokenizer.EosId) : "";
    }

    /// <summary>Reads the tokenizer and chat template of a GGUF model.</summary>
    public static TrainingTokenization FromGguf(string path)
    {
        using var file = GgufFile.Open(path);
        var context = file.GetInt32(GgufKeys.ForArch(GgufKeys.ContextLength, file.Architecture), 2048);
        return new TrainingTokenization(Tokenizer.FromGguf(file), file.GetString(GgufKeys.ChatTemplate, null), context);
    }

    /// <summary>The base model's context length, in tokens.</summary>
    public int ContextLength { get; }

    /// <summary>The sequence length a job trains on when its sequenceLength hyper-parameter is unset: the model's context
    /// (less the one token a sequence of n predictions reads beyond them), capped so small jobs stay fast.</summary>
    public int DefaultSequenceLimit => Math.Max(2, Math.Min(ContextLength - 1, JobHyperParameters.DefaultMaxSequence));

    /// <summary>Tokenizes every record; a record with more than <paramref name="sequenceLength"/> predicted tokens is an error
    /// naming its line (continued pre-training text is cut into windows of that length instead, overlapping by one token).</summary>
    public List<TrainingExample> Tokenize(IReadOnlyList<TrainingRecord> records, int sequenceLength, string file)
    {
        var examples = new List<TrainingExample>(records.Count);
        foreach (var r in records)
        {
            if (r.Input is not null)
            {
                AddWindows(examples, r.Input, sequenceLength);
                continue;
            }
            var example = Conversation(r);
            if (example.Tokens.Length > sequenceLength + 1)
                throw new TrainingDataException(file, r.Line,
                    $"the example is {example.Tokens.Length} tokens, longer than the {sequenceLength} tokens the job trains on (the base model's context or the sequenceLength hyper-parameter). Shorten it or raise sequenceLength.");
            examples.Add(example);
        }
        return examples;
    }

    /// <summary>The prompt text of a record's turns, rendered as the local provider renders a request (generation prompt on).</summary>
    public string RenderPrompt(TrainingRecord record) => _template.Render(Input(record, null));

    /// <summary>One conversation: the prompt's tokens are masked out of the loss; the reply (and its end token) count.</summary>
    public TrainingExample Conversation(TrainingRecord record)
    {
        var completion = record.Completion ?? throw new InvalidOperationException("A conversation record without its reply cannot be trained on.");
        var prompt = _template.Render(Input(record, null));
        // The template's own rendering of the reply carries its end-of-turn marker; fall back to reply + EOS when the template
        // renders the prompt differently once the reply is there.
        var full = _template.Render(Input(record, completion));
        var reply = full.StartsWith(prompt, StringComparison.Ordinal) && full.Length > prompt.Length ? full[prompt.Length..] : completion;
        var promptTokens = Encode(prompt);
        var replyTokens = _tokenizer.Encode(reply, addSpecial: false, parseSpecial: true);
        var endsTurn = replyTokens.Length > 0 && _tokenizer.IsEndOfGeneration(replyTokens[^1]);
        var count = promptTokens.Length + replyTokens.Length + (endsTurn || _tokenizer.EosId < 0 ? 0 : 1);
        var tokens = new int[count];
        var mask = new bool[count];
        promptTokens.CopyTo(tokens, 0);
        replyTokens.CopyTo(tokens, promptTokens.Length);
        if (count > promptTokens.Length + replyTokens.Length)
            tokens[^1] = _tokenizer.EosId;
        for (var i = promptTokens.Length; i < count; i++)
            mask[i] = true;
        return new TrainingExample(tokens, mask);
    }

    private void AddWindows(List<TrainingExample> examples, string text, int sequenceLength)
    {
        var ids = _tokenizer.Encode(text, addSpecial: true, parseSpecial: false);
        var tokens = _tokenizer.EosId >= 0 && !(_tokenizer.AddEos && ids.Length > 0 && ids[^1] == _tokenizer.EosId) ? [.. ids, _tokenizer.EosId] : ids;
        for (var start = 0; start < tokens.Length - 1; start += sequenceLength)
        {
            var length = Math.Min(sequenceLength + 1, tokens.Length - start);
            if (length < 2)
                break;
            examples.Add(new TrainingExample(tokens.AsSpan(start, length).ToArray()));
        }
    }

    private int[] Encode(string text)
    {
        // Templates that print bos_token themselves must not get a second BOS from the tokenizer (as in the local provider).
        var addSpecial = _bos.Length == 0 || !text.StartsWith(_bos, StringComparison.Ordinal);
        return _tokenizer.Encode(text, addSpecial, parseSpecial: true);
    }

    private ChatTemplateInput Input(TrainingRecord record, string? reply)
    {
        var messages = new List<ChatMessage>();
        if (record.System is not null)
            messages.Add(new ChatMessage("system", record.System));
        foreach (var t in record.Turns)
            messages.Add(new ChatMessage(t.Role, t.Text));
        if (reply is not null)
            messages.Add(new ChatMessage("assistant", reply));
        // A fixed date: templates that print today's date must render the same tokens when a job resumes another day.
        return new ChatTemplateInput { Messages = messages, AddGenerationPrompt = reply is null, BosToken = _bos, EosToken = _eos, Now = FixedDate };
    }
}
