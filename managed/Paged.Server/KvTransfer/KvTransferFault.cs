namespace Paged.Server.KvTransfer;

/// <summary>
/// Fault injection for the transfer tests, from the PAGED_KV_TRANSFER_FAULT environment variable (unset in
/// production): "corrupt" flips a byte of the first chunk sent after its checksum is taken, "drop" aborts the
/// connection after the first chunk, "exit" kills the prefill process after the first chunk, "decode-exit"
/// kills the decode process after it received the first chunk.
/// </summary>
internal enum KvTransferFault
{
    None,
    Corrupt,
    Drop,
    Exit,
    DecodeExit,
}

internal static class KvTransferFaults
{
    public const string Variable = "PAGED_KV_TRANSFER_FAULT";

    public static KvTransferFault FromEnvironment() => Environment.GetEnvironmentVariable(Variable) switch
    {
        null or "" => KvTransferFault.None,
        "corrupt" => KvTransferFault.Corrupt,
        "drop" => KvTransferFault.Drop,
        "exit" => KvTransferFault.Exit,
        "decode-exit" => KvTransferFault.DecodeExit,
        var other => throw new ArgumentException($"{Variable} must be corrupt, drop, exit or decode-exit (got '{other}')"),
    };

    /// <summary>Ends this process at once, as a SIGKILL would (no shutdown handlers run).</summary>
    public static void KillSelf() => System.Diagnostics.Process.GetCurrentProcess().Kill();
}
