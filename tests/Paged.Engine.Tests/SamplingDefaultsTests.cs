using Paged.Models;

namespace Paged.Engine.Tests;

[TestClass]
public sealed class SamplingDefaultsTests
{
    private static ModelConfig Config(GenerationDefaults g) => new()
    {
        Dim = 8, HiddenDim = 8, NumLayers = 1, NumHeads = 2, NumKvHeads = 2, VocabSize = 300, MaxSeqLen = 16, Generation = g,
    };

    [TestMethod]
    public void Checkpoint_defaults_fill_only_what_they_state()
    {
        var d = SamplingDefaults.For(Config(new GenerationDefaults { Temperature = 0.7f, TopP = 0.8f, TopK = 20, RepetitionPenalty = 1.05f }));
        Assert.AreEqual((0.7f, 0.8f, 20, 0f, 1.05f), (d.Temperature, d.TopP, d.TopK, d.MinP, d.RepetitionPenalty));
        d.Validate();
        var none = SamplingDefaults.For(Config(GenerationDefaults.Empty));
        Assert.AreEqual(new SamplingParams(), none with { StopTokenIds = new SamplingParams().StopTokenIds, Stop = new SamplingParams().Stop });
        Assert.AreEqual(0f, none.Temperature, "no generation config: greedy, as before");
    }
}
