namespace Voice.Control.Media;

/// <summary>
/// Several FreeSWITCH media servers: each endpoint goes to the ready server with the least load, in turn among
/// servers loaded alike; a server that is down is skipped until it is back, and one that fails an endpoint gives the
/// next one a chance.
/// </summary>
/// <remarks>
/// A server's load is its share of sessions in use: the sessions its last HEARTBEAT counted (every 20 s; they include
/// other hosts' calls on a shared server) or the endpoints this process holds on it now, whichever is more (so a burst
/// between heartbeats spreads), out of its Max-Sessions (1000 until a heartbeat says). Servers whose shares are
/// within <see cref="LoadStep"/> of each other count as equal and take turns.
/// </remarks>
public sealed class MediaServerPool : IAsyncDisposable
{
    private int _disposed;
    private readonly MediaServer[] _servers;
    private readonly Lock _lock = new();
    private int _last = -1;

    public MediaServerPool(IEnumerable<MediaServer> servers)
    {
        ArgumentNullException.ThrowIfNull(servers);
        _servers = [.. servers];
        if (_servers.Length == 0)
        {
            throw new ArgumentException("A media server pool needs at least one server.", nameof(servers));
        }
    }

    public IReadOnlyList<MediaServer> Servers => _servers;

    /// <summary>Each server's readiness and last HEARTBEAT load, for health checks and metrics.</summary>
    public IReadOnlyList<MediaServerStatus> Status =>
        _servers.Select(s => new MediaServerStatus(s.Name, s.IsConnected, s.Load, s.EndpointCount, s.Problem)).ToList();

    /// <summary>Shares of sessions in use this close to each other count as the same load (servers take turns).</summary>
    public const double LoadStep = 0.02;

    /// <summary>The next ready server: the least loaded, in turn among those loaded alike.</summary>
    /// <exception cref="MediaServerUnavailableException">No server is ready.</exception>
    public MediaServer Next() => Candidates() is [var first, ..] ? first : throw NoneReady();

    /// <summary>
    /// Creates an endpoint on the next ready server; when that server fails to create it (no answer, no
    /// connection back, a SIP error), tries each other ready server once before giving up with the last error.
    /// </summary>
    public Task<Endpoint> CreateEndpointAsync(CancellationToken ct = default) => CreateEndpointAsync(null, ct);

    /// <inheritdoc cref="CreateEndpointAsync(CancellationToken)"/>
    /// <param name="remoteOffer">A phone's offer for the endpoint to answer (<see cref="MediaServer.CreateEndpointAsync(string?, CancellationToken)"/>).</param>
    /// <param name="ct">Stops the attempts.</param>
    public async Task<Endpoint> CreateEndpointAsync(string? remoteOffer, CancellationToken ct = default)
    {
        MediaException? last = null;
        foreach (var server in Candidates())
        {
            ct.ThrowIfCancellationRequested();
            try
            {
                return await server.CreateEndpointAsync(remoteOffer, ct).ConfigureAwait(false);
            }
            catch (MediaException ex) when (!ct.IsCancellationRequested)
            {
                last = ex;
            }
        }
        throw last ?? NoneReady();
    }

    /// <summary>
    /// Ready servers, least loaded first; among servers loaded alike, in rotation order starting after the server chosen
    /// last. The first becomes the new "last": skipping a server that is down must not give its turn to its neighbour twice.
    /// </summary>
    private List<MediaServer> Candidates()
    {
        var ready = new List<(MediaServer Server, int Index, long Step)>(_servers.Length);
        lock (_lock)
        {
            for (var i = 1; i <= _servers.Length; i++)
            {
                var index = (_last + i) % _servers.Length;
                if (_servers[index].IsConnected)
                {
                    ready.Add((_servers[index], index, (long)(LoadOf(_servers[index]) / LoadStep)));
                }
            }
            // A stable sort: the rotation order holds among equal loads.
            ready = [.. ready.OrderBy(r => r.Step)];
            if (ready.Count > 0)
            {
                _last = ready[0].Index;
            }
        }
        return [.. ready.Select(r => r.Server)];
    }

    /// <summary>The share of a server's sessions in use (see the remarks on the class).</summary>
    internal static double LoadOf(MediaServer server)
    {
        var load = server.Load;
        var sessions = Math.Max(server.EndpointCount, load?.SessionCount ?? 0);
        return (double)sessions / (load is { MaxSessions: > 0 } known ? known.MaxSessions : 1000);
    }

    private MediaServerUnavailableException NoneReady() =>
        new($"no media server is ready ({string.Join(", ", _servers.Select(s => $"{s.Name}: {(s.EventSocket.IsConnected ? "profile not running or drachtio down" : "Event Socket down")}"))})");

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        foreach (var server in _servers)
        {
            await server.DisposeAsync().ConfigureAwait(false);
        }
    }
}
