using System.Text;

namespace Basalt.Engine.Tokenization;

/// <summary>Decodes tokens as they are generated. Pieces can end inside a UTF-8 character (byte-fallback and byte-level
/// tokens carry single bytes), so incomplete trailing bytes are held until the character completes. Not thread-safe: one per sequence.</summary>
public sealed class StreamingDecoder
{
    private readonly Tokenizer _tokenizer;
    private byte[] _pending = new byte[64];
    private int _count;
    private bool _afterBos;

    internal StreamingDecoder(Tokenizer tokenizer) => _tokenizer = tokenizer;

    /// <summary>Adds <paramref name="id"/> and returns the text completed by it (possibly empty), never half a character.
    /// As in llama2.c, the space SentencePiece put before the first word is dropped right after BOS.</summary>
    public string Push(int id)
    {
        var piece = _tokenizer.PieceBytes(id);
        if (_afterBos && !piece.IsEmpty && piece[0] == (byte)' ' && _tokenizer.StripsLeadingSpace)
            piece = piece[1..];
        if (id == _tokenizer.BosId)
            _afterBos = true;
        else if (!piece.IsEmpty)
            _afterBos = false;
        if (piece.IsEmpty)
            return string.Empty;
        if (_count + piece.Length > _pending.Length)
            Array.Resize(ref _pending, Math.Max(_count + piece.Length, _pending.Length * 2));
        piece.CopyTo(_pending.AsSpan(_count));
        _count += piece.Length;

        var complete = CompleteLength(_pending.AsSpan(0, _count));
        if (complete == 0)
            return string.Empty;
        var text = Encoding.UTF8.GetString(_pending, 0, complete);
        _pending.AsSpan(complete, _count - complete).CopyTo(_pending);
        _count -= complete;
        return text;
    }

    /// <summary>Returns whatever is held (an incomplete character becomes U+FFFD) and resets the decoder.</summary>
    public string Flush()
    {
        var text = _count == 0 ? string.Empty : Encoding.UTF8.GetString(_pending, 0, _count);
        _count = 0;
        _afterBos = false;
        return text;
    }

    /// <summary>Length of the prefix of <paramref name="bytes"/> that does not end inside a UTF-8 character.</summary>
    internal static int CompleteLength(ReadOnlySpan<byte> bytes)
    {
        // Only the last three bytes can belong to an unfinished character; find the lead byte among them.
        for (var back = 1; back <= Math.Min(3, bytes.Length); back++)
        {
            var b = bytes[^back];
            if ((b & 0xC0) == 0x80)
                continue; // continuation byte: keep looking for the lead
            var needed = b >= 0xF0 && b <= 0xF4 ? 4 : b >= 0xE0 && b < 0xF0 ? 3 : b >= 0xC2 && b < 0xE0 ? 2 : 1;
            return needed > back ? bytes.Length - back : bytes.Length;
        }
        return bytes.Length;
    }
}
