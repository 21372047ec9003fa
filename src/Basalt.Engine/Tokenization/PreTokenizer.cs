using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Basalt.Engine.Tokenization;

/// <summary>Splits text into words before byte-level BPE, with the regex cascade named by tokenizer.ggml.pre.
/// Each regex splits every fragment left by the previous one; both the matches and the text between them
/// become fragments (the way llama.cpp's unicode_regex_split works), so a regex never sees past its fragment.</summary>
internal sealed class PreTokenizer
{
    // The GPT-2 pattern, shared by many families.
    private const string Gpt2 = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)";
    private const string Llama3 = @"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    private const string Qwen2 = @"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    private const string Poro = @" ?[^(\s|.,!?…。，、।۔،)]+";
    private const string CjkAndBeyond = "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+";
    private const string Tekken = @"[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)";
    private const string Gpt4o = @"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    // DeepSeek LLM's letter class, without its supplementary-plane ranges (text is matched one UTF-16 unit per code point here).
    private const string DeepSeekLetters = "A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ";

    /// <summary>Pre-tokenizer names (tokenizer.ggml.pre) and their regex cascades, after llama.cpp's llama-vocab.cpp.</summary>
    private static readonly Dictionary<string, string[]> Cascades = BuildCascades();

    private static readonly Dictionary<string, PreTokenizer> Cache = new(StringComparer.Ordinal);

    [ThreadStatic] private static Scratch? t_scratch;

    private readonly Regex[] _regexes;

    private PreTokenizer(string name, string[] patterns)
    {
        Name = name;
        _regexes = new Regex[patterns.Length];
        for (var i = 0; i < patterns.Length; i++)
            _regexes[i] = new Regex(patterns[i], RegexOptions.Compiled | RegexOptions.CultureInvariant);
    }

    /// <summary>The pre-tokenizer's name.</summary>
    public string Name { get; }

    /// <summary>Every name <see cref="ForName"/> accepts.</summary>
    public static IReadOnlyCollection<string> KnownNames => Cascades.Keys;

    /// <summary>The pre-tokenizer for <paramref name="name"/> ("default" when null or empty); throws for a name it does not know,
    /// since guessing would silently tokenize differently from the model's training.</summary>
    public static PreTokenizer ForName(string? name)
    {
        name = string.IsNullOrEmpty(name) ? "default" : name;
        lock (Cache)
        {
            if (Cache.TryGetValue(name, out var cached))
                return cached;
            if (!Cascades.TryGetValue(name, out var patterns))
                throw new NotSupportedException(
                    $"Unknown BPE pre-tokenizer '{name}' (tokenizer.ggml.pre). Supported: {string.Join(", ", Cascades.Keys.Order(StringComparer.Ordinal))}.");
            var created = new PreTokenizer(name, patterns);
            Cache[name] = created;
            return created;
        }
    }

    /// <summary>Appends the words of <paramref name="text"/> to <paramref name="words"/> as (start, length) in UTF-16 units of <paramref name="text"/>.</summary>
    public void Split(ReadOnlySpan<char> text, List<(int Start, int Length)> words)
    {
        if (text.IsEmpty)
            return;
        var scratch = t_scratch ??= new Scratch();
        // Regexes see one UTF-16 unit per code point: a supplementary code point is replaced by a BMP stand-in of the same
        // Unicode category, so \p{L} and friends classify it as llama.cpp (which works on code points) does.
        var collapsed = Collapse(text, scratch, out var hasSurrogates);
        var current = scratch.OffsetsA;
        var next = scratch.OffsetsB;
        current.Clear();
        current.Add(collapsed.Length);
        foreach (var regex in _regexes)
        {
            next.Clear();
            var start = 0;
            foreach (var length in current)
            {
                var fragment = collapsed.Slice(start, length);
                var cursor = 0;
                foreach (var match in regex.EnumerateMatches(fragment))
                {
                    if (match.Length == 0)
                        continue;
                    if (match.Index > cursor)
                        next.Add(match.Index - cursor);
                    next.Add(match.Length);
                    cursor = match.Index + match.Length;
                }
                if (cursor < length)
                    next.Add(length - cursor);
                start += length;
            }
            (current, next) = (next, current);
        }
        var position = 0;
        foreach (var length in current)
        {
            if (hasSurrogates)
            {
                var map = scratch.CharOffsets;
                words.Add((map[position], map[position + length] - map[position]));
            }
            else
            {
                words.Add((position, length));
            }
            position += length;
        }
    }

    private static ReadOnlySpan<char> Collapse(ReadOnlySpan<char> text, Scratch scratch, out bool hasSurrogates)
    {
        hasSurrogates = text.IndexOfAnyInRange('\uD800', '\uDFFF') >= 0;
        if (!hasSurrogates)
            return text;
        if (scratch.Collapsed.Length < text.Length)
            scratch.Collapsed = new char[Math.Max(text.Length, scratch.Collapsed.Length * 2)];
        if (scratch.CharOffsets.Length < text.Length + 1)
            scratch.CharOffsets = new int[Math.Max(text.Length + 1, scratch.CharOffsets.Length * 2)];
        var collapsed = scratch.Collapsed;
        var map = scratch.CharOffsets;
        var n = 0;
        var i = 0;
        while (i < text.Length)
        {
            map[n] = i;
            if (Rune.DecodeFromUtf16(text[i..], out var rune, out var consumed) == System.Buffers.OperationStatus.Done && consumed == 2)
                collapsed[n++] = StandIn(Rune.GetUnicodeCategory(rune));
            else
                collapsed[n++] = text[i];
            i += consumed == 0 ? 1 : consumed;
        }
        map[n] = text.Length;
        return collapsed.AsSpan(0, n);
    }

    /// <summary>A BMP character of <paramref name="category"/>, chosen outside the explicit ranges the cascades name.</summary>
    private static char StandIn(UnicodeCategory category) => category switch
    {
        UnicodeCategory.UppercaseLetter or UnicodeCategory.TitlecaseLetter => '\uA7B0',
        UnicodeCategory.LowercaseLetter => '\uA7B5',
        UnicodeCategory.ModifierLetter => '\u02B0',
        UnicodeCategory.OtherLetter => '\u05D0',
        UnicodeCategory.NonSpacingMark => '\u0300',
        UnicodeCategory.SpacingCombiningMark => '\u0903',
        UnicodeCategory.EnclosingMark => '\u20DD',
        UnicodeCategory.DecimalDigitNumber => '\u0660',
        UnicodeCategory.LetterNumber => '\u2160',
        UnicodeCategory.OtherNumber => '\u00B2',
        UnicodeCategory.ConnectorPunctuation => '\u203F',
        UnicodeCategory.DashPunctuation => '\u2010',
        UnicodeCategory.OpenPunctuation => '\u2045',
        UnicodeCategory.ClosePunctuation => '\u2046',
        UnicodeCategory.InitialQuotePunctuation => '\u00AB',
        UnicodeCategory.FinalQuotePunctuation => '\u00BB',
        UnicodeCategory.OtherPunctuation => '\u00A1',
        UnicodeCategory.MathSymbol => '\u00AC',
        UnicodeCategory.CurrencySymbol => '\u00A2',
        UnicodeCategory.ModifierSymbol => '\u02C2',
        UnicodeCategory.OtherSymbol => '\u00A9',
        UnicodeCategory.PrivateUse => '\uE000',
        UnicodeCategory.Format => '\u00AD',
        _ => '\u0378', // unassigned
    };

    private static Dictionary<string, string[]> BuildCascades()
    {
        string[] gpt2 = [Gpt2];
        string[] llama3 = [Llama3];
        string[] qwen2 = [Qwen2];
        string[] starcoder = [@"\p{N}", Gpt2];
        string[] poro = [Poro];
        var c = new Dictionary<string, string[]>(StringComparer.Ordinal)
        {
            ["default"] = [@"[\p{P}\$\+<=>\^~\|]+", Gpt2, @"\p{N}+", "[0-9][0-9][0-9]"],
            ["deepseek-llm"] = [@"[\r\n]", @"\s?[" + DeepSeekLetters + "]+", @"\s?[!-/:-~！-／：-～‘-‟　-。]+", @"\s+\z", CjkAndBeyond, @"\p{N}+"],
            ["deepseek-coder"] = [@"[\r\n]", @"\s?\p{L}+", @"\s?\p{P}+", CjkAndBeyond, @"\p{N}"],
            ["falcon"] = [@"[\p{P}\$\+<=>\^~\|`]+", Gpt2, "[0-9][0-9][0-9]"],
            ["viking"] = [Poro, @"\p{N}"],
            ["tekken"] = [Tekken],
            ["gpt-4o"] = [Gpt4o],
            ["llama4"] = [Gpt4o],
        };
        foreach (var name in (string[])["llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "dbrx", "smaug-bpe", "chatglm-bpe", "glm4"])
            c[name] = llama3;
        foreach (var name in (string[])["qwen2", "qwen2.5", "qwen-2.5", "deepseek-r1-qwen", "stablelm2", "megrez", "hunyuan"])
            c[name] = qwen2;
        foreach (var name in (string[])["starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b"])
            c[name] = starcoder;
        foreach (var name in (string[])["gpt-2", "phi-2", "mpt", "olmo", "jais", "trillion", "jina-es", "jina-de", "jina-v1-en", "jina-v2-es", "jina-v2-de", "jina-v2-code", "gigachat", "a.x-4.0", "mellum"])
            c[name] = gpt2;
        foreach (var name in (string[])["poro-chat", "bloom", "gpt3-finnish"])
            c[name] = poro;
        return c;
    }

    private sealed class Scratch
    {
        public readonly List<int> OffsetsA = new(64);
        public readonly List<int> OffsetsB = new(64);
        public char[] Collapsed = new char[256];
        public int[] CharOffsets = new int[257];
    }
}
