// Benchmarks print figures; each mode is a file in this folder, picked by the first argument.
switch (args.FirstOrDefault())
{
    case "gateway":
        return await Basalt.Bench.GatewayBench.RunAsync(args[1..]);
    case "metrics":
        return await Basalt.Bench.MetricsBench.RunAsync(args[1..]);
    case "tokenize":
        return Basalt.Bench.TokenizeBench.Run(args[1..]);
    case "kernels":
        return Basalt.Bench.KernelBench.Run(args[1..]);
    case "tiles":
        return Basalt.Bench.TileBench.Run(args[1..]);
    case "f16":
        return Basalt.Bench.F16Bench.Run(args[1..]);
    case "small-batch":
        return Basalt.Bench.SmallBatchBench.Run(args[1..]);
    case "gguf-fuzz":
        return Basalt.Bench.GgufFuzzBench.Run(args[1..]);
    case "openai-translate":
        return Basalt.Bench.OpenAiTranslateBench.Run(args[1..]);
    case "guardrails":
        return await Basalt.Bench.GuardrailsBench.RunAsync(args[1..]);
    case "guard-policies":
        return Basalt.Bench.GuardPoliciesBench.Run(args[1..]);
    case "attention":
        return Basalt.Bench.AttentionBench.Run(args[1..]);
}
Console.Error.WriteLine("usage: dotnet run -c Release --project bench/Basalt.Bench -- MODE [options]");
Console.Error.WriteLine("modes:");
Console.Error.WriteLine("  gateway [--seconds 5] [--concurrency 1,8,32]   gateway overhead over a fast loopback upstream");
Console.Error.WriteLine("  metrics [--seconds 2] [--threads 1,2]            metrics recording throughput (requests/s)");
Console.Error.WriteLine("  tokenize FILE.gguf [FILE.gguf...]              encode/decode speed on a ~2,000-token prompt");
Console.Error.WriteLine("  kernels [SECONDS [cached] [ranges] [best] [TYPE...]]  GB/s of weights through the dot kernels per type, one thread");
Console.Error.WriteLine("  tiles [SECONDS [TYPE...]] [wide]                GOP per CPU-second of the prompt tile kernel (DotQ8Rows), one thread");
Console.Error.WriteLine("  f16 [SECONDS]                                  F16 decode and tile kernels in the engine's shapes, per cpu-s, one thread");
Console.Error.WriteLine("  attention [SECONDS]                            one layer's attention per KV type: prompt GFLOP/cpu-s, decode KV GB/cpu-s");
Console.Error.WriteLine("  small-batch [SECONDS [TYPE...]]                matmul kernels at 1..16 tokens (concurrent decoding), one thread");
Console.Error.WriteLine("  gguf-fuzz [--cases N] [--seed S] [--file F]    seeded mutation fuzzing of the GGUF reader");
Console.Error.WriteLine("  openai-translate [ITERATIONS]                  CPU cost of the OpenAI face alone (parse + write), one thread");
Console.Error.WriteLine("  guardrails [--iterations 2000] [--seconds 3]   ApplyGuardrail p50/p99 on 1 KB, every text policy, in process and over HTTP");
Console.Error.WriteLine("  guard-policies [ITERATIONS]                    word/PII Assess cost on 1 KB; PII and grounding precision/recall");
return 2;
