using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Basalt.Engine.Generation;
using Basalt.Engine.Gguf;
using Basalt.Engine.Models;
using Basalt.Engine.Templates;

namespace Basalt.Cli.Commands;

/// <summary>`basalt run MODEL "PROMPT"`: loads a GGUF model and streams a completion to the terminal.</summary>
internal static class RunCommand
{
    /// <summary>What `basalt run` was asked to do.</summary>
    internal sealed record Settings(string Model, string Prompt)
    {
        public bool Raw { get; init; }
        public float Temperature { get; init; } = 0.8f;
        public int MaxTokens { get; init; } = 256;
        public ulong? Seed { get; init; }
        public int? Threads { get; init; }
        public int? ContextLength { get; init; }
        public bool Verbose { get; init; }
    }

    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "Path of a .gguf model file." };
        var prompt = new Argument<string>("prompt") { Description = "The prompt (a user message, or raw text with --raw)." };
        var raw = new Option<bool>("--raw") { Description = "No chat template: BOS + the prompt as text; prints the prompt, then the continuation." };
        var temperature = new Option<float>("--temperature", "-t") { Description = "Sampling temperature; 0 is greedy.", DefaultValueFactory = _ => 0.8f };
        var maxTokens = new Option<int>("--max-tokens", "-n") { Description = "Most tokens to generate.", DefaultValueFactory = _ => 256 };
        var seed = new Option<ulong?>("--seed") { Description = "Random seed (same seed, same output)." };
        var threads = new Option<int?>("--threads") { Description = "Threads for the forward pass (default: all processors)." };
        var context = new Option<int?>("--context") { Description = $"Context length (default: the model's, at most {LanguageModel.DefaultMaxContext})." };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Print load time and speed to stderr." };
        var command = new Command("run", "Run a local GGUF model on one prompt and stream the output.")
        {
            model, prompt, raw, temperature, maxTokens, seed, threads, context, verbose,
        };
        command.SetAction((parse, ct) => Task.FromResult(Run(new Settings(parse.GetRequiredValue(model), parse.GetRequiredValue(prompt))
        {
            Raw = parse.GetValue(raw),
            Temperature = parse.GetValue(temperature),
            MaxTokens = parse.GetValue(maxTokens),
            Seed = parse.GetValue(seed),
            Threads = parse.GetValue(threads),
            ContextLength = parse.GetValue(context),
            Verbose = parse.GetValue(verbose),
        }, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, ct)));
        return command;
    }

    /// <summary>Runs the prompt; returns the exit code (0; 1 for a model or prompt the engine cannot use; 2 for bad options).</summary>
    internal static int Run(Settings s, TextWriter output, TextWriter error, CancellationToken ct)
    {
        var options = new GenerationOptions { Temperature = s.Temperature, MaxTokens = s.MaxTokens, Seed = s.Seed };
        try
        {
            options.Validate();
        }
        catch (ArgumentException e)
        {
            error.WriteLine($"error: {e.Message}");
            return 2;
        }
        if (s.Threads is < 1)
        {
            error.WriteLine("error: --threads must be at least 1.");
            return 2;
        }
        var loadTimer = Stopwatch.StartNew();
        LanguageModel model;
        try
        {
            model = LanguageModel.Load(s.Model, new ModelLoadOptions { Threads = s.Threads, MaxContextLength = s.ContextLength });
        }
        catch (Exception e) when (e is GgufFormatException or GgufMetadataException or IOException or UnauthorizedAccessException or NotSupportedException)
        {
            error.WriteLine($"error: cannot load {s.Model}: {e.Message}");
            return 1;
        }
        using (model)
        {
            var load = loadTimer.Elapsed;
            var tokenizer = model.Tokenizer;
            int[] ids;
            if (s.Raw)
            {
                ids = tokenizer.Encode(s.Prompt, addSpecial: true);
                if (ids.Length == 0)
                    ids = [tokenizer.BosId];
                output.Write(s.Prompt);
            }
            else
            {
                if (model.ChatTemplate is not { Length: > 0 })
                    error.WriteLine("note: the model has no chat template; using a generic one (use --raw for plain text continuation).");
                ids = ChatPrompt(model, s.Prompt);
            }
            output.Flush();
            var timer = Stopwatch.StartNew();
            TimeSpan? firstToken = null;
            GenerationResult result;
            try
            {
                result = model.CreateGenerator().Generate(ids, options, t =>
                {
                    firstToken ??= timer.Elapsed;
                    output.Write(t.Text);
                    output.Flush();
                    return true;
                }, ct);
            }
            catch (ContextOverflowException e)
            {
                error.WriteLine($"error: {e.Message}");
                return 1;
            }
            var total = timer.Elapsed;
            output.WriteLine();
            if (s.Verbose)
            {
                var inv = CultureInfo.InvariantCulture;
                var ttft = firstToken ?? total;
                var decode = result.GeneratedTokens > 1 ? (result.GeneratedTokens - 1) / (total - ttft).TotalSeconds : 0;
                error.WriteLine(string.Create(inv,
                    $"[{model.Architecture}, {model.WeightBytes / 1048576.0:F1} MiB weights, {model.Threads} threads] load {load.TotalMilliseconds:F0} ms; " +
                    $"prompt {result.PromptTokens} tokens, first token after {ttft.TotalMilliseconds:F0} ms; " +
                    $"{result.GeneratedTokens} generated at {decode:F1} tokens/s; finish: {result.FinishReason}"));
            }
            return 0;
        }
    }

    /// <summary>The prompt as one user message through the model's chat template (or the generic one), tokenized with special tokens parsed.</summary>
    internal static int[] ChatPrompt(LanguageModel model, string prompt)
    {
        var tokenizer = model.Tokenizer;
        var template = model.ChatTemplate is { Length: > 0 } source ? ChatTemplate.Parse(source) : ChatTemplate.Fallback;
        var text = template.Render(new ChatTemplateInput
        {
            Messages = [new ChatMessage("user", prompt)],
            AddGenerationPrompt = true,
            BosToken = tokenizer.TokenText(tokenizer.BosId),
            EosToken = tokenizer.TokenText(tokenizer.EosId),
        });
        var ids = tokenizer.Encode(text, addSpecial: false, parseSpecial: true);
        // Templates usually write the BOS text themselves; add it only when the tokenizer wants one and the template did not.
        if (tokenizer.AddBos && (ids.Length == 0 || ids[0] != tokenizer.BosId))
            ids = [tokenizer.BosId, .. ids];
        return ids;
    }
}
