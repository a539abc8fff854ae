using Paged.Models.Gguf;
using Paged.Models.Hf;
using Paged.Models.Weights;
using Paged.Models;
using Paged.Models.Tokenization;
using Paged.Runtime.Interop;

namespace Paged.Cli;

/// <summary>
/// <c>paged make-model</c>: a model of a real shape with deterministic random weights (benchmarks need the shape, not
/// the values), or a conversion of an existing model (<c>--from</c>), in Hugging Face, GGUF or llama2.c format.
/// </summary>
internal static class MakeModelCommand
{
    public static int Run(MakeModelOptions o)
    {
        var dtype = o.DType.ToLowerInvariant() switch
        {
            "f32" => WeightDType.F32,
            "bf16" => WeightDType.BF16,
            "f16" => WeightDType.F16,
            _ => throw new ArgumentException($"unknown --dtype '{o.DType}' (f32, bf16, f16)"),
        };
        if (o.From is not null && (o.Config ?? o.Shape) is not null)
            throw new ArgumentException("--from converts a model; it takes no --config");
        using var source = o.From is null ? null : ModelLoader.Load(o.From);
        var config = source?.Config ?? ModelShapes.Get(o.Config ?? o.Shape ?? "stories110M");
        if (o.LoraRank > 0)
        {
            var targets = o.LoraTargets.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            Paged.Models.Lora.LoraAdapterWriter.WriteRandom(o.Out, config, o.LoraRank, targets,
                o.LoraAlpha > 0 ? (float)o.LoraAlpha : 2f * o.LoraRank, o.Seed);
            Report(o.Out, Path.Combine(o.Out, Paged.Models.Lora.LoraAdapterLoader.WeightsFile));
            return 0;
        }

        switch (o.Format.ToLowerInvariant())
        {
            case "hf":
                Directory.CreateDirectory(o.Out);
                var (hfConfig, tensors) = source is null
                    ? (config with { RopeStyle = RopeStyle.RotateHalf }, HfExport.Random(config, o.Seed))
                    : HfExport.FromWeights(source);
                HfCheckpointWriter.Write(o.Out, hfConfig, tensors, dtype);
                WriteHfTokenizer(o.Out, o.From, config);
                Report(o.Out, Path.Combine(o.Out, HfCheckpoint.SingleFile));
                break;
            case "gguf":
                Directory.CreateDirectory(o.Out);
                string gguf = Path.Combine(o.Out, "model.gguf");
                GgufModelWriter.Write(gguf, config, source is null ? GgufModelWriter.Random(config, o.Seed) : GgufModelWriter.FromWeights(source), dtype);
                Report(o.Out, gguf);
                break;
            case "llama2c":
                if (source is not null)
                    throw new ArgumentException("--format llama2c writes random weights only");
                if (dtype != WeightDType.F32)
                    throw new ArgumentException("llama2.c checkpoints are f32 only");
                Directory.CreateDirectory(o.Out);
                string model = Path.Combine(o.Out, "model.bin");
                RandomModelWriter.WriteLlama2c(model, config, o.Seed);
                RandomModelWriter.WriteSyntheticTokenizer(Path.Combine(o.Out, "tokenizer.bin"), config.VocabSize);
                Report(o.Out, model);
                break;
            default:
                throw new ArgumentException($"unknown --format '{o.Format}' (hf, gguf, llama2c)");
        }

        return 0;
    }

    /// <summary>
    /// tokenizer.json and tokenizer_config.json, so the checkpoint loads without extra files: a Hugging Face source's
    /// own files are copied; a SentencePiece-style vocabulary (llama2.c, GGUF "llama") is converted; random weights get
    /// the synthetic vocabulary the llama2.c and GGUF writers use.
    /// </summary>
    private static void WriteHfTokenizer(string outDir, string? from, ModelConfig config)
    {
        if (from is not null && HfTokenizerLoader.IsHfDirectory(Directory.Exists(from) ? from : Path.GetDirectoryName(Path.GetFullPath(from))!))
        {
            string dir = Directory.Exists(from) ? from : Path.GetDirectoryName(Path.GetFullPath(from))!;
            foreach (string name in new[] { HfTokenizerLoader.TokenizerFile, HfTokenizerWriter.ConfigFileName, "special_tokens_map.json", "chat_template.jinja" })
            {
                if (File.Exists(Path.Combine(dir, name)))
                    File.Copy(Path.Combine(dir, name), Path.Combine(outDir, name), overwrite: true);
            }

            return;
        }

        if (from is not null)
        {
            if (TokenizerLoader.Load(from, null, config) is SentencePieceTokenizer sp)
                HfTokenizerWriter.Write(outDir, sp);
            else
                Console.Error.WriteLine($"make-model: no tokenizer.json written: the vocabulary of {from} is not SentencePiece-style; load the checkpoint with --tokenizer");
            return;
        }

        string synthetic = Path.Combine(outDir, $"synthetic-{Guid.NewGuid():N}.bin");
        try
        {
            RandomModelWriter.WriteSyntheticTokenizer(synthetic, config.VocabSize);
            HfTokenizerWriter.Write(outDir, Llama2cTokenizerFile.Load(synthetic, config.VocabSize));
        }
        finally
        {
            File.Delete(synthetic);
        }
    }

    // The weights leave the page cache as well: loaded cold, they are mapped in 2 MB folios (see PageCache).
    private static void Report(string directory, string weights)
    {
        PageCache.Evict(weights);
        Console.WriteLine($"wrote {directory}: {Path.GetFileName(weights)} ({new FileInfo(weights).Length:N0} bytes)");
    }
}
