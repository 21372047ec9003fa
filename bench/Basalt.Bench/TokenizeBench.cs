using System.Diagnostics;
using System.Text;
using Basalt.Engine.Gguf;
using Basalt.Engine.Tokenization;

namespace Basalt.Bench;

/// <summary>`tokenize FILE...`: encode and decode speed of each file's tokenizer on a prompt of about 2,000 tokens.</summary>
internal static class TokenizeBench
{
    // Mixed prose, code, numbers and non-Latin text, so every pre-tokenizer branch is exercised.
    private const string Paragraph =
        "Once upon a time, there was a dog named Max. He liked to run in the park with his friends! " +
        "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n\n" +
        "Prices rose 3.5% to $1,234,567 in 2024; y'all won't believe it. " +
        "Быстрая коричневая лиса прыгает через ленивую собаку. 我想在apple工作1314151天～ 🦙🚀 Äpfel und Cửa Việt.\n";

    public static int Run(string[] files)
    {
        if (files.Length == 0)
        {
            Console.Error.WriteLine("usage: tokenize FILE.gguf [FILE.gguf...]");
            return 2;
        }
        Console.WriteLine($"{"tokenizer",-34} {"tokens",7} {"encode ms",10} {"tokens/s",12} {"alloc B/encode",15} {"decode ms",10}");
        foreach (var path in files)
        {
            using var file = GgufFile.Open(path);
            var load = Stopwatch.StartNew();
            var tokenizer = Tokenizer.FromGguf(file);
            load.Stop();

            var text = new StringBuilder();
            while (tokenizer.Encode(text.ToString(), addSpecial: false).Length < 2000)
                text.Append(Paragraph);
            var prompt = text.ToString();
            var ids = tokenizer.Encode(prompt);

            for (var i = 0; i < 20; i++)
                tokenizer.Encode(prompt); // warm-up: JIT and thread-local buffers
            const int iterations = 200;
            var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
            var sw = Stopwatch.StartNew();
            for (var i = 0; i < iterations; i++)
                tokenizer.Encode(prompt);
            sw.Stop();
            var allocated = (GC.GetAllocatedBytesForCurrentThread() - allocatedBefore) / iterations;
            var encodeMs = sw.Elapsed.TotalMilliseconds / iterations;

            var decode = Stopwatch.StartNew();
            for (var i = 0; i < iterations; i++)
                tokenizer.Decode(ids);
            decode.Stop();

            Console.WriteLine($"{Path.GetFileName(path),-34} {ids.Length,7} {encodeMs,10:F3} {ids.Length / (encodeMs / 1000),12:N0} {allocated,15:N0} {decode.Elapsed.TotalMilliseconds / iterations,10:F3}   (load {load.Elapsed.TotalMilliseconds:F0} ms)");
        }
        return 0;
    }
}
