namespace Paged.Models.Tokenization;

/// <summary>
/// A model's tokenizer: SentencePiece-style (llama2.c, GGUF "llama", tokenizer.json with byte fallback) or byte-level BPE
/// (tokenizer.json GPT-2 / Llama 3 / Qwen style, GGUF "gpt2").
/// </summary>
public interface ITokenizer
{
    /// <summary>One more than the highest token id (model vocabulary plus added tokens).</summary>
    int VocabSize { get; }

    /// <summary>The beginning-of-sequence id, or -1 when the tokenizer has none (Qwen).</summary>
    int BosId { get; }

    /// <summary>The tokenizer's end-of-sequence id (tokenizer_config eos_token), or -1 when it names none.</summary>
    int EosId { get; }

    /// <summary>True when encoding with <c>addBos: true</c> prepends <see cref="BosId"/> (HF add_bos_token / post-processor).</summary>
    bool AddsBos { get; }

    /// <summary>The text of the BOS and EOS tokens (for chat templates' bos_token / eos_token), or null.</summary>
    string? BosToken { get; }

    string? EosToken { get; }

    /// <summary>Added tokens marked special (text -> id): matched in prompt text and skipped when decoding skips special tokens.</summary>
    IReadOnlyDictionary<string, int> SpecialTokens { get; }

    /// <summary>The Jinja chat template text (chat_template.jinja, tokenizer_config.json or GGUF tokenizer.chat_template), or null.</summary>
    string? ChatTemplate { get; }

    /// <summary>How the first text piece's leading space is dropped when decoding.</summary>
    LeadingSpaceRule LeadingSpace { get; }

    /// <summary>
    /// Encodes text. Added tokens in the text are matched first (as HuggingFace tokenizers do); with
    /// <paramref name="addBos"/> the tokens the model's tokenizer adds around a text are added too (BOS where
    /// <see cref="AddsBos"/>; nothing for tokenizers without BOS). Text rendered by a chat template already holds its
    /// special tokens: encode it with <c>addBos: false</c>.
    /// </summary>
    IReadOnlyList<int> Encode(string text, bool addBos);

    /// <summary>Decodes ids, skipping special tokens (control pieces): the text a user sees.</summary>
    string Decode(IEnumerable<int> ids);

    /// <summary>Decodes ids; with <paramref name="skipSpecialTokens"/> false special tokens appear as their text (HF decode).</summary>
    string Decode(IEnumerable<int> ids, bool skipSpecialTokens);

    /// <summary>The bytes a token stands for (byte pieces as their byte, special added tokens as their text, llama2.c control pieces empty).</summary>
    ReadOnlySpan<byte> PieceBytes(int id);

    /// <summary>The token's kind; <see cref="TokenPieceType.Control"/> marks special tokens.</summary>
    TokenPieceType PieceType(int id);
}
