using System.Text.Json;
using Paged.Models.Tokenization;

namespace Paged.Models.Hf;

/// <summary>
/// Writes a SentencePiece-style vocabulary (llama2.c, GGUF "llama", or make-model's synthetic one) as a Hugging Face
/// tokenizer.json and tokenizer_config.json, in the layout of Llama 2 / Mistral checkpoints: BPE with byte fallback,
/// a "▁" dummy prefix and spaces spelled "▁". BPE merges are derived from the scores as transformers' converter
/// does for SentencePiece models: every split of a piece into two pieces is a merge, ranked by the merged piece's
/// score (then ids), so merging best-score-first gives the same tokens. Pieces with a "▁" after their first character
/// get no merge: our SentencePiece encoder splits text at whitespace as sentencepiece does, so they never form there,
/// while HF's BPE (no pre-tokenizer in this layout) would form them.
/// </summary>
public static class HfTokenizerWriter
{
    public const string ConfigFileName = "tokenizer_config.json";

    public static void Write(string directory, SentencePieceTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        Directory.CreateDirectory(directory);
        File.WriteAllBytes(Path.Combine(directory, HfTokenizerLoader.TokenizerFile), TokenizerJson(tokenizer));
        File.WriteAllBytes(Path.Combine(directory, ConfigFileName), HfCheckpointWriter.Json(w =>
        {
            w.WriteString("bos_token", tokenizer.Pieces[tokenizer.BosId]);
            w.WriteString("eos_token", tokenizer.Pieces[tokenizer.EosId]);
            w.WriteString("unk_token", tokenizer.Pieces[tokenizer.UnknownId]);
            w.WriteBoolean("add_bos_token", true);
            w.WriteBoolean("add_eos_token", false);
            w.WriteString("tokenizer_class", "LlamaTokenizerFast");
            if (tokenizer.ChatTemplate is { } template)
                w.WriteString("chat_template", template);
        }));
    }

    /// <summary>Pairs (left, right) of pieces whose concatenation is a normal piece, best merged score first.</summary>
    public static List<(string Left, string Right)> Merges(SentencePieceTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < tokenizer.VocabSize; i++)
        {
            if (tokenizer.PieceType(i) == TokenPieceType.Normal)
                ids[tokenizer.Pieces[i]] = i;
        }

        var merges = new List<(float Score, int Merged, int Left, int Right)>();
        foreach (var (piece, id) in ids)
        {
            if (piece.IndexOf('\u2581', 1) > 0)
                continue;
            for (int k = 1; k < piece.Length; k++)
            {
                if (char.IsLowSurrogate(piece[k]))
                    continue;
                if (ids.TryGetValue(piece[..k], out int left) && ids.TryGetValue(piece[k..], out int right))
                    merges.Add((tokenizer.Scores[id], id, left, right));
            }
        }

        return [.. merges.OrderByDescending(m => m.Score).ThenBy(m => m.Merged).ThenBy(m => m.Left).ThenBy(m => m.Right)
            .Select(m => (tokenizer.Pieces[m.Left], tokenizer.Pieces[m.Right]))];
    }

    private static byte[] TokenizerJson(SentencePieceTokenizer t) => HfCheckpointWriter.Json(w =>
    {
        string bos = t.Pieces[t.BosId];
        w.WriteString("version", "1.0");
        w.WriteNull("truncation");
        w.WriteNull("padding");
        w.WriteStartArray("added_tokens");
        foreach (int id in new[] { t.UnknownId, t.BosId, t.EosId }.Distinct().Order())
        {
            w.WriteStartObject();
            w.WriteNumber("id", id);
            w.WriteString("content", t.Pieces[id]);
            w.WriteBoolean("single_word", false);
            w.WriteBoolean("lstrip", false);
            w.WriteBoolean("rstrip", false);
            w.WriteBoolean("normalized", false);
            w.WriteBoolean("special", true);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartObject("normalizer");
        w.WriteString("type", "Sequence");
        w.WriteStartArray("normalizers");
        w.WriteRawValue("""{"type": "Prepend", "prepend": "▁"}""");
        w.WriteRawValue("""{"type": "Replace", "pattern": {"String": " "}, "content": "▁"}""");
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteNull("pre_tokenizer");
        w.WritePropertyName("post_processor");
        string b = JsonEncodedText.Encode(bos, System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping).ToString();
        w.WriteRawValue($$$"""
            {"type": "TemplateProcessing",
             "single": [{"SpecialToken": {"id": "{{{b}}}", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
             "pair": [{"SpecialToken": {"id": "{{{b}}}", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "{{{b}}}", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
             "special_tokens": {"{{{b}}}": {"id": "{{{b}}}", "ids": [{{{t.BosId}}}], "tokens": ["{{{b}}}"] } } }
            """);
        w.WritePropertyName("decoder");
        w.WriteRawValue("""{"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}""");
        w.WriteStartObject("model");
        w.WriteString("type", "BPE");
        w.WriteNull("dropout");
        w.WriteString("unk_token", t.Pieces[t.UnknownId]);
        w.WriteNull("continuing_subword_prefix");
        w.WriteNull("end_of_word_suffix");
        w.WriteBoolean("fuse_unk", true);
        w.WriteBoolean("byte_fallback", true);
        w.WriteBoolean("ignore_merges", false);
        w.WriteStartObject("vocab");
        for (int i = 0; i < t.VocabSize; i++)
            w.WriteNumber(t.Pieces[i], i);
        w.WriteEndObject();
        w.WriteStartArray("merges");
        foreach (var (left, right) in Merges(t))
        {
            w.WriteStartArray();
            w.WriteStringValue(left);
            w.WriteStringValue(right);
            w.WriteEndArray();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    });
}
