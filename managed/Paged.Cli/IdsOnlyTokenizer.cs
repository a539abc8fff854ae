using System.Globalization;
using System.Text;
using Paged.Models;
using Paged.Models.Tokenization;

namespace Paged.Cli;

/// <summary>
/// Stand-in for a checkpoint directory whose tokenizer cannot be loaded: prompts must be token ids, and output
/// text spells each generated id as " id" (the JSONL token_ids are the real result).
/// </summary>
internal sealed class IdsOnlyTokenizer(ModelConfig config, string reason) : ITokenizer
{
    public int VocabSize => config.VocabSize;

    public int BosId => config.BosId;

    public int EosId => config.EosId;

    public IReadOnlyList<int> Encode(string text, bool addBos) =>
        throw new ModelFormatException($"{reason}; give prompts as token ids (--prompt-ids, or \"prompt_ids\" in a JSONL prompts file)");

    public string Decode(IEnumerable<int> ids) => string.Concat(ids.Select(id => Encoding.UTF8.GetString(PieceBytes(id))));

    public ReadOnlySpan<byte> PieceBytes(int id) => Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $" {id}"));

    public TokenPieceType PieceType(int id) => TokenPieceType.Normal;

    // No BOS added, no special tokens, no template; every piece keeps its leading space.
    public LeadingSpaceRule LeadingSpace => LeadingSpaceRule.Keep;

    public bool AddsBos { get; }

    public string? BosToken { get; }

    public string? EosToken { get; }

    public IReadOnlyDictionary<string, int> SpecialTokens { get; } = new Dictionary<string, int>();

    public string? ChatTemplate { get; }

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens) => Decode(ids);
}
