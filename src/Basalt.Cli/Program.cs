using System.CommandLine;
using Basalt.Cli.Commands;

var root = new RootCommand("Basalt: a self-hosted foundation-model platform with Bedrock- and OpenAI-compatible APIs.");
root.Subcommands.Add(ServeCommand.Create());
root.Subcommands.Add(TokenizeCommand.Create());
root.Subcommands.Add(KeysCommand.Create());
root.Subcommands.Add(GuardrailsCommand.Create());
root.Subcommands.Add(GgufCommand.Create());
root.Subcommands.Add(RunCommand.Create());
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(PullCommand.Create());
root.Subcommands.Add(ModelsCommand.Create());
root.Subcommands.Add(CustomizeCommand.Create());
root.Subcommands.Add(TrainCommand.Create());
return await root.Parse(args).InvokeAsync();
