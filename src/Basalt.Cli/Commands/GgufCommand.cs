using System.CommandLine;
using System.Globalization;
using Basalt.Engine.Gguf;

namespace Basalt.Cli.Commands;

/// <summary>`basalt gguf info FILE`: prints a GGUF file's header, metadata and tensor table.</summary>
internal static class GgufCommand
{
    /// <summary>Array elements shown before "..." unless --full is given.</summary>
    private const int ShownArrayElements = 8;

    /// <summary>String characters shown before "..." unless --full is given.</summary>
    private const int ShownStringChars = 120;

    public static Command Create()
    {
        var file = new Argument<string>("file") { Description = "Path of the .gguf file." };
        var full = new Option<bool>("--full") { Description = "Print arrays and strings in full instead of abbreviated." };
        var info = new Command("info", "Show a GGUF file's version, metadata and tensors.") { file, full };
        info.SetAction(parse =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            return Info(parse.GetRequiredValue(file), parse.GetValue(full), output, error);
        });
        return new Command("gguf", "Inspect GGUF model files.") { info };
    }

    /// <summary>Writes the report for <paramref name="path"/>; returns the exit code (0, or 1 for an unreadable or malformed file).</summary>
    internal static int Info(string path, bool full, TextWriter output, TextWriter error)
    {
        GgufFile file;
        try
        {
            file = GgufFile.Open(path);
        }
        catch (GgufFormatException e)
        {
            error.WriteLine($"error: {e.Message}");
            return 1;
        }
        using (file)
        {
            var inv = CultureInfo.InvariantCulture;
            int maxElements = full ? int.MaxValue : ShownArrayElements, maxChars = full ? int.MaxValue : ShownStringChars;
            output.WriteLine(string.Create(inv, $"file:          {path}"));
            output.WriteLine(string.Create(inv, $"size:          {Bytes(file.FileSize)} ({file.FileSize} bytes)"));
            output.WriteLine(string.Create(inv, $"gguf version:  {file.Version}"));
            output.WriteLine(string.Create(inv, $"alignment:     {file.Alignment} (data section at byte {file.DataOffset})"));
            output.WriteLine(string.Create(inv, $"architecture:  {(file.TryGetValue(GgufKeys.Architecture, out var arch) && arch.Value is string a ? a : "(none)")}"));
            output.WriteLine();
            output.WriteLine(string.Create(inv, $"metadata ({file.Metadata.Count} entries):"));
            var keyWidth = 0;
            foreach (var (key, _) in file.Metadata)
                keyWidth = Math.Max(keyWidth, key.Length);
            foreach (var (key, value) in file.Metadata)
            {
                var type = value.Type == GgufValueType.Array ? $"{value.ElementType}[{value.Count}]" : value.Type.ToString();
                output.WriteLine(string.Create(inv, $"  {key.PadRight(keyWidth)}  {type,-16}  {value.ToDisplayString(maxElements, maxChars)}"));
            }
            output.WriteLine();
            output.WriteLine(string.Create(inv, $"tensors ({file.Tensors.Count}):"));
            var nameWidth = 4;
            foreach (var t in file.Tensors)
                nameWidth = Math.Max(nameWidth, t.Name.Length);
            output.WriteLine(string.Create(inv, $"  {"name".PadRight(nameWidth)}  {"type",-7}  {"shape",-22}  {"size",10}"));
            long elements = 0, bytes = 0;
            var byType = new SortedDictionary<string, (int Count, long Bytes)>(StringComparer.Ordinal);
            foreach (var t in file.Tensors)
            {
                output.WriteLine(string.Create(inv, $"  {t.Name.PadRight(nameWidth)}  {GgmlTypes.Name(t.Type),-7}  {t.ShapeText,-22}  {Bytes(t.ByteSize),10}"));
                elements += t.ElementCount;
                bytes += t.ByteSize;
                var name = GgmlTypes.Name(t.Type);
                byType.TryGetValue(name, out var acc);
                byType[name] = (acc.Count + 1, acc.Bytes + t.ByteSize);
            }
            output.WriteLine();
            output.WriteLine(string.Create(inv, $"totals:        {file.Tensors.Count} tensors, {elements:N0} parameters, {Bytes(bytes)} of tensor data"));
            foreach (var (type, (count, size)) in byType)
                output.WriteLine(string.Create(inv, $"  {type,-7} {count,5} tensors  {Bytes(size),10}"));
            return 0;
        }
    }

    private static string Bytes(long n) => n switch
    {
        >= 1L << 30 => (n / (double)(1L << 30)).ToString("0.00 'GiB'", CultureInfo.InvariantCulture),
        >= 1L << 20 => (n / (double)(1L << 20)).ToString("0.00 'MiB'", CultureInfo.InvariantCulture),
        >= 1L << 10 => (n / 1024.0).ToString("0.0 'KiB'", CultureInfo.InvariantCulture),
        _ => n.ToString(CultureInfo.InvariantCulture) + " B",
    };
}
