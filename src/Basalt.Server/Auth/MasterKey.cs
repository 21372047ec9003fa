using System.Security.Cryptography;

namespace Basalt.Server.Auth;

/// <summary>The server's master key (DATA_DIR/master.key, 32 random bytes, mode 0600). It seals the AWS secret access keys,
/// which the server must read back to recompute Signature V4 HMACs, so they are never stored in plain text beside the database.</summary>
internal sealed class MasterKey
{
    /// <summary>File name inside the data directory.</summary>
    public const string FileName = "master.key";

    private const int KeyBytes = 32;
    private const int NonceBytes = 12;
    private const int TagBytes = 16;

    private readonly byte[] _key;

    private MasterKey(byte[] key) => _key = key;

    /// <summary>Reads the master key, creating it (owner read/write only) when missing.</summary>
    public static MasterKey LoadOrCreate(string dataDir)
    {
        Basalt.Server.State.DataDirectory.Ensure(dataDir);
        var path = Path.Combine(dataDir, FileName);
        if (!File.Exists(path))
        {
            var fresh = RandomNumberGenerator.GetBytes(KeyBytes);
            try
            {
                SecretFile.WriteNew(path, fresh);
            }
            catch (IOException) when (File.Exists(path))
            {
                // Another process created it between the check and the write; use theirs.
            }
        }
        var key = File.ReadAllBytes(path);
        if (key.Length != KeyBytes)
            throw new InvalidDataException($"{path} holds {key.Length} bytes, not {KeyBytes}; restore it from a backup (AWS keys cannot be verified without it).");
        return new MasterKey(key);
    }

    /// <summary>Encrypts with AES-256-GCM; the output is nonce, tag, ciphertext.</summary>
    public byte[] Seal(ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> associatedData)
    {
        var output = new byte[NonceBytes + TagBytes + plaintext.Length];
        var nonce = output.AsSpan(0, NonceBytes);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_key, TagBytes);
        aes.Encrypt(nonce, plaintext, output.AsSpan(NonceBytes + TagBytes), output.AsSpan(NonceBytes, TagBytes), associatedData);
        return output;
    }

    /// <summary>Decrypts what <see cref="Seal"/> produced; throws when it was sealed with another key or altered.</summary>
    public byte[] Unseal(ReadOnlySpan<byte> sealedData, ReadOnlySpan<byte> associatedData)
    {
        if (sealedData.Length < NonceBytes + TagBytes)
            throw new CryptographicException("Sealed secret is too short.");
        var plaintext = new byte[sealedData.Length - NonceBytes - TagBytes];
        using var aes = new AesGcm(_key, TagBytes);
        aes.Decrypt(sealedData[..NonceBytes], sealedData[(NonceBytes + TagBytes)..], sealedData.Slice(NonceBytes, TagBytes), plaintext, associatedData);
        return plaintext;
    }
}

/// <summary>Writes files only their owner may read (Unix mode 0600).</summary>
internal static class SecretFile
{
    /// <summary>Creates <paramref name="path"/> (failing if it exists) with mode 0600 and writes the bytes.</summary>
    public static void WriteNew(string path, ReadOnlySpan<byte> content)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using var f = new FileStream(path, options);
        f.Write(content);
        f.Flush(flushToDisk: true);
    }
}
