using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Voice.Control.Calls;
using Voice.Host.Storage;

namespace Voice.Host.Cluster;

/// <summary>
/// The dashboard's live stream across a cluster: each host relays the state changes of its calls to the others
/// (<c>NOTIFY</c>, in batches every <see cref="FlushInterval"/>), and hands those it hears to its own stream's clients.
/// Only while somebody watches: a host with clients says so every <see cref="WatchInterval"/>, and the hosts relay for
/// <see cref="RelayFor"/> after hearing it. On SQLite (one host) it does nothing.
/// </summary>
internal sealed class ClusterEvents : IDisposable
{
    public static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(100);

    public static readonly TimeSpan WatchInterval = TimeSpan.FromSeconds(5);

    public static readonly TimeSpan RelayFor = TimeSpan.FromSeconds(15);

    /// <summary>A NOTIFY carries at most 8000 bytes; a batch is cut before this.</summary>
    private const int MaxPayload = 7500;

    private readonly ICallStore _store;
    private readonly IOutboundCalls _calls;
    private readonly Func<CallStateChange, string> _json;
    private readonly TimeProvider _time;
    private readonly ILogger<ClusterEvents> _logger;
    private readonly Lock _lock = new();
    private readonly List<string> _outgoing = [];
    private readonly List<ChannelWriter<string>> _clients = [];
    private readonly ITimer? _flush;
    private readonly ITimer? _watch;
    private long _relayUntil;

    /// <param name="store">The shared database the notifications go through.</param>
    /// <param name="calls">This host's calls, whose changes are relayed.</param>
    /// <param name="json">A change as the stream sends it (the host's view of the call: its number, click-to-call's agent).</param>
    /// <param name="time">The clock of the batches and of the watchers' notices.</param>
    /// <param name="logger">Where failed relays are told.</param>
    public ClusterEvents(ICallStore store, IOutboundCalls calls, Func<CallStateChange, string> json, TimeProvider time, ILogger<ClusterEvents> logger)
    {
        (_store, _calls, _json, _time, _logger) = (store, calls, json, time, logger);
        if (!store.Clustered)
        {
            return;
        }
        // A host that has just started may have missed a watcher's last notice: it relays until the next one is due.
        _relayUntil = (time.GetUtcNow() + RelayFor).ToUnixTimeMilliseconds();
        calls.StateChanged += OnStateChanged;
        using (ExecutionContext.SuppressFlow())
        {
            _flush = time.CreateTimer(_ => _ = FlushAsync(), null, FlushInterval, FlushInterval);
            _watch = time.CreateTimer(_ => _ = SayWatchingAsync(), null, TimeSpan.Zero, WatchInterval);
        }
    }

    /// <summary>Another host's changes, each as the stream sends it, from now until <paramref name="client"/> is removed (disposing the result).</summary>
    public IDisposable Watch(ChannelWriter<string> client)
    {
        lock (_lock)
        {
            _clients.Add(client);
        }
        _ = SayWatchingAsync();
        return new Unwatch(this, client);
    }

    /// <summary>A notification on <see cref="ClusterChannels.StateChannel"/> or <see cref="ClusterChannels.WatchChannel"/>.</summary>
    public void Heard(string channel, string payload)
    {
        if (channel == ClusterChannels.WatchChannel)
        {
            Interlocked.Exchange(ref _relayUntil, (_time.GetUtcNow() + RelayFor).ToUnixTimeMilliseconds());
            return;
        }
        if (channel != ClusterChannels.StateChannel)
        {
            return;
        }
        JsonDocument batch;
        try
        {
            batch = JsonDocument.Parse(payload);
        }
        catch (JsonException ex)
        {
            _logger.LogWarning("A live-stream batch from another host could not be read: {Error}", ex.Message);
            return;
        }
        using var _ = batch;
        if (batch.RootElement.GetProperty("host").GetString() == _store.HostId)
        {
            return; // this host's own, sent to its clients already
        }
        ChannelWriter<string>[] clients;
        lock (_lock)
        {
            clients = [.. _clients];
        }
        foreach (var change in batch.RootElement.GetProperty("changes").EnumerateArray())
        {
            var json = change.GetRawText();
            foreach (var client in clients)
            {
                client.TryWrite(json); // a client too far behind misses some, as with this host's own changes
            }
        }
    }

    private void OnStateChanged(object? sender, CallStateChange change)
    {
        if (_time.GetUtcNow().ToUnixTimeMilliseconds() > Interlocked.Read(ref _relayUntil))
        {
            return; // nobody watches
        }
        var json = _json(change);
        lock (_lock)
        {
            _outgoing.Add(json);
        }
    }

    private async Task FlushAsync()
    {
        List<string> outgoing;
        lock (_lock)
        {
            if (_outgoing.Count == 0)
            {
                return;
            }
            outgoing = [.. _outgoing];
            _outgoing.Clear();
        }
        try
        {
            foreach (var payload in Batches(outgoing))
            {
                await _store.NotifyAsync(ClusterChannels.StateChannel, payload);
            }
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or ObjectDisposedException or InvalidOperationException)
        {
            _logger.LogDebug("The live stream's changes were not relayed: {Error}", ex.Message);
        }
    }

    /// <summary>The changes as payloads of at most <see cref="MaxPayload"/> bytes: <c>{"host":…,"changes":[…]}</c>.</summary>
    private IEnumerable<string> Batches(List<string> changes)
    {
        var head = $"{{\"host\":{JsonSerializer.Serialize(_store.HostId)},\"changes\":[";
        var batch = new StringBuilder(head);
        var count = 0;
        foreach (var change in changes)
        {
            if (count > 0 && Encoding.UTF8.GetByteCount(change) + batch.Length + 2 > MaxPayload)
            {
                yield return batch.Append("]}").ToString();
                batch.Clear().Append(head);
                count = 0;
            }
            batch.Append(count++ == 0 ? "" : ",").Append(change);
        }
        yield return batch.Append("]}").ToString();
    }

    private async Task SayWatchingAsync()
    {
        lock (_lock)
        {
            if (_clients.Count == 0 || !_store.Clustered)
            {
                return;
            }
        }
        try
        {
            await _store.NotifyAsync(ClusterChannels.WatchChannel, _store.HostId);
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or ObjectDisposedException or InvalidOperationException)
        {
            _logger.LogDebug("Could not tell the cluster the live stream has clients: {Error}", ex.Message);
        }
    }

    public void Dispose()
    {
        _calls.StateChanged -= OnStateChanged;
        _flush?.Dispose();
        _watch?.Dispose();
    }

    private sealed class Unwatch(ClusterEvents events, ChannelWriter<string> client) : IDisposable
    {
        public void Dispose()
        {
            lock (events._lock)
            {
                events._clients.Remove(client);
            }
        }
    }
}
