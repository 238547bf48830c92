namespace Voice.Control.Media;

/// <summary>
/// Several FreeSWITCH media servers used in turn: endpoints go round-robin to the servers that are ready, a
/// server that is down is skipped, and one that fails an endpoint gives the next one a chance.
/// </summary>
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
        _servers.Select(s => new MediaServerStatus(s.Name, s.IsConnected, s.Load, s.Endpoints.Count, s.Problem)).ToList();

    /// <summary>The next ready server in round-robin order.</summary>
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
    /// Ready servers in rotation order, starting with the first ready one after the server chosen last, which
    /// becomes the new "last". Skipping a server that is down must not give its turn to its neighbour twice.
    /// </summary>
    private List<MediaServer> Candidates()
    {
        var ready = new List<MediaServer>(_servers.Length);
        lock (_lock)
        {
            for (var i = 1; i <= _servers.Length; i++)
            {
                var index = (_last + i) % _servers.Length;
                if (_servers[index].IsConnected)
                {
                    if (ready.Count == 0)
                    {
                        _last = index;
                    }
                    ready.Add(_servers[index]);
                }
            }
        }
        return ready;
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
