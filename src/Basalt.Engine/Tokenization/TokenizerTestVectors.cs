namespace Basalt.Engine.Tokenization;

/// <summary>One llama.cpp tokenizer test vector: an input and the ids it must encode to (no BOS/EOS, special tokens not parsed).</summary>
internal sealed record TokenizerTestCase(string Input, int[] Expected);

/// <summary>A test vector whose encoding differed from the expectation.</summary>
internal sealed record TokenizerMismatch(int Index, string Input, int[] Expected, int[] Actual);

/// <summary>Reads and runs llama.cpp's tokenizer test vectors: NAME.inp holds inputs each followed by the line
/// "__ggml_vocab_test__"; NAME.out holds one line of space-separated ids per input.</summary>
internal static class TokenizerTestVectors
{
    /// <summary>The line that ends each input in a .inp file.</summary>
    public const string Separator = "__ggml_vocab_test__";

    /// <summary>Pairs the inputs of <paramref name="inputPath"/> with the ids of <paramref name="expectedPath"/>; throws
    /// <see cref="InvalidDataException"/> when the files disagree in count or an id is not a number.</summary>
    public static IReadOnlyList<TokenizerTestCase> Load(string inputPath, string expectedPath)
    {
        var inputs = File.ReadAllText(inputPath).Split("\n" + Separator + "\n");
        var inputCount = inputs.Length - 1; // the text after the last separator is not a case
        if (inputCount < 0 || inputs[^1].Length != 0)
            throw new InvalidDataException($"{inputPath}: every input must end with a line \"{Separator}\".");
        var lines = File.ReadAllText(expectedPath).Split('\n');
        var lineCount = lines[^1].Length == 0 ? lines.Length - 1 : lines.Length;
        if (lineCount != inputCount)
            throw new InvalidDataException($"{expectedPath} has {lineCount} lines of ids but {inputPath} has {inputCount} inputs.");
        var cases = new TokenizerTestCase[inputCount];
        for (var i = 0; i < inputCount; i++)
        {
            var parts = lines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var ids = new int[parts.Length];
            for (var j = 0; j < parts.Length; j++)
            {
                if (!int.TryParse(parts[j], System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out ids[j]))
                    throw new InvalidDataException($"{expectedPath} line {i + 1}: '{parts[j]}' is not a token id.");
            }
            cases[i] = new TokenizerTestCase(inputs[i], ids);
        }
        return cases;
    }

    /// <summary>Encodes every case without BOS/EOS and without parsing special tokens; returns the mismatches.</summary>
    public static List<TokenizerMismatch> Run(Tokenizer tokenizer, IReadOnlyList<TokenizerTestCase> cases)
    {
        var mismatches = new List<TokenizerMismatch>();
        for (var i = 0; i < cases.Count; i++)
        {
            var actual = tokenizer.Encode(cases[i].Input, addSpecial: false, parseSpecial: false);
            if (!actual.AsSpan().SequenceEqual(cases[i].Expected))
                mismatches.Add(new TokenizerMismatch(i, cases[i].Input, cases[i].Expected, actual));
        }
        return mismatches;
    }
}
