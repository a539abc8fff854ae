using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Paged.Server.Router;

/// <summary>
/// HTTP calls to the instances over one pooled <see cref="SocketsHttpHandler"/>. No overall timeout (a decode
/// streams as long as it generates): callers pass tokens. A response abandoned before its end closes its
/// connection at once (no draining), so the instance sees the disconnect and cancels the request.
/// </summary>
internal sealed class UpstreamClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly AuthenticationHeaderValue? _auth;

    public UpstreamClient(RouterOptions options)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = options.ConnectTimeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            MaxResponseDrainSize = 0,
            UseProxy = false,
            AllowAutoRedirect = false,
        };
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        if (options.UpstreamApiKey is { Length: > 0 } key)
            _auth = new AuthenticationHeaderValue("Bearer", key);
    }

    public async Task<HttpResponseMessage> GetAsync(UpstreamInstance instance, string path, CancellationToken cancellationToken)
    {
        using var request = Request(HttpMethod.Get, instance, path);
        return await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>POSTs a JSON body; the response is returned once its headers arrived (its body is the caller's to read).</summary>
    public async Task<HttpResponseMessage> PostAsync(UpstreamInstance instance, string path, JsonObject body, CancellationToken cancellationToken)
    {
        using var request = Request(HttpMethod.Post, instance, path);
        request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        return await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
    }

    private HttpRequestMessage Request(HttpMethod method, UpstreamInstance instance, string path)
    {
        var request = new HttpRequestMessage(method, new Uri(instance.BaseAddress, path));
        request.Headers.Authorization = _auth;
        return request;
    }

    public void Dispose() => _http.Dispose();
}
