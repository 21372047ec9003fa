// Benchmarks print figures; each mode is a file in this folder, picked by the first argument.
Console.Error.WriteLine("usage: dotnet run -c Release --project bench/Basalt.Bench -- MODE [options]");
return 2;
