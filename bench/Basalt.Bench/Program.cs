// Benchmarks print figures; each mode is a file in this folder, picked by the first argument.
switch (args.FirstOrDefault())
{
    case "openai-gateway":
        return await Basalt.Bench.OpenAiGatewayBench.RunAsync(args[1..]);
    case "kernels":
        return Basalt.Bench.KernelBench.Run(args[1..]);
    case "gguf-fuzz":
        return Basalt.Bench.GgufFuzzBench.Run(args[1..]);
}
Console.Error.WriteLine("usage: dotnet run -c Release --project bench/Basalt.Bench -- MODE [options]");
Console.Error.WriteLine("modes: openai-gateway [--seconds 10] [--concurrency 32] [--stream] [--serve PORT]");
Console.Error.WriteLine("       kernels [seconds-per-measurement [TYPE...]]   GB/s of weights through the dot kernels, per type, one thread");
Console.Error.WriteLine("       gguf-fuzz [--cases 100000] [--seed 1] [--file SEED.gguf]   seeded mutation fuzzing of the GGUF reader");
return 2;
