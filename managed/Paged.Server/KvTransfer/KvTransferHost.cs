using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Paged.Engine;

namespace Paged.Server.KvTransfer;

/// <summary>
/// Disaggregated serving inside one <c>paged serve</c>: the instance id, the gRPC listener for block pulls
/// (an HTTP/2 endpoint of the same Kestrel server, on the API's host), the puller, the transfer metrics and the
/// loop that expires unacknowledged leases.
/// </summary>
internal sealed class KvTransferHost : IAsyncDisposable
{
    private static readonly TimeSpan ExpiryPeriod = TimeSpan.FromMilliseconds(250);
    private readonly AsyncEngine _engine;
    private readonly ServerOptions _options;
    private readonly CancellationTokenSource _stop = new();
    private KvPuller? _puller;
    private Task? _expiry;

    private KvTransferHost(AsyncEngine engine, ServerOptions options, string? address)
    {
        _engine = engine;
        _options = options;
        Address = address;
    }

    public string InstanceId { get; } = Guid.NewGuid().ToString();

    /// <summary>"host:port" of the gRPC listener; null when this instance has none.</summary>
    public string? Address { get; }

    public AsyncEngine Engine => _engine;

    public KvTransferFault Fault { get; } = KvTransferFaults.FromEnvironment();

    public KvTransferMetrics? Metrics { get; private set; }

    /// <summary>Adds the gRPC listener and service when this instance serves prefills for transfer.</summary>
    public static KvTransferHost Configure(WebApplicationBuilder builder, AsyncEngine engine, ServerOptions options)
    {
        string? address = null;
        if (options.EffectiveKvTransferPort is int requested)
        {
            var ip = options.Host == "localhost" ? IPAddress.Loopback : IPAddress.Parse(options.Host);
            int port = requested == 0 ? FreePort(ip) : requested;
            builder.WebHost.ConfigureKestrel(k => k.Listen(ip, port, l => l.Protocols = HttpProtocols.Http2));
            builder.Services.AddGrpc();
            string host = ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any) ? Dns.GetHostName()
                : ip.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{ip}]" : ip.ToString();
            address = $"{host}:{port}";
        }

        var transfer = new KvTransferHost(engine, options, address);
        builder.Services.AddSingleton(transfer);
        return transfer;
    }

    /// <summary>The transfer-aware half of the completion endpoints (and the gRPC route, when listening).</summary>
    public KvTransferEndpoint CreateEndpoint(WebApplication app, GenerationRunner runner, ServerMetrics serverMetrics)
    {
        Metrics = new KvTransferMetrics(serverMetrics.Registry, _options.ServedModelName, _engine.KvConnector);
        _puller = new KvPuller(Metrics, _options.KvTransferTimeout, Fault);
        if (Address is not null)
            app.MapGrpcService<KvTransferService>();
        return new KvTransferEndpoint(runner, _options, _puller, Metrics, InstanceId, Address);
    }

    public void Describe(JsonObject health) => KvTransferEndpoint.Describe(health, _options, InstanceId, Address);

    /// <summary>Starts expiring leases (only a listening instance holds any).</summary>
    public void Start()
    {
        if (Address is not null)
            _expiry = ExpireLoopAsync(_stop.Token);
    }

    private async Task ExpireLoopAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(ExpiryPeriod);
        try
        {
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                if (_engine.KvConnector.HasExpired(now))
                    await _engine.InvokeAsync(e => e.KvConnector.ExpireLeases(now), stop).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
            // Stopping, or the engine stopped first.
        }
    }

    private static int FreePort(IPAddress ip)
    {
        using var probe = new TcpListener(ip, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_expiry is not null)
            await _expiry.ConfigureAwait(false);
        _puller?.Dispose();
        _stop.Dispose();
    }
}
