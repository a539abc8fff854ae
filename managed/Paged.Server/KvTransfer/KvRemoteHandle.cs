using System.Text.Json;
using System.Text.Json.Nodes;
using Paged.Engine.KvTransfer;

namespace Paged.Server.KvTransfer;

/// <summary>
/// The "kv_transfer_params" a prefill instance answers with (vLLM's names) and a decode instance is given back:
/// where the prompt's blocks are pinned, their geometry, the prompt and first token, and the lease deadline.
/// </summary>
internal sealed record KvRemoteHandle(
    string InstanceId, string LeaseId, string Address, int[] BlockIds, int NumComputedTokens, KvGeometry Geometry,
    int[] PromptTokenIds, int FirstTokenId, long LeaseExpiresUnixMs)
{
    public const string Field = "kv_transfer_params";

    public static KvRemoteHandle From(KvLease lease, KvGeometry geometry, string instanceId, string address) => new(
        instanceId, lease.Id, address, lease.BlockIds, lease.PromptTokenIds.Count, geometry, [.. lease.PromptTokenIds], lease.FirstTokenId, lease.ExpiresUnixMs);

    public JsonObject ToJson() => new()
    {
        ["do_remote_prefill"] = true,
        ["do_remote_decode"] = false,
        ["remote_instance_id"] = InstanceId,
        ["remote_request_id"] = LeaseId,
        ["remote_address"] = Address,
        ["block_ids"] = new JsonArray([.. BlockIds.Select(b => JsonValue.Create(b))]),
        ["num_computed_tokens"] = NumComputedTokens,
        ["block_size"] = Geometry.BlockSize,
        ["num_layers"] = Geometry.NumLayers,
        ["num_kv_heads"] = Geometry.NumKvHeads,
        ["head_size"] = Geometry.HeadSize,
        ["kv_dtype"] = Geometry.DType,
        ["prompt_token_ids"] = new JsonArray([.. PromptTokenIds.Select(t => JsonValue.Create(t))]),
        ["first_token_id"] = FirstTokenId,
        ["lease_expires_unix_ms"] = LeaseExpiresUnixMs,
    };

    /// <summary>Reads the decode step's parameters; a missing or malformed field is a 400 naming it.</summary>
    public static KvRemoteHandle Parse(JsonFields p)
    {
        string Str(string name) => p.String(name) is { Length: > 0 } s ? s : throw Missing(name);
        int Int(string name) => p.Int(name, 0, int.MaxValue) ?? throw Missing(name);
        var geometry = new KvGeometry(Int("num_layers"), Int("num_kv_heads"), Int("block_size"), Int("head_size"), Str("kv_dtype"));
        int[] prompt = [.. p.Ints("prompt_token_ids", 0, int.MaxValue)];
        int[] blocks = [.. p.Ints("block_ids", 0, int.MaxValue)];
        int computed = Int("num_computed_tokens");
        if (prompt.Length == 0 || computed != prompt.Length)
            throw ApiException.BadRequest($"'{Field}.prompt_token_ids' must hold the num_computed_tokens ({computed}) prompt tokens", Field);
        if (blocks.Length != (computed + geometry.BlockSize - 1) / geometry.BlockSize)
            throw ApiException.BadRequest($"'{Field}.block_ids' must name one block per {geometry.BlockSize} computed tokens", Field);
        long expires = p.TryGet("lease_expires_unix_ms", out var e) && e.ValueKind == JsonValueKind.Number ? e.GetInt64() : 0;
        return new KvRemoteHandle(p.String("remote_instance_id") ?? "", Str("remote_request_id"), Str("remote_address"), blocks, computed,
            geometry, prompt, Int("first_token_id"), expires);
    }

    private static ApiException Missing(string name) => ApiException.BadRequest($"'{Field}.{name}' is required for a decode with remote prefill", Field);
}
