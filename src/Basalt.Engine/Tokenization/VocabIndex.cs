namespace Basalt.Engine.Tokenization;

/// <summary>Token text → id, looked up by span without allocating. On duplicate texts the last id wins, as in llama.cpp.</summary>
internal sealed class VocabIndex
{
    private readonly Dictionary<string, int> _ids;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    public VocabIndex(string[] tokens)
    {
        _ids = new Dictionary<string, int>(tokens.Length, StringComparer.Ordinal);
        var maxLength = 0;
        for (var i = 0; i < tokens.Length; i++)
        {
            _ids[tokens[i]] = i;
            maxLength = Math.Max(maxLength, tokens[i].Length);
        }
        _lookup = _ids.GetAlternateLookup<ReadOnlySpan<char>>();
        MaxTokenLength = maxLength;
    }

    /// <summary>Length in UTF-16 units of the longest token text.</summary>
    public int MaxTokenLength { get; }

    public bool TryGetId(ReadOnlySpan<char> text, out int id) => _lookup.TryGetValue(text, out id);
}
