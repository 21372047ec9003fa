// Benchmarks print figures; each mode is a file in this folder, picked by the first argument.
return args.Length > 0 && args[0] == "kernels"
    ? Basalt.Bench.KernelBench.Run(args[1..])
    : Usage();

static int Usage()
{
    Console.Error.WriteLine("usage: dotnet run -c Release --project bench/Basalt.Bench -- MODE [options]");
    Console.Error.WriteLine("modes: kernels [seconds-per-measurement [TYPE...]]   GB/s of weights through the dot kernels, per type, one thread");
    return 2;
}
