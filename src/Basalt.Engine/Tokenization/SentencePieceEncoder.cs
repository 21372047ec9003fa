using System.Text;

namespace Basalt.Engine.Tokenization;

/// <summary>SentencePiece-style encoding ("llama" vocabularies): start from single code points and repeatedly merge the
/// adjacent pair whose concatenation is the highest-scoring vocabulary entry (ties: leftmost first); pieces that are not
/// tokens fall back to their UTF-8 bytes as &lt;0xXX&gt; tokens. Spaces become U+2581, as in llama.cpp's SPM tokenizer.</summary>
internal sealed class SentencePieceEncoder
{
    /// <summary>SentencePiece's visible space.</summary>
    public const char SpaceMarker = '\u2581';

    [ThreadStatic] private static Scratch? t_scratch;

    private readonly VocabIndex _vocab;
    private readonly float[] _scores;
    private readonly int[] _byteTokens;
    private readonly int _unknownId;

    public SentencePieceEncoder(VocabIndex vocab, float[] scores, int unknownId)
    {
        _vocab = vocab;
        _scores = scores;
        _unknownId = unknownId;
        _byteTokens = new int[256];
        Span<char> hex = stackalloc char[6];
        for (var b = 0; b < 256; b++)
        {
            $"<0x{b:X2}>".AsSpan().CopyTo(hex);
            if (!vocab.TryGetId(hex, out var id))
            {
                // Some vocabularies carry the raw byte as a one-character token instead.
                Span<char> raw = [(char)b];
                if (!vocab.TryGetId(raw, out id))
                    id = -1;
            }
            _byteTokens[b] = id;
        }
    }

    /// <summary>Appends the tokens of <paramref name="fragment"/>, prefixed with a space when <paramref name="prefixSpace"/>.</summary>
    public void Encode(ReadOnlySpan<char> fragment, bool prefixSpace, List<int> output)
    {
        var s = t_scratch ??= new Scratch();
        var n = fragment.Length + (prefixSpace ? 1 : 0);
        if (n == 0)
            return;
        s.Ensure(n);
        var text = s.Text;
        var k = 0;
        if (prefixSpace)
            text[k++] = SpaceMarker;
        foreach (var c in fragment)
            text[k++] = c == ' ' ? SpaceMarker : c;

        var symbols = s.Symbols;
        var count = 0;
        for (var i = 0; i < n;)
        {
            var length = char.IsHighSurrogate(text[i]) && i + 1 < n && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
            symbols[count] = new Symbol(i, length, count - 1, i + length == n ? -1 : count + 1);
            count++;
            i += length;
        }

        var queue = s.Queue;
        queue.Clear();
        for (var i = 1; i < count; i++)
            TryAddBigram(text, symbols, queue, i - 1, i);

        while (queue.TryDequeue(out var bigram, out _))
        {
            ref var left = ref symbols[bigram.Left];
            ref var right = ref symbols[bigram.Right];
            // Skip pairs made stale by an earlier merge.
            if (left.Length == 0 || right.Length == 0 || left.Length + right.Length != bigram.Size)
                continue;
            left.Length += right.Length;
            right.Length = 0;
            left.Next = right.Next;
            if (right.Next >= 0)
                symbols[right.Next].Prev = bigram.Left;
            TryAddBigram(text, symbols, queue, left.Prev, bigram.Left);
            TryAddBigram(text, symbols, queue, bigram.Left, left.Next);
        }

        Span<byte> utf8 = stackalloc byte[4];
        for (var i = 0; i != -1; i = symbols[i].Next)
        {
            var piece = text.AsSpan(symbols[i].Start, symbols[i].Length);
            if (_vocab.TryGetId(piece, out var id))
            {
                output.Add(id);
                continue;
            }
            // Merged symbols are always tokens, so this is a single code point: emit its bytes.
            var byteCount = Encoding.UTF8.GetBytes(piece, utf8);
            for (var b = 0; b < byteCount; b++)
            {
                var byteToken = _byteTokens[utf8[b]];
                if (byteToken >= 0)
                    output.Add(byteToken);
                else if (_unknownId >= 0)
                    output.Add(_unknownId);
            }
        }
    }

    private void TryAddBigram(char[] text, Symbol[] symbols, PriorityQueue<Bigram, Bigram> queue, int left, int right)
    {
        if (left == -1 || right == -1)
            return;
        var size = symbols[left].Length + symbols[right].Length;
        if (!_vocab.TryGetId(text.AsSpan(symbols[left].Start, size), out var id))
            return;
        var bigram = new Bigram(left, right, _scores[id], size);
        queue.Enqueue(bigram, bigram);
    }

    private struct Symbol(int start, int length, int prev, int next)
    {
        public int Start = start;
        public int Length = length;
        public int Prev = prev;
        public int Next = next;
    }

    private readonly record struct Bigram(int Left, int Right, float Score, int Size);

    /// <summary>Highest score first; on equal scores the leftmost pair.</summary>
    private sealed class BigramOrder : IComparer<Bigram>
    {
        public static readonly BigramOrder Instance = new();

        public int Compare(Bigram x, Bigram y)
        {
            var byScore = y.Score.CompareTo(x.Score);
            return byScore != 0 ? byScore : x.Left.CompareTo(y.Left);
        }
    }

    private sealed class Scratch
    {
        public char[] Text = new char[256];
        public Symbol[] Symbols = new Symbol[256];
        public readonly PriorityQueue<Bigram, Bigram> Queue = new(BigramOrder.Instance);

        public void Ensure(int n)
        {
            if (Text.Length < n)
            {
                Text = new char[Math.Max(n, Text.Length * 2)];
                Symbols = new Symbol[Text.Length];
            }
        }
    }
}
