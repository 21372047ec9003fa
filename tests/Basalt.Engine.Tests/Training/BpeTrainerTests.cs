using Basalt.Engine.Training;

namespace Basalt.Engine.Tests.Training;

public sealed class BpeTrainerTests
{
    private const string Corpus =
        "The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs far away.\n" +
        "Numbers like 1234 and 56 stay whole. Ünïcödé and emoji 🙂 still round-trip as bytes.";

    [Fact]
    public void Train_EngineTokenizer_RoundTripsText()
    {
        var vocabulary = BpeTrainer.Train([Corpus, Corpus], 320);
        var tokenizer = vocabulary.CreateTokenizer();
        Assert.Equal(vocabulary.Count, tokenizer.VocabSize);
        foreach (var text in new[] { Corpus, "the fox and the dog", "unseen words: zebra quokka ☃" })
        {
            var ids = tokenizer.Encode(text, addSpecial: false);
            Assert.Equal(text, tokenizer.Decode(ids));
        }
        // Merges learned from the corpus make frequent words shorter than their bytes.
        Assert.True(tokenizer.Encode(" the", addSpecial: false).Length == 1);
    }

    [Fact]
    public void Train_ChatMarkers_AreSingleControlTokens()
    {
        var vocabulary = BpeTrainer.Train([Corpus], 300);
        var tokenizer = vocabulary.CreateTokenizer();
        var ids = tokenizer.Encode("<|im_start|>user\nhi<|im_end|>", addSpecial: false, parseSpecial: true);
        Assert.Equal(1, ids[0]);
        Assert.Equal(2, ids[^1]);
        Assert.True(tokenizer.IsEndOfGeneration(2));
    }

    [Fact]
    public void Train_SameInput_SameVocabulary()
    {
        var a = BpeTrainer.Train([Corpus], 300);
        var b = BpeTrainer.Train([Corpus], 300);
        Assert.Equal(a.Merges, b.Merges);
    }
}
