using System.Text;

namespace Basalt.Engine.Tokenization;

/// <summary>Byte-level BPE ("gpt2" vocabularies): the pre-tokenizer splits text into words; each word's UTF-8 bytes are
/// mapped to GPT-2's byte characters, then the adjacent pair with the lowest merge rank is merged (ties: leftmost first)
/// until no pair has a rank, as in llama.cpp's BPE tokenizer.</summary>
internal sealed class BytePairEncoder
{
    [ThreadStatic] private static Scratch? t_scratch;

    private readonly VocabIndex _vocab;
    private readonly PreTokenizer _preTokenizer;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _ranks;
    private readonly bool _ignoreMerges;

    /// <summary>Builds the encoder over <paramref name="vocab"/>; <paramref name="merges"/> holds "left right" per entry in rank
    /// order; with <paramref name="ignoreMerges"/> a word that is itself a token is emitted whole (llama 3, tekken).</summary>
    public BytePairEncoder(VocabIndex vocab, string[] merges, PreTokenizer preTokenizer, bool ignoreMerges)
    {
        _vocab = vocab;
        _preTokenizer = preTokenizer;
        _ignoreMerges = ignoreMerges;
        var ranks = new Dictionary<string, int>(merges.Length, StringComparer.Ordinal);
        for (var i = 0; i < merges.Length; i++)
        {
            // The split point is the first space after the first character (a merge may start with a space), as llama.cpp reads it.
            if (merges[i].IndexOf(' ', 1) > 0)
                ranks.TryAdd(merges[i], i);
        }
        _ranks = ranks.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>The pre-tokenizer in use.</summary>
    public PreTokenizer PreTokenizer => _preTokenizer;

    /// <summary>Appends the tokens of <paramref name="fragment"/>.</summary>
    public void Encode(ReadOnlySpan<char> fragment, List<int> output)
    {
        var s = t_scratch ??= new Scratch();
        var words = s.Words;
        words.Clear();
        _preTokenizer.Split(fragment, words);
        foreach (var (start, length) in words)
            EncodeWord(fragment.Slice(start, length), s, output);
    }

    private void EncodeWord(ReadOnlySpan<char> word, Scratch s, List<int> output)
    {
        s.EnsureBytes(Encoding.UTF8.GetMaxByteCount(word.Length));
        var byteCount = Encoding.UTF8.GetBytes(word, s.Bytes);
        if (byteCount == 0)
            return;
        var text = s.Text;
        for (var i = 0; i < byteCount; i++)
            text[i] = ByteLevel.ByteToChar[s.Bytes[i]];
        var mapped = text.AsSpan(0, byteCount);
        if (_ignoreMerges && _vocab.TryGetId(mapped, out var whole))
        {
            output.Add(whole);
            return;
        }

        // Every byte character is one BMP char, so symbols start as single chars.
        var symbols = s.Symbols;
        for (var i = 0; i < byteCount; i++)
            symbols[i] = new Symbol(i, 1, i - 1, i + 1 == byteCount ? -1 : i + 1);

        var queue = s.Queue;
        queue.Clear();
        for (var i = 1; i < byteCount; i++)
            TryAddBigram(text, symbols, queue, s, i - 1, i);

        while (queue.TryDequeue(out var bigram, out _))
        {
            ref var left = ref symbols[bigram.Left];
            ref var right = ref symbols[bigram.Right];
            // A pair is stale when either side has changed since it was queued.
            if (left.Length != bigram.LeftLength || right.Length != bigram.RightLength)
                continue;
            left.Length += right.Length;
            right.Length = 0;
            left.Next = right.Next;
            if (right.Next >= 0)
                symbols[right.Next].Prev = bigram.Left;
            TryAddBigram(text, symbols, queue, s, left.Prev, bigram.Left);
            TryAddBigram(text, symbols, queue, s, bigram.Left, left.Next);
        }

        for (var i = 0; i != -1; i = symbols[i].Next)
        {
            var piece = text.AsSpan(symbols[i].Start, symbols[i].Length);
            if (_vocab.TryGetId(piece, out var id))
            {
                output.Add(id);
                continue;
            }
            // Not a token (a vocabulary missing some byte characters): emit whatever single characters are tokens.
            for (var c = 0; c < piece.Length; c++)
            {
                if (_vocab.TryGetId(piece.Slice(c, 1), out var single))
                    output.Add(single);
            }
        }
    }

    private void TryAddBigram(char[] text, Symbol[] symbols, PriorityQueue<Bigram, Bigram> queue, Scratch s, int left, int right)
    {
        if (left == -1 || right == -1)
            return;
        var leftPiece = text.AsSpan(symbols[left].Start, symbols[left].Length);
        var rightPiece = text.AsSpan(symbols[right].Start, symbols[right].Length);
        var keyLength = leftPiece.Length + 1 + rightPiece.Length;
        if (s.Key.Length < keyLength)
            s.Key = new char[Math.Max(keyLength, s.Key.Length * 2)];
        leftPiece.CopyTo(s.Key);
        s.Key[leftPiece.Length] = ' ';
        rightPiece.CopyTo(s.Key.AsSpan(leftPiece.Length + 1));
        if (!_ranks.TryGetValue(s.Key.AsSpan(0, keyLength), out var rank))
            return;
        var bigram = new Bigram(left, right, rank, leftPiece.Length, rightPiece.Length);
        queue.Enqueue(bigram, bigram);
    }

    private struct Symbol(int start, int length, int prev, int next)
    {
        public int Start = start;
        public int Length = length;
        public int Prev = prev;
        public int Next = next;
    }

    private readonly record struct Bigram(int Left, int Right, int Rank, int LeftLength, int RightLength);

    /// <summary>Lowest rank first; on equal ranks the leftmost pair.</summary>
    private sealed class BigramOrder : IComparer<Bigram>
    {
        public static readonly BigramOrder Instance = new();

        public int Compare(Bigram x, Bigram y)
        {
            var byRank = x.Rank.CompareTo(y.Rank);
            return byRank != 0 ? byRank : x.Left.CompareTo(y.Left);
        }
    }

    private sealed class Scratch
    {
        public readonly List<(int Start, int Length)> Words = new(256);
        public byte[] Bytes = new byte[256];
        public char[] Text = new char[256];
        public Symbol[] Symbols = new Symbol[256];
        public char[] Key = new char[64];
        public readonly PriorityQueue<Bigram, Bigram> Queue = new(BigramOrder.Instance);

        public void EnsureBytes(int n)
        {
            if (Bytes.Length < n)
            {
                var size = Math.Max(n, Bytes.Length * 2);
                Bytes = new byte[size];
                Text = new char[size];
                Symbols = new Symbol[size];
            }
        }
    }
}
