using System.Buffers;
using System.Text;
using Basalt.Engine.Gguf;

namespace Basalt.Engine.Tokenization;

/// <summary>Text ↔ token ids for a model, built from its GGUF tokenizer metadata: SentencePiece-style ("llama"),
/// byte-level BPE ("gpt2", with the pre-tokenizer named by tokenizer.ggml.pre) or WordPiece ("bert").
/// Thread-safe: one instance serves concurrent requests.</summary>
public sealed class Tokenizer
{
    /// <summary>Longest input <see cref="Encode"/> accepts, in UTF-16 units; protects the server from unbounded work.</summary>
    public const int MaxInputLength = 16 * 1024 * 1024;

    // Texts that end a turn in common chat formats (after llama.cpp's end-of-generation detection).
    private static readonly string[] EndOfTurnTexts =
        ["<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>",
         "<｜end▁of▁sentence｜>", "<end_of_utterance>", "<|return|>", "<|call|>"];
    private static readonly string[] EndOfMessageTexts = ["<|eom_id|>"];

    [ThreadStatic] private static List<int>? t_output;
    [ThreadStatic] private static List<Fragment>? t_fragments;
    [ThreadStatic] private static List<Fragment>? t_fragmentsNext;

    private readonly string[] _tokens;
    private readonly TokenType[] _types;
    private readonly VocabIndex _index;
    private readonly int[] _specialsByLength;
    private readonly int[] _endOfGeneration;
    private readonly byte[]?[] _pieces;
    private readonly SentencePieceEncoder? _sentencePiece;
    private readonly BytePairEncoder? _bytePair;
    private readonly WordPieceEncoder? _wordPiece;

    internal Tokenizer(TokenizerVocab vocab)
    {
        var n = vocab.Tokens.Length;
        if (n == 0)
            throw new ArgumentException("The vocabulary has no tokens (tokenizer.ggml.tokens is empty).", nameof(vocab));
        if (vocab.Scores is { } sc && sc.Length != n)
            throw new ArgumentException($"tokenizer.ggml.scores has {sc.Length} entries for {n} tokens.", nameof(vocab));
        if (vocab.Types is { } ty && ty.Length != n)
            throw new ArgumentException($"tokenizer.ggml.token_type has {ty.Length} entries for {n} tokens.", nameof(vocab));

        Kind = vocab.Kind;
        _tokens = vocab.Tokens;
        _types = vocab.Types ?? Filled(n, TokenType.Normal);
        _index = new VocabIndex(_tokens);
        _pieces = new byte[]?[n];

        int? Valid(int? id) => id is { } v && v >= 0 && v < n ? v : null;
        int OrDefault(int? stated, int fallback) => Valid(stated) ?? (fallback >= 0 && fallback < n ? fallback : -1);

        switch (Kind)
        {
            case TokenizerKind.SentencePiece:
                BosId = OrDefault(vocab.BosId, 1);
                EosId = OrDefault(vocab.EosId, 2);
                UnknownId = OrDefault(vocab.UnknownId, 0);
                AddBos = vocab.AddBos ?? true;
                AddEos = vocab.AddEos ?? false;
                AddSpacePrefix = vocab.AddSpacePrefix ?? true;
                _sentencePiece = new SentencePieceEncoder(_index, vocab.Scores ?? new float[n], UnknownId);
                break;
            case TokenizerKind.BytePair:
            {
                var pre = PreTokenizer.ForName(vocab.Pre);
                var llama3Like = pre.Name is "llama3" or "llama-v3" or "llama-bpe" or "falcon3" or "falcon-h1" or "pixtral" or "midm-2.0" or "lfm2";
                var tekken = pre.Name == "tekken";
                BosId = OrDefault(vocab.BosId, 11);
                EosId = OrDefault(vocab.EosId, 11);
                UnknownId = OrDefault(vocab.UnknownId, -1);
                AddBos = vocab.AddBos ?? (llama3Like || tekken);
                AddEos = vocab.AddEos ?? false;
                AddSpacePrefix = false;
                _bytePair = new BytePairEncoder(_index, vocab.Merges ?? [], pre, ignoreMerges: llama3Like || tekken);
                break;
            }
            case TokenizerKind.WordPiece:
                // BERT frames a sequence as [CLS] ... [SEP].
                BosId = OrDefault(vocab.ClsId ?? vocab.BosId, 101);
                EosId = OrDefault(vocab.SeparatorId ?? vocab.EosId, 102);
                UnknownId = OrDefault(vocab.UnknownId, 100);
                AddBos = vocab.AddBos ?? true;
                AddEos = vocab.AddEos ?? true;
                AddSpacePrefix = false;
                _wordPiece = new WordPieceEncoder(_index, UnknownId);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(vocab), vocab.Kind, "Unknown tokenizer kind.");
        }
        PaddingId = Valid(vocab.PaddingId) ?? -1;
        EndOfTurnId = Valid(vocab.EotId) ?? FindSpecialAmong(EndOfTurnTexts);
        EndOfMessageId = Valid(vocab.EomId) ?? FindSpecialAmong(EndOfMessageTexts);
        _endOfGeneration = CollectEndOfGeneration();
        _specialsByLength = CollectSpecials();
    }

    /// <summary>The tokenizer algorithm.</summary>
    public TokenizerKind Kind { get; }

    /// <summary>Number of tokens in the vocabulary.</summary>
    public int VocabSize => _tokens.Length;

    /// <summary>Beginning-of-sequence token ([CLS] for WordPiece), or -1.</summary>
    public int BosId { get; }

    /// <summary>End-of-sequence token ([SEP] for WordPiece), or -1.</summary>
    public int EosId { get; }

    /// <summary>Unknown token, or -1.</summary>
    public int UnknownId { get; }

    /// <summary>Padding token, or -1.</summary>
    public int PaddingId { get; }

    /// <summary>End-of-turn token (e.g. &lt;|eot_id|&gt;, &lt;|im_end|&gt;), or -1.</summary>
    public int EndOfTurnId { get; }

    /// <summary>End-of-message token (&lt;|eom_id|&gt;), or -1.</summary>
    public int EndOfMessageId { get; }

    /// <summary>Whether <see cref="Encode"/> with addSpecial prepends <see cref="BosId"/>.</summary>
    public bool AddBos { get; }

    /// <summary>Whether <see cref="Encode"/> with addSpecial appends <see cref="EosId"/>.</summary>
    public bool AddEos { get; }

    /// <summary>Whether SentencePiece encoding puts a space before text that starts the input or follows a special token.</summary>
    public bool AddSpacePrefix { get; }

    /// <summary>The BPE pre-tokenizer's name, or null for other kinds.</summary>
    public string? PreTokenizerName => _bytePair?.PreTokenizer.Name;

    /// <summary>Reads the tokenizer from a GGUF file's tokenizer.ggml.* metadata; throws <see cref="GgufMetadataException"/>
    /// when it is missing or inconsistent and <see cref="NotSupportedException"/> for an unsupported tokenizer model or pre-tokenizer.</summary>
    public static Tokenizer FromGguf(GgufFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        var model = file.GetString(GgufKeys.TokenizerModel, null)
            ?? throw new GgufMetadataException($"{file.Name}: has no tokenizer ({GgufKeys.TokenizerModel} is missing).");
        var kind = model switch
        {
            "llama" => TokenizerKind.SentencePiece,
            "gpt2" => TokenizerKind.BytePair,
            "bert" => TokenizerKind.WordPiece,
            _ => throw new NotSupportedException(
                $"{file.Name}: tokenizer model '{model}' is not supported (supported: llama, gpt2, bert)."),
        };
        TokenType[]? types = null;
        if (file.ContainsKey(GgufKeys.TokenizerTokenType))
        {
            var raw = file.GetInt32Array(GgufKeys.TokenizerTokenType);
            types = new TokenType[raw.Length];
            for (var i = 0; i < raw.Length; i++)
                types[i] = raw[i] is >= 0 and <= (int)TokenType.Byte ? (TokenType)raw[i] : TokenType.Undefined;
        }
        // Converters write uint32 max (or -1) for "no such token".
        int? Id(string key) => file.ContainsKey(key) && file.GetInt64(key) is var v && v is >= 0 and < int.MaxValue ? (int)v : null;
        bool? Flag(string key) => file.ContainsKey(key) ? file.GetBool(key) : null;
        var vocab = new TokenizerVocab
        {
            Kind = kind,
            Tokens = file.GetStringArray(GgufKeys.TokenizerTokens),
            Scores = file.ContainsKey(GgufKeys.TokenizerScores) ? file.GetFloat32Array(GgufKeys.TokenizerScores) : null,
            Types = types,
            Merges = file.ContainsKey(GgufKeys.TokenizerMerges) ? file.GetStringArray(GgufKeys.TokenizerMerges) : null,
            Pre = file.GetString(GgufKeys.TokenizerPre, null),
            BosId = Id(GgufKeys.TokenizerBosId),
            EosId = Id(GgufKeys.TokenizerEosId),
            UnknownId = Id(GgufKeys.TokenizerUnknownId),
            PaddingId = Id(GgufKeys.TokenizerPaddingId),
            SeparatorId = Id(GgufKeys.TokenizerSeparatorId),
            ClsId = Id(GgufKeys.TokenizerClsId),
            EotId = Id(GgufKeys.TokenizerEotId),
            EomId = Id(GgufKeys.TokenizerEomId),
            AddBos = Flag(GgufKeys.TokenizerAddBos),
            AddEos = Flag(GgufKeys.TokenizerAddEos),
            AddSpacePrefix = Flag(GgufKeys.TokenizerAddSpacePrefix),
        };
        if (kind == TokenizerKind.BytePair && vocab.Merges is null)
            throw new GgufMetadataException($"{file.Name}: a gpt2 (BPE) tokenizer needs {GgufKeys.TokenizerMerges}, which is missing.");
        try
        {
            return new Tokenizer(vocab);
        }
        catch (ArgumentException e)
        {
            throw new GgufMetadataException($"{file.Name}: {e.Message}");
        }
    }

    /// <summary>Token ids of <paramref name="text"/>. <paramref name="addSpecial"/> adds BOS/EOS as the model's flags say;
    /// <paramref name="parseSpecial"/> turns the text of control tokens (e.g. "&lt;|im_end|&gt;") into those tokens, which
    /// otherwise are tokenized as plain text. User-defined tokens are always matched.</summary>
    public int[] Encode(string text, bool addSpecial = true, bool parseSpecial = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length > MaxInputLength)
            throw new ArgumentException($"Text of {text.Length} characters is longer than the tokenizer's limit of {MaxInputLength}.", nameof(text));
        var output = t_output ??= new List<int>(1024);
        output.Clear();
        if (addSpecial && AddBos && BosId >= 0)
            output.Add(BosId);

        var fragments = Partition(text, parseSpecial);
        var afterSpecial = true;
        foreach (var fragment in fragments)
        {
            if (fragment.Token >= 0)
            {
                output.Add(fragment.Token);
                afterSpecial = true;
                continue;
            }
            var raw = text.AsSpan(fragment.Start, fragment.Length);
            if (_sentencePiece is not null)
                _sentencePiece.Encode(raw, AddSpacePrefix && afterSpecial, output);
            else if (_bytePair is not null)
                _bytePair.Encode(raw, output);
            else
                _wordPiece!.Encode(raw, output);
            afterSpecial = false;
        }

        if (addSpecial && AddEos && EosId >= 0)
            output.Add(EosId);
        var result = output.ToArray();
        if (output.Capacity > 1 << 20)
            t_output = null; // do not pin a huge buffer to the thread
        return result;
    }

    /// <summary>The text of <paramref name="ids"/>. Control tokens (BOS, EOS, chat markers) decode to nothing; the space
    /// SentencePiece encoding put before the text is removed, so Decode(Encode(s)) == s.</summary>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var buffer = new ArrayBufferWriter<byte>(ids.Length * 4 + 16);
        var atStart = true;
        foreach (var id in ids)
        {
            var piece = PieceBytes(id);
            if (piece.IsEmpty)
                continue;
            if (atStart && StripsLeadingSpace && piece[0] == (byte)' ')
                piece = piece[1..];
            atStart = false;
            buffer.Write(piece);
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>A decoder for tokens arriving one at a time, which never splits a UTF-8 character between outputs.</summary>
    public StreamingDecoder CreateStreamingDecoder() => new(this);

    /// <summary>Whether generation should stop at <paramref name="id"/> (end of sequence, end of turn, end of message).</summary>
    public bool IsEndOfGeneration(int id) => Array.IndexOf(_endOfGeneration, id) >= 0;

    /// <summary>The token's text as stored in the vocabulary (e.g. "▁Once", "Ġthe", "&lt;0x0A&gt;"); throws for an id out of range.</summary>
    public string TokenText(int id) => _tokens[CheckId(id)];

    /// <summary>The token's type.</summary>
    public TokenType GetTokenType(int id) => _types[CheckId(id)];

    /// <summary>The id of the control, user-defined or unknown token whose text is exactly <paramref name="text"/>, or null.</summary>
    public int? FindSpecial(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return _index.TryGetId(text, out var id) && IsSpecialType(_types[id]) ? id : null;
    }

    /// <summary>The id of the vocabulary entry whose text is exactly <paramref name="text"/>, or null.</summary>
    public int? FindToken(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return _index.TryGetId(text, out var id) ? id : null;
    }

    /// <summary>The bytes <paramref name="id"/> contributes to decoded text (empty for control tokens).</summary>
    internal ReadOnlySpan<byte> PieceBytes(int id)
    {
        if ((uint)id >= (uint)_tokens.Length)
            return default;
        return _pieces[id] ??= BuildPiece(id);
    }

    /// <summary>Whether decoding drops the space SentencePiece put at the start of the text.</summary>
    internal bool StripsLeadingSpace => Kind == TokenizerKind.SentencePiece ? AddSpacePrefix : Kind == TokenizerKind.WordPiece;

    private byte[] BuildPiece(int id)
    {
        var text = _tokens[id];
        switch (_types[id])
        {
            case TokenType.Control or TokenType.Unknown:
                return [];
            case TokenType.UserDefined:
                return Encoding.UTF8.GetBytes(text);
            case TokenType.Byte when Kind != TokenizerKind.BytePair:
                return text.Length == 6 && text.StartsWith("<0x", StringComparison.Ordinal)
                       && byte.TryParse(text.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out var b)
                    ? [b]
                    : Encoding.UTF8.GetBytes(text);
            case TokenType.Normal or TokenType.Undefined or TokenType.Byte:
                if (Kind == TokenizerKind.BytePair)
                {
                    var bytes = new byte[text.Length * 3];
                    var count = 0;
                    foreach (var c in text)
                    {
                        var value = ByteLevel.ToByte(c);
                        if (value >= 0)
                            bytes[count++] = (byte)value;
                        else
                            count += Encoding.UTF8.GetBytes([c], bytes.AsSpan(count));
                    }
                    return bytes[..count];
                }
                return Encoding.UTF8.GetBytes(text.Replace(SentencePieceEncoder.SpaceMarker, ' '));
            default:
                return []; // unused
        }
    }

    /// <summary>Splits <paramref name="text"/> at special tokens (longest first), as llama.cpp's tokenizer_st_partition does.</summary>
    private List<Fragment> Partition(string text, bool parseSpecial)
    {
        var fragments = t_fragments ??= new List<Fragment>(16);
        var next = t_fragmentsNext ??= new List<Fragment>(16);
        fragments.Clear();
        if (text.Length == 0)
            return fragments;
        fragments.Add(new Fragment(-1, 0, text.Length));
        foreach (var id in _specialsByLength)
        {
            if (!parseSpecial && _types[id] != TokenType.UserDefined)
                continue;
            var special = _tokens[id];
            if (!text.Contains(special, StringComparison.Ordinal))
                continue;
            next.Clear();
            foreach (var fragment in fragments)
            {
                if (fragment.Token >= 0)
                {
                    next.Add(fragment);
                    continue;
                }
                var start = fragment.Start;
                var end = fragment.Start + fragment.Length;
                while (start < end)
                {
                    var found = text.AsSpan(start, end - start).IndexOf(special, StringComparison.Ordinal);
                    if (found < 0)
                        break;
                    if (found > 0)
                        next.Add(new Fragment(-1, start, found));
                    next.Add(new Fragment(id, 0, 0));
                    start += found + special.Length;
                }
                if (start < end)
                    next.Add(new Fragment(-1, start, end - start));
            }
            (fragments, next) = (next, fragments);
        }
        t_fragments = fragments;
        t_fragmentsNext = next;
        return fragments;
    }

    private int[] CollectSpecials()
    {
        var specials = new List<int>();
        for (var id = 0; id < _tokens.Length; id++)
        {
            if (IsSpecialType(_types[id]) && _tokens[id].Length > 0)
                specials.Add(id);
        }
        var array = specials.ToArray();
        var byteLengths = new int[array.Length];
        for (var i = 0; i < array.Length; i++)
            byteLengths[i] = Encoding.UTF8.GetByteCount(_tokens[array[i]]);
        // Longest first, so "<|im_end|>" wins over a shorter token inside it; ids break ties for a stable order.
        var order = new int[array.Length];
        for (var i = 0; i < order.Length; i++)
            order[i] = i;
        Array.Sort(order, (a, b) => byteLengths[a] != byteLengths[b] ? byteLengths[b].CompareTo(byteLengths[a]) : array[a].CompareTo(array[b]));
        var sorted = new int[array.Length];
        for (var i = 0; i < order.Length; i++)
            sorted[i] = array[order[i]];
        return sorted;
    }

    private int[] CollectEndOfGeneration()
    {
        var set = new List<int>();
        void Add(int id)
        {
            if (id >= 0 && !set.Contains(id))
                set.Add(id);
        }
        Add(EosId);
        Add(EndOfTurnId);
        Add(EndOfMessageId);
        if (Kind != TokenizerKind.WordPiece)
        {
            foreach (var text in EndOfTurnTexts)
                Add(FindSpecialId(text));
            foreach (var text in EndOfMessageTexts)
                Add(FindSpecialId(text));
        }
        return set.ToArray();
    }

    private int FindSpecialAmong(string[] texts)
    {
        foreach (var text in texts)
        {
            var id = FindSpecialId(text);
            if (id >= 0)
                return id;
        }
        return -1;
    }

    private int FindSpecialId(string text) =>
        _index.TryGetId(text, out var id) && _types[id] is TokenType.Control or TokenType.UserDefined ? id : -1;

    private static bool IsSpecialType(TokenType type) => type is TokenType.Control or TokenType.UserDefined or TokenType.Unknown;

    private int CheckId(int id) => (uint)id < (uint)_tokens.Length
        ? id
        : throw new ArgumentOutOfRangeException(nameof(id), id, $"Token id must be in [0, {_tokens.Length}).");

    private static TokenType[] Filled(int n, TokenType value)
    {
        var a = new TokenType[n];
        Array.Fill(a, value);
        return a;
    }

    /// <summary>A run of raw text (Token = -1) or one special token.</summary>
    private readonly record struct Fragment(int Token, int Start, int Length);
}
