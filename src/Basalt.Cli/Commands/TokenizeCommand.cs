using System.CommandLine;
using System.Text;
using Basalt.Engine.Gguf;
using Basalt.Engine.Tokenization;

namespace Basalt.Cli.Commands;

/// <summary>`basalt tokenize FILE "TEXT"`: prints a model's token ids for a text, or checks llama.cpp tokenizer test vectors.</summary>
internal static class TokenizeCommand
{
    /// <summary>Exit code when the command ran and every case matched.</summary>
    public const int Success = 0;
    /// <summary>Exit code when at least one test vector did not match.</summary>
    public const int Mismatch = 1;
    /// <summary>Exit code for bad arguments or an unreadable file.</summary>
    public const int UsageError = 2;

    public static Command Create(TextWriter? output = null, TextWriter? error = null)
    {
        var file = new Argument<string>("file") { Description = "GGUF file holding the tokenizer (a model or a vocab-only file)." };
        var text = new Argument<string?>("text") { Description = "Text to tokenize.", Arity = ArgumentArity.ZeroOrOne };
        var pieces = new Option<bool>("--pieces") { Description = "Print one token per line: id and its vocabulary text." };
        var noSpecial = new Option<bool>("--no-special") { Description = "Do not add BOS/EOS." };
        var parseSpecial = new Option<bool>("--parse-special") { Description = "Turn control-token text such as <|im_end|> into those tokens." };
        var cases = new Option<string?>("--cases") { Description = "llama.cpp test inputs (NAME.inp, cases separated by __ggml_vocab_test__ lines)." };
        var expect = new Option<string?>("--expect") { Description = "Expected ids for --cases (NAME.out, one line per case)." };
        var command = new Command("tokenize", "Tokenize text with a GGUF file's tokenizer, or check it against llama.cpp test vectors.")
        {
            file, text, pieces, noSpecial, parseSpecial, cases, expect,
        };
        command.SetAction(parse =>
        {
            var stdout = output ?? Console.Out;
            var stderr = error ?? Console.Error;
            var casesPath = parse.GetValue(cases);
            var expectPath = parse.GetValue(expect);
            var input = parse.GetValue(text);
            if ((casesPath is null) != (expectPath is null))
                return Fail(stderr, "--cases and --expect go together: give both the .inp and the .out file.");
            if (casesPath is null && input is null)
                return Fail(stderr, "give a TEXT to tokenize, or --cases NAME.inp --expect NAME.out.");
            if (casesPath is not null && input is not null)
                return Fail(stderr, "give either a TEXT or --cases/--expect, not both.");

            Tokenizer tokenizer;
            try
            {
                using var gguf = GgufFile.Open(parse.GetValue(file)!);
                tokenizer = Tokenizer.FromGguf(gguf);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or GgufFormatException or GgufMetadataException or NotSupportedException)
            {
                return Fail(stderr, e.Message);
            }

            if (casesPath is not null)
                return RunCases(tokenizer, casesPath, expectPath!, stdout, stderr);

            var ids = tokenizer.Encode(input!, addSpecial: !parse.GetValue(noSpecial), parseSpecial: parse.GetValue(parseSpecial));
            if (parse.GetValue(pieces))
            {
                foreach (var id in ids)
                    stdout.WriteLine($"{id,7} {Quote(tokenizer.TokenText(id))}");
            }
            else
            {
                stdout.WriteLine(string.Join(' ', ids));
            }
            return Success;
        });
        return command;
    }

    private static int RunCases(Tokenizer tokenizer, string casesPath, string expectPath, TextWriter stdout, TextWriter stderr)
    {
        IReadOnlyList<TokenizerTestCase> vectors;
        try
        {
            vectors = TokenizerTestVectors.Load(casesPath, expectPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            return Fail(stderr, e.Message);
        }
        var mismatches = TokenizerTestVectors.Run(tokenizer, vectors);
        foreach (var m in mismatches)
        {
            stdout.WriteLine($"MISMATCH case {m.Index + 1}: {Quote(m.Input)}");
            stdout.WriteLine($"  expected: {string.Join(' ', m.Expected)}");
            stdout.WriteLine($"  got:      {string.Join(' ', m.Actual)}");
        }
        stdout.WriteLine($"{vectors.Count - mismatches.Count} passed, {mismatches.Count} failed ({vectors.Count} cases, {Path.GetFileName(casesPath)})");
        return mismatches.Count == 0 ? Success : Mismatch;
    }

    private static int Fail(TextWriter stderr, string message)
    {
        stderr.WriteLine($"error: {message}");
        return UsageError;
    }

    /// <summary>The text in double quotes with control characters escaped, so whitespace tokens are visible.</summary>
    private static string Quote(string s)
    {
        var b = new StringBuilder(s.Length + 2).Append('"');
        foreach (var c in s)
        {
            _ = c switch
            {
                '\n' => b.Append("\\n"),
                '\r' => b.Append("\\r"),
                '\t' => b.Append("\\t"),
                '"' => b.Append("\\\""),
                '\\' => b.Append("\\\\"),
                < ' ' => b.Append($"\\x{(int)c:X2}"),
                _ => b.Append(c),
            };
        }
        return b.Append('"').ToString();
    }
}
