// Benchmarks print figures; each mode is a file in this folder, picked by the first argument.
switch (args.FirstOrDefault())
{
    case "bedrock-gateway":
        return await Basalt.Bench.BedrockGatewayBench.RunAsync(args[1..]);
}
Console.Error.WriteLine("usage: dotnet run -c Release --project bench/Basalt.Bench -- MODE [options]");
Console.Error.WriteLine("modes: bedrock-gateway [--concurrency 32] [--seconds 5] [--stream]");
return 2;
