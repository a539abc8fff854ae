using Google.Protobuf;

namespace Paged.Models.Tokenization;

/// <summary>
/// Writes a minimal SentencePiece ModelProto (BPE, byte fallback, dummy prefix, no whitespace collapsing) so that
/// Microsoft.ML.Tokenizers' LlamaTokenizer can be built from a plain (piece, score, type) vocabulary.
/// Field numbers follow sentencepiece_model.proto.
/// </summary>
internal static class SentencePieceModelProto
{
    private const int BpeModelType = 2;

    public static byte[] Build(IReadOnlyList<string> pieces, IReadOnlyList<float> scores, IReadOnlyList<TokenPieceType> types,
        int unkId, int bosId, int eosId)
    {
        using var memory = new MemoryStream();
        using (var output = new CodedOutputStream(memory, leaveOpen: true))
        {
            WritePieces(output, pieces, scores, types);
            output.WriteTag(2, WireFormat.WireType.LengthDelimited);
            output.WriteBytes(TrainerSpec(pieces, unkId, bosId, eosId));
            output.WriteTag(3, WireFormat.WireType.LengthDelimited);
            output.WriteBytes(NormalizerSpec());
        }

        return memory.ToArray();
    }

    private static void WritePieces(CodedOutputStream output, IReadOnlyList<string> pieces, IReadOnlyList<float> scores,
        IReadOnlyList<TokenPieceType> types)
    {
        for (int i = 0; i < pieces.Count; i++)
        {
            int size = CodedOutputStream.ComputeTagSize(1) + CodedOutputStream.ComputeStringSize(pieces[i])
                + CodedOutputStream.ComputeTagSize(2) + sizeof(float)
                + CodedOutputStream.ComputeTagSize(3) + CodedOutputStream.ComputeEnumSize((int)types[i]);
            output.WriteTag(1, WireFormat.WireType.LengthDelimited);
            output.WriteLength(size);
            output.WriteTag(1, WireFormat.WireType.LengthDelimited);
            output.WriteString(pieces[i]);
            output.WriteTag(2, WireFormat.WireType.Fixed32);
            output.WriteFloat(scores[i]);
            output.WriteTag(3, WireFormat.WireType.Varint);
            output.WriteEnum((int)types[i]);
        }
    }

    private static ByteString TrainerSpec(IReadOnlyList<string> pieces, int unkId, int bosId, int eosId)
    {
        using var memory = new MemoryStream();
        using (var o = new CodedOutputStream(memory, leaveOpen: true))
        {
        WriteInt(o, 3, BpeModelType);
        WriteInt(o, 4, pieces.Count);
        WriteInt(o, 35, 1); // byte_fallback
        WriteInt(o, 40, unkId);
        WriteInt(o, 41, bosId);
        WriteInt(o, 42, eosId);
        WriteInt(o, 43, -1); // pad_id: none
        WriteString(o, 45, PieceOr(pieces, unkId, "<unk>"));
        WriteString(o, 46, PieceOr(pieces, bosId, "<s>"));
        WriteString(o, 47, PieceOr(pieces, eosId, "</s>"));
        }

        return ByteString.CopyFrom(memory.ToArray());
    }

    private static ByteString NormalizerSpec()
    {
        using var memory = new MemoryStream();
        using (var o = new CodedOutputStream(memory, leaveOpen: true))
        {
        WriteString(o, 1, "identity");
        WriteInt(o, 3, 1); // add_dummy_prefix
        WriteInt(o, 4, 0); // remove_extra_whitespaces
        WriteInt(o, 5, 1); // escape_whitespaces
        }

        return ByteString.CopyFrom(memory.ToArray());
    }

    private static string PieceOr(IReadOnlyList<string> pieces, int id, string fallback) =>
        id >= 0 && id < pieces.Count ? pieces[id] : fallback;

    private static void WriteInt(CodedOutputStream o, int field, int value)
    {
        o.WriteTag(field, WireFormat.WireType.Varint);
        o.WriteInt32(value);
    }

    private static void WriteString(CodedOutputStream o, int field, string value)
    {
        o.WriteTag(field, WireFormat.WireType.LengthDelimited);
        o.WriteString(value);
    }
}
