namespace Basalt.Server.State;

/// <summary>The data directory holds the key hashes, the sealed AWS secrets and the master key: only its owner may enter it.</summary>
internal static class DataDirectory
{
    /// <summary>Creates the directory (mode 0700 on Unix) when missing; an existing directory keeps its mode.</summary>
    public static void Ensure(string path)
    {
        if (Directory.Exists(path))
            return;
        if (OperatingSystem.IsWindows())
            Directory.CreateDirectory(path);
        else
            Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }
}
