namespace Basalt.Engine.Store;

/// <summary>A Hugging Face model reference, OWNER/REPO[:FILE.gguf].</summary>
public sealed record ModelReference(string Owner, string Repository, string? File)
{
    /// <summary>OWNER/REPO.</summary>
    public string RepoId => $"{Owner}/{Repository}";

    /// <summary>The registered name: OWNER/REPO:FILE (or OWNER/REPO when no file is chosen yet).</summary>
    public override string ToString() => File is null ? RepoId : $"{RepoId}:{File}";

    /// <summary>Parses OWNER/REPO[:FILE]; throws <see cref="FormatException"/> with an example when malformed.</summary>
    public static ModelReference Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var colon = text.IndexOf(':');
        var repo = colon < 0 ? text : text[..colon];
        var file = colon < 0 ? null : text[(colon + 1)..];
        var slash = repo.IndexOf('/');
        if (slash <= 0 || slash == repo.Length - 1 || repo.IndexOf('/', slash + 1) >= 0
            || !IsSafeSegment(repo[..slash]) || !IsSafeSegment(repo[(slash + 1)..])
            || (file is not null && (file.Length == 0 || !IsSafeFile(file))))
            throw new FormatException($"'{text}' is not a model reference; expected OWNER/REPO[:FILE.gguf], for example Qwen/Qwen2.5-0.5B-Instruct-GGUF:qwen2.5-0.5b-instruct-q4_k_m.gguf.");
        return new ModelReference(repo[..slash], repo[(slash + 1)..], file);
    }

    private static bool IsSafeSegment(string s)
    {
        if (s is "." or "..")
            return false;
        foreach (var c in s)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
                return false;
        return true;
    }

    // A file may sit in a sub-folder of the repo (a/b.gguf), but no segment may climb out of it.
    private static bool IsSafeFile(string file)
    {
        foreach (var segment in file.Split('/'))
            if (segment.Length == 0 || !IsSafeSegment(segment))
                return false;
        return true;
    }
}
