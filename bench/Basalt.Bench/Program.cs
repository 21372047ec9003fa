// Benchmarks print figures; each mode is a file in this folder, picked by the first argument.
switch (args.FirstOrDefault())
{
    case "gateway":
        return await Basalt.Bench.GatewayBench.RunAsync(args[1..]);
    case "metrics":
        return await Basalt.Bench.MetricsBench.RunAsync(args[1..]);
    case "bedrock-gateway":
        return await Basalt.Bench.BedrockGatewayBench.RunAsync(args[1..]);
}
Console.Error.WriteLine("usage: dotnet run -c Release --project bench/Basalt.Bench -- MODE [options]");
Console.Error.WriteLine("modes:");
Console.Error.WriteLine("  gateway [--seconds 5] [--concurrency 1,8,32]   gateway overhead over a fast loopback upstream");
Console.Error.WriteLine("  metrics [--seconds 2] [--threads 1,2]            metrics recording throughput (requests/s)");
Console.Error.WriteLine("  bedrock-gateway [--concurrency 32] [--seconds 5] [--stream]   Bedrock face (Converse or ConverseStream) over an instant in-process provider");
return 2;
