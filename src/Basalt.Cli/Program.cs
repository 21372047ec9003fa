using System.CommandLine;
using Basalt.Cli.Commands;

var root = new RootCommand("Basalt: a self-hosted foundation-model platform with Bedrock- and OpenAI-compatible APIs.");
root.Subcommands.Add(ServeCommand.Create());
root.Subcommands.Add(KeysCommand.Create());
return await root.Parse(args).InvokeAsync();
