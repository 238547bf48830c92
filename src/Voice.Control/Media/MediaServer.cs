using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Voice.Control.Drachtio;
using Voice.Control.FreeSwitch;
using Voice.Control.Net;
using Voice.Control.Sip;

namespace Voice.Control.Media;

/// <summary>
/// One FreeSWITCH used as a media server, the way drachtio-fsmrf uses the stock drachtio-freeswitch-mrf image:
/// the inbound Event Socket watches it (HEARTBEAT load, <c>sofia status</c>), and each endpoint is an INVITE
/// without SDP sent through drachtio-server to the MRF profile, answered by FreeSWITCH with its offer, and
/// controlled over the outbound Event Socket connection its dialplan opens back to us.
/// </summary>
public sealed class MediaServer : IAsyncDisposable
{
    private int _disposed;
    private readonly DrachtioClient _drachtio;
    private readonly MediaSessionBroker _broker;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, Endpoint> _endpoints = new(StringComparer.Ordinal);
    private volatile bool _profileRunning;
    private volatile bool _recheckOnConnect;

    public MediaServer(MediaServerOptions options, DrachtioClient drachtio, MediaSessionBroker broker, ILoggerFactory? loggers = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(drachtio);
        ArgumentNullException.ThrowIfNull(broker);
        options.Validate();
        Options = options;
        _drachtio = drachtio;
        _broker = broker;
        _loggers = loggers ?? NullLoggerFactory.Instance;
        _logger = _loggers.CreateLogger<MediaServer>();
        _time = timeProvider ?? TimeProvider.System;
        EventSocket = new EslClient(options.EventSocket, _loggers.CreateLogger<EslClient>(), _time);
        // After FreeSWITCH restarts the profile may come up after the Event Socket: check again on every reconnect.
        EventSocket.Connected += (_, _) =>
        {
            if (_recheckOnConnect)
            {
                _ = RecheckProfileAsync();
            }
        };
        EventSocket.Disconnected += (_, _) => _profileRunning = false;
    }

    public MediaServerOptions Options { get; }

    public string Name => Options.DisplayName;

    /// <summary>The inbound Event Socket client (api, bgapi, events) of this server.</summary>
    public EslClient EventSocket { get; }

    /// <summary>Ready for endpoints: the Event Socket is up, the profile runs, and drachtio-server is connected.</summary>
    public bool IsConnected => EventSocket.IsConnected && _profileRunning && _drachtio.IsConnected;

    /// <summary>Why the server cannot take endpoints now, in words for an operator; null when it can.</summary>
    public string? Problem =>
        !EventSocket.IsConnected ? $"the Event Socket at {Options.EventSocket} is not connected{(EventSocket.LastFailure is { } failure ? ": " + failure : string.Empty)}"
        : !_profileRunning ? $"SIP profile '{Options.Profile}' is not running"
        : !_drachtio.IsConnected ? "drachtio-server is not connected"
        : null;

    /// <summary>FreeSWITCH's load from its last HEARTBEAT (sessions, CPU idle, uptime), or null before the first.</summary>
    public FreeSwitchLoad? Load => EventSocket.Load;

    /// <summary>Endpoints of this server that are not yet destroyed.</summary>
    public IReadOnlyCollection<Endpoint> Endpoints => (IReadOnlyCollection<Endpoint>)_endpoints.Values;

    /// <summary>How many <see cref="Endpoints"/> there are, without copying them (the pool asks at every call).</summary>
    public int EndpointCount => _endpoints.Count;

    /// <summary>Connects the Event Socket (retrying in the background afterwards) and checks the SIP profile.</summary>
    /// <exception cref="MediaServerUnavailableException">The profile is missing or not running.</exception>
    public async Task ConnectAsync(CancellationToken ct = default)
    {
        await EventSocket.ConnectAsync(ct).ConfigureAwait(false);
        try
        {
            await CheckProfileAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            // From now on each reconnect checks again (the first connection was just checked here).
            _recheckOnConnect = true;
        }
    }

    /// <summary>Asks <c>sofia status</c> whether the profile runs.</summary>
    /// <exception cref="MediaServerUnavailableException">It does not.</exception>
    public async Task CheckProfileAsync(CancellationToken ct = default)
    {
        var status = await EventSocket.ApiAsync("sofia status", ct).ConfigureAwait(false);
        var state = ProfileState(status, Options.Profile);
        _profileRunning = state?.StartsWith("RUNNING", StringComparison.Ordinal) == true;
        if (!_profileRunning)
        {
            var problem = state is null
                ? $"SIP profile '{Options.Profile}' does not exist (sofia status lists no such profile); load fs-config/sip_profiles/mrf.xml"
                : $"SIP profile '{Options.Profile}' is {state}, not RUNNING";
            MediaLog.ProfileNotRunning(_logger, Name, problem);
            throw new MediaServerUnavailableException($"media server {Name}: {problem}");
        }
        MediaLog.ProfileRunning(_logger, Name, Options.Profile);
    }

    /// <summary>
    /// The State column of a profile's row in <c>sofia status</c> output (rows are Name, Type, Data, State
    /// separated by tabs, as in the capture), or null when no such profile is listed.
    /// </summary>
    internal static string? ProfileState(string sofiaStatus, string profile)
    {
        foreach (var line in sofiaStatus.Split('\n'))
        {
            var columns = line.Split('\t');
            if (columns.Length >= 4 && columns[0].Trim() == profile && columns[1].Trim() == "profile")
            {
                return columns[3].Trim();
            }
        }
        return null;
    }

    /// <summary>
    /// Creates an endpoint: INVITE without SDP to <see cref="MediaServerOptions.SipUri"/>; FreeSWITCH answers with
    /// its offer, our ACK answers it receive-only, and its dialplan connects back to the outbound Event Socket.
    /// On any failure — a SIP error, an unusable offer, no connection back within
    /// <see cref="MediaServerOptions.EndpointTimeout"/>, cancellation — the dialog and any session are torn down
    /// before this throws.
    /// </summary>
    /// <exception cref="MediaServerUnavailableException">This server is not ready.</exception>
    /// <exception cref="MediaException">FreeSWITCH refused, offered no usable media, or never connected back.</exception>
    public Task<Endpoint> CreateEndpointAsync(CancellationToken ct = default) => CreateEndpointAsync(null, ct);

    /// <inheritdoc cref="CreateEndpointAsync(CancellationToken)"/>
    /// <remarks>
    /// With <paramref name="remoteOffer"/> (a phone's offer, from a 2xx to an INVITE without SDP) the INVITE carries it,
    /// FreeSWITCH answers it, and <see cref="Endpoint.LocalSdp"/> is that answer, for the phone's ACK: the endpoint is
    /// connected from the start, with no re-INVITE. This is how SRTP reaches the phone: FreeSWITCH re-keys what it
    /// sends when a re-INVITE brings a new remote key, without telling (seen on 1.11.1).
    /// </remarks>
    public async Task<Endpoint> CreateEndpointAsync(string? remoteOffer, CancellationToken ct = default)
    {
        if (!IsConnected)
        {
            throw new MediaServerUnavailableException($"media server {Name} is not ready: {Problem ?? "it went down just now"}");
        }
        var id = CorrelationIds.New();
        await using var expectation = _broker.Expect(id);
        SipDialog? dialog = null;
        try
        {
            dialog = await _drachtio.CreateUacAsync(Options.SipUri, new UacOptions
            {
                Headers = new Dictionary<string, string>
                {
                    ["User-Agent"] = MediaSessionBroker.UserAgentPrefix + id,
                    ["X-esl-outbound"] = _broker.AdvertisedAddress,
                },
                LocalSdp = remoteOffer,
                AnswerOffer = remoteOffer is null ? (offer, _) => Task.FromResult(Sdp.AnswerForMediaServer(offer, Options.Codecs, Options.Srtp)) : null,
                RingTimeout = Options.EndpointTimeout,
            }, ct).ConfigureAwait(false);

            var offer = dialog.RemoteSdp ?? throw new MediaException($"media server {Name} answered the endpoint INVITE without SDP");
            // Its own offer is cut down to what the phone gets; its answer to the phone's offer goes to the phone as it is.
            var localSdp = remoteOffer is null ? Sdp.OfferForPhone(offer, Options.Codecs, Options.Srtp) : offer;
            EslOutboundSession session;
            try
            {
                session = await expectation.TakeAsync(Options.EndpointTimeout, _time, ct).ConfigureAwait(false);
            }
            catch (TimeoutException ex)
            {
                throw new MediaException(
                    $"media server {Name} answered the endpoint INVITE but did not connect back to {_broker.AdvertisedAddress} within " +
                    $"{Options.EndpointTimeout.TotalSeconds:0.#} s; check that its dialplan runs 'socket ${{sip_h_X-esl-outbound}} async full' " +
                    "and that it can reach that address", ex);
            }

            var endpoint = new Endpoint(this, id, dialog, session, localSdp, _loggers.CreateLogger<Endpoint>(), _time) { RemoteSdp = remoteOffer };
            try
            {
                await session.SubscribeAsync(Options.ChannelEvents, ct).ConfigureAwait(false);
            }
            catch
            {
                await endpoint.DestroyAsync(CancellationToken.None).ConfigureAwait(false);
                throw;
            }
            _endpoints[id] = endpoint;
            if (endpoint.IsDestroyed)
            {
                // It ended while subscribing (FreeSWITCH hung up at once): it must not linger in the list.
                Forget(endpoint);
            }
            MediaLog.EndpointCreated(_logger, id, Name, session.UniqueId);
            return endpoint;
        }
        catch (Exception ex) when (ex is not EndpointDestroyedException)
        {
            MediaLog.EndpointFailed(_logger, id, Name, ex.Message);
            if (dialog is not null)
            {
                await DestroyQuietlyAsync(dialog, id).ConfigureAwait(false);
            }
            Exception? wrapped = ex switch
            {
                SipFailureException { IsRingTimeout: true } => new MediaException($"media server {Name} did not answer the endpoint INVITE within {Options.EndpointTimeout.TotalSeconds:0.#} s", ex),
                SipFailureException sip => new MediaException($"media server {Name} refused the endpoint INVITE: {sip.StatusCode} {sip.ReasonPhrase}", sip),
                DrachtioException link => new MediaServerUnavailableException($"media server {Name}: drachtio-server link failed: {link.Message}", link),
                EslException esl => new MediaException($"media server {Name}: {esl.Message}", esl),
                _ => null,
            };
            if (wrapped is null)
            {
                throw;
            }
            throw wrapped;
        }
    }

    internal void Forget(Endpoint endpoint) => _endpoints.TryRemove(endpoint.Id, out _);

    private async Task DestroyQuietlyAsync(SipDialog dialog, string id)
    {
        try
        {
            await dialog.DestroyAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is DrachtioException or SipFailureException or TimeoutException)
        {
            MediaLog.CleanupFailed(_logger, id, ex.Message);
        }
    }

    private async Task RecheckProfileAsync()
    {
        try
        {
            await CheckProfileAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is MediaException or EslException or TimeoutException)
        {
            // Logged by CheckProfileAsync or left for the next reconnect; the server stays unavailable meanwhile.
            _logger.LogDebug("Profile check after reconnect failed: {Error}", ex.Message);
        }
    }

    /// <summary>Destroys every endpoint, then closes the Event Socket.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        foreach (var endpoint in _endpoints.Values)
        {
            await endpoint.DestroyAsync(CancellationToken.None).ConfigureAwait(false);
        }
        await EventSocket.DisposeAsync().ConfigureAwait(false);
    }
}
