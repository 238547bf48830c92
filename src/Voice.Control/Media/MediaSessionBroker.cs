using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Voice.Control.FreeSwitch;

namespace Voice.Control.Media;

/// <summary>
/// The outbound Event Socket listener shared by every media server, and the table that pairs each connection
/// FreeSWITCH opens back with the endpoint INVITE that caused it. The pairing key is the endpoint id that the
/// INVITE's <c>User-Agent: drachtio-fsmrf:&lt;id&gt;</c> carried and the channel data repeats as
/// <c>variable_sip_user_agent</c>, the convention of the stock drachtio-freeswitch-mrf image.
/// </summary>
public sealed class MediaSessionBroker : IAsyncDisposable
{
    /// <summary>The User-Agent prefix the MRF dialplan matches on.</summary>
    public const string UserAgentPrefix = "drachtio-fsmrf:";

    private int _disposed;
    private readonly EslOutboundOptions _options;
    private readonly EslOutboundListener _listener;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, Expectation> _expected = new(StringComparer.Ordinal);
    private Task? _pairing;

    public MediaSessionBroker(EslOutboundOptions options, ILoggerFactory? loggers = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        loggers ??= NullLoggerFactory.Instance;
        _logger = loggers.CreateLogger<MediaSessionBroker>();
        _listener = new EslOutboundListener(options, loggers.CreateLogger<EslOutboundListener>(), timeProvider);
    }

    /// <summary>
    /// The <c>host:port</c> endpoint INVITEs carry in <c>X-esl-outbound</c>, where FreeSWITCH's <c>socket</c>
    /// application connects: <see cref="EslOutboundOptions.AdvertisedAddress"/>, or the bound address.
    /// </summary>
    public string AdvertisedAddress { get; private set; } = string.Empty;

    /// <summary>Binds the listener and starts pairing.</summary>
    /// <exception cref="InvalidOperationException">It listens on every address and no advertised address is configured.</exception>
    public void Start()
    {
        _listener.Start();
        var bound = _listener.LocalEndPoint;
        if (_options.AdvertisedAddress is { } advertised)
        {
            AdvertisedAddress = advertised;
        }
        else if (bound.Address.Equals(IPAddress.Any) || bound.Address.Equals(IPAddress.IPv6Any))
        {
            throw new InvalidOperationException(
                $"The outbound Event Socket listens on {bound}; set AdvertisedAddress to the host:port FreeSWITCH can reach it at.");
        }
        else
        {
            AdvertisedAddress = bound.ToString();
        }
        _pairing = PairAsync();
    }

    /// <summary>Registers an endpoint id before its INVITE goes out, so a connection that races the 200 OK is still paired.</summary>
    internal Expectation Expect(string endpointId)
    {
        var expectation = new Expectation(this, endpointId);
        _expected[endpointId] = expectation;
        return expectation;
    }

    private async Task PairAsync()
    {
        await foreach (var session in _listener.Sessions.ReadAllAsync().ConfigureAwait(false))
        {
            var userAgent = session.ChannelData.Variable("sip_user_agent") ?? string.Empty;
            var id = userAgent.StartsWith(UserAgentPrefix, StringComparison.Ordinal) ? userAgent[UserAgentPrefix.Length..] : null;
            if (id is not null && _expected.TryRemove(id, out var expectation) && expectation.TryDeliver(session))
            {
                continue;
            }
            // Not an endpoint's: a channel a dialplan handed over (it names an application or a script), if anyone takes those.
            if (HandOver is { } handOver && Backends.DialplanLeg.IsHandOver(session))
            {
                _ = TakeHandOverAsync(handOver, session);
                continue;
            }
            // Nobody waits for this channel (its endpoint timed out, or it is not ours): do not leave it up.
            MediaLog.UnpairedSession(_logger, session.UniqueId, userAgent);
            _ = RefuseAsync(session);
        }
    }

    /// <summary>
    /// Takes channels a FreeSWITCH dialplan hands over (<c>socket</c> with <c>voicebridge_app</c> or
    /// <c>voicebridge_say</c> set); null: they are hung up like any connection no endpoint waits for. An endpoint's
    /// connection is never handed over: its id is looked for first.
    /// </summary>
    public Func<EslOutboundSession, Task>? HandOver { get; set; }

    private async Task TakeHandOverAsync(Func<EslOutboundSession, Task> handOver, EslOutboundSession session)
    {
        try
        {
            await session.SubscribeAsync().ConfigureAwait(false);
            await handOver(session).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            MediaLog.HandOverFailed(_logger, session.UniqueId, ex.Message);
            await RefuseAsync(session).ConfigureAwait(false);
        }
    }

    /// <summary>Hangs a session nobody wants up, and always closes its socket, whatever the hangup does.</summary>
    internal static async Task RefuseAsync(EslOutboundSession session)
    {
        try
        {
            await session.HangupAsync().WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is EslException or TimeoutException or ArgumentException or ObjectDisposedException)
        {
        }
        finally
        {
            await session.DisposeAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        await _listener.DisposeAsync().ConfigureAwait(false);
        if (_pairing is not null)
        {
            await _pairing.ConfigureAwait(false);
        }
    }

    /// <summary>One endpoint waiting for its connection. Disposing it without taking the session hangs that session up.</summary>
    internal sealed class Expectation(MediaSessionBroker broker, string id) : IAsyncDisposable
    {
        // Completed outside the lock: the endpoint that waits for its connection continues on the pairing loop's
        // thread instead of waking another.
        private readonly TaskCompletionSource<EslOutboundSession> _session = new();
        private readonly Lock _lock = new();
        private EslOutboundSession? _delivered;
        private bool _closed;
        private bool _taken;

        public Task<EslOutboundSession> Session => _session.Task;

        public bool TryDeliver(EslOutboundSession session)
        {
            lock (_lock)
            {
                if (_closed || _delivered is not null)
                {
                    return false;
                }
                _delivered = session;
            }
            _session.TrySetResult(session);
            return true;
        }

        /// <summary>Waits for the session and takes ownership of it.</summary>
        public async Task<EslOutboundSession> TakeAsync(TimeSpan timeout, TimeProvider time, CancellationToken ct)
        {
            var session = await _session.Task.WaitAsync(timeout, time, ct).ConfigureAwait(false);
            lock (_lock)
            {
                _taken = true;
            }
            return session;
        }

        public async ValueTask DisposeAsync()
        {
            broker._expected.TryRemove(new KeyValuePair<string, Expectation>(id, this));
            EslOutboundSession? orphan;
            lock (_lock)
            {
                _closed = true;
                orphan = _taken ? null : _delivered;
            }
            if (orphan is not null)
            {
                await RefuseAsync(orphan).ConfigureAwait(false);
            }
        }
    }
}
