// Benchmarks print figures; each mode is a file in this folder, picked by the first argument.
switch (args.FirstOrDefault())
{
    case "openai-gateway":
        return await Basalt.Bench.OpenAiGatewayBench.RunAsync(args[1..]);
}
Console.Error.WriteLine("usage: dotnet run -c Release --project bench/Basalt.Bench -- MODE [options]");
Console.Error.WriteLine("modes: openai-gateway [--seconds 10] [--concurrency 32] [--stream] [--serve PORT]");
return 2;
