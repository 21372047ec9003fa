namespace Basalt.Engine.Gguf;

/// <summary>A GGUF file is malformed, truncated, hostile or of an unsupported version; the message names the file and the problem.</summary>
public sealed class GgufFormatException : Exception
{
    /// <summary>Creates the exception for <paramref name="file"/>.</summary>
    public GgufFormatException(string file, string problem)
        : base($"{file}: not a valid GGUF file: {problem}")
    {
        File = file;
        Problem = problem;
    }

    /// <summary>The file (path or name) that failed.</summary>
    public string File { get; }

    /// <summary>What is wrong with it, without the file name.</summary>
    public string Problem { get; }
}

/// <summary>A metadata key is missing or holds a value of another type than asked for.</summary>
public sealed class GgufMetadataException(string message) : Exception(message);
