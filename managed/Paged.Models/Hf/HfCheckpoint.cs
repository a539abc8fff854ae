using Paged.Models.Weights;

namespace Paged.Models.Hf;

/// <summary>
/// Loads a Hugging Face checkpoint directory: config.json (+ generation_config.json) and either model.safetensors or
/// shards listed by model.safetensors.index.json. Tensors stay memory-mapped until a model uploads them.
/// </summary>
public static class HfCheckpoint
{
    public const string SingleFile = "model.safetensors";
    public const string IndexFile = "model.safetensors.index.json";

    /// <summary>True when <paramref name="path"/> is a directory holding config.json.</summary>
    public static bool IsCheckpointDirectory(string path) =>
        Directory.Exists(path) && File.Exists(Path.Combine(path, HfConfig.FileName));

    public static ModelWeights Load(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (!Directory.Exists(directory))
            throw ModelFormatException.For(directory, "directory not found");
        var config = HfConfig.Read(directory);
        var files = new List<SafetensorsFile>();
        try
        {
            var tensors = new List<WeightTensor>();
            string index = Path.Combine(directory, IndexFile);
            string single = Path.Combine(directory, SingleFile);
            if (File.Exists(index))
                LoadSharded(directory, index, files, tensors);
            else if (File.Exists(single))
            {
                files.Add(SafetensorsFile.Open(single));
                tensors.AddRange(files[0].Tensors);
            }
            else
                throw ModelFormatException.For(directory, $"neither {SingleFile} nor {IndexFile} is present");

            var weights = new ModelWeights(config, directory, tensors, files);
            weights.CheckTensors();
            return weights;
        }
        catch
        {
            foreach (var f in files)
                f.Dispose();
            throw;
        }
    }

    /// <summary>Opens every shard the index names once; each indexed tensor must be in the shard the index says.</summary>
    private static void LoadSharded(string directory, string indexPath, List<SafetensorsFile> files, List<WeightTensor> tensors)
    {
        var index = HfJson.Load(indexPath);
        var map = index.GetTextMap("weight_map") ?? throw index.Fail("weight_map is missing");
        var shards = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        foreach (var (name, shard) in map)
        {
            if (shard.Length == 0 || shard != Path.GetFileName(shard) || shard is "." or "..")
                throw index.Fail($"weight_map.{name} names {shard}, which is not a file name in the checkpoint directory");
            if (!shards.TryGetValue(shard, out var file))
            {
                file = SafetensorsFile.Open(Path.Combine(directory, shard));
                files.Add(file);
                shards.Add(shard, file);
            }

            var tensor = file.Tensors.FirstOrDefault(t => t.Name == name);
            if (tensor is null)
            {
                if (file.Entries.Any(e => e.Name == name))
                    continue; // an integer buffer: listed, not a weight
                throw index.Fail($"weight_map says tensor {name} is in {shard}, but that file does not hold it");
            }

            tensors.Add(tensor);
        }
    }
}
