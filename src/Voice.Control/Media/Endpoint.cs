using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Voice.Control.Drachtio;
using Voice.Control.FreeSwitch;

namespace Voice.Control.Media;

/// <summary>
/// A FreeSWITCH channel that plays to and listens to one phone: the SIP dialog drachtio-server keeps with
/// FreeSWITCH, and the outbound Event Socket session that runs applications on the channel. Give the phone
/// <see cref="LocalSdp"/>, pass its answer to <see cref="ModifyAsync"/>, then play, speak and collect keys.
/// Every operation's CancellationToken stops it on the wire (<c>uuid_break</c>); <see cref="DestroyAsync"/>
/// hangs up. The endpoint ends exactly once, whoever ends it, and says so in <see cref="Destroyed"/>.
/// </summary>
public sealed partial class Endpoint : IAsyncDisposable
{
    /// <summary>The channel events an endpoint subscribes to unless <see cref="MediaServerOptions.ChannelEvents"/> says otherwise.</summary>
    public static IReadOnlyList<string> Events => EslOutboundSession.DefaultEvents;

    private readonly SipDialog _dialog;
    private readonly EslOutboundSession _session;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    // Completed outside any lock: what awaits the end (the call's media-lost watch) continues on the thread that ended
    // the endpoint instead of waking a pool thread.
    private readonly TaskCompletionSource<EndpointDestroyedEventArgs> _destroyed = new();
    private readonly Lock _listeners = new();
    private int _teardownStarted;
    private EventHandler<DtmfEventArgs>? _dtmf;
    private EventHandler<EslEvent>? _channelEvent;
    private bool _listening;

    internal Endpoint(MediaServer server, string id, SipDialog dialog, EslOutboundSession session, string localSdp, ILogger logger, TimeProvider time)
    {
        Server = server;
        Id = id;
        _dialog = dialog;
        _session = session;
        LocalSdp = localSdp;
        _logger = logger;
        _time = time;
        Channel = new MediaChannel(session, id, time, () => _destroyed.Task.IsCompleted ? _destroyed.Task.Result.Cause : null);
        dialog.Destroyed += OnDialogDestroyed;
        _ = WatchSessionAsync();
    }

    /// <summary>Our id for the endpoint: the one in <c>User-Agent: drachtio-fsmrf:&lt;id&gt;</c>.</summary>
    public string Id { get; }

    /// <summary>FreeSWITCH's channel UUID.</summary>
    public string Uuid => _session.UniqueId;

    public MediaServer Server { get; }

    /// <summary>The dialog with FreeSWITCH (not with the phone).</summary>
    public SipDialog Dialog => _dialog;

    /// <summary>
    /// The SDP to offer the phone: FreeSWITCH's stream in the profile the phone must use (plain RTP/AVP unless
    /// SRTP is configured) with the configured codecs.
    /// </summary>
    public string LocalSdp { get; }

    /// <summary>The phone's SDP, once <see cref="ModifyAsync"/> gave it to FreeSWITCH.</summary>
    public string? RemoteSdp { get; internal set; }

    public bool IsDestroyed => _destroyed.Task.IsCompleted;

    /// <summary>
    /// Completes when the endpoint has ended, with the cause; safe to await after it ended. Code awaiting it continues
    /// on the thread that ended the endpoint (often a connection's read loop) and must not block.
    /// </summary>
    public Task<EndpointDestroyedEventArgs> Terminated => _destroyed.Task;

    /// <summary>Raised once when the endpoint ends, whoever ended it.</summary>
    public event EventHandler<EndpointDestroyedEventArgs>? Destroyed;

    /// <summary>Raised for each key the far end presses, in order, from the first subscription on.</summary>
    public event EventHandler<DtmfEventArgs>? Dtmf
    {
        add => Listen(ref _dtmf, value);
        remove => StopListening(ref _dtmf, value);
    }

    /// <summary>
    /// Every event of the channel the endpoint subscribed to (<see cref="MediaServerOptions.ChannelEvents"/>), as
    /// FreeSWITCH sent it, from the first subscription on.
    /// </summary>
    public event EventHandler<EslEvent>? ChannelEvent
    {
        add => Listen(ref _channelEvent, value);
        remove => StopListening(ref _channelEvent, value);
    }

    /// <summary>Adds a handler; the channel's events are read once someone listens to them, not before.</summary>
    private void Listen<T>(ref EventHandler<T>? handlers, EventHandler<T>? handler)
    {
        lock (_listeners)
        {
            handlers += handler;
            if (!_listening)
            {
                _listening = true;
                _session.EventReceived += OnChannelEvent;
            }
        }
    }

    private void StopListening<T>(ref EventHandler<T>? handlers, EventHandler<T>? handler)
    {
        lock (_listeners)
        {
            handlers -= handler;
        }
    }

    /// <summary>Points FreeSWITCH's media at the phone: a re-INVITE carrying the phone's SDP. Returns FreeSWITCH's answer to it.</summary>
    public async Task<string?> ModifyAsync(string remoteSdp, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(remoteSdp);
        ThrowIfDestroyed();
        var answer = await _dialog.ModifyAsync(remoteSdp, ct).ConfigureAwait(false);
        RemoteSdp = remoteSdp;
        return answer;
    }

    /// <summary>The commands that play to the channel and listen to it.</summary>
    public MediaChannel Channel { get; }

    /// <inheritdoc cref="MediaChannel.PlayAsync(string, CancellationToken)"/>
    public Task PlayAsync(string source, CancellationToken ct = default) => Channel.PlayAsync(source, ct);

    /// <inheritdoc cref="MediaChannel.PlayAsync(IReadOnlyList{string}, int, CancellationToken)"/>
    public Task PlayAsync(IReadOnlyList<string> sources, int loops = 1, CancellationToken ct = default) => Channel.PlayAsync(sources, loops, ct);

    /// <inheritdoc cref="MediaChannel.SpeakAsync"/>
    public Task SpeakAsync(string text, SpeakOptions? options = null, CancellationToken ct = default) => Channel.SpeakAsync(text, options, ct);

    /// <inheritdoc cref="MediaChannel.PlayAndCollectDigitsAsync"/>
    public Task<CollectedDigits> PlayAndCollectDigitsAsync(CollectDigitsOptions options, CancellationToken ct = default) => Channel.PlayAndCollectDigitsAsync(options, ct);

    /// <inheritdoc cref="MediaChannel.SendDigitsAsync"/>
    public Task SendDigitsAsync(string digits, TimeSpan toneDuration, CancellationToken ct = default) => Channel.SendDigitsAsync(digits, toneDuration, ct);

    /// <inheritdoc cref="MediaChannel.RecordAsync"/>
    public Task<Recording> RecordAsync(string path, RecordOptions? options = null, CancellationToken ct = default) => Channel.RecordAsync(path, options, ct);

    /// <inheritdoc cref="MediaChannel.ExecuteAsync"/>
    public Task<EslEvent> ExecuteAsync(string application, string? argument = null, CancellationToken ct = default) => Channel.ExecuteAsync(application, argument, ct);

    /// <summary>
    /// Hangs up: BYE to FreeSWITCH through drachtio-server (FreeSWITCH then closes the channel's socket), or,
    /// when drachtio-server cannot be reached, a hangup over the Event Socket. Idempotent; later calls wait for
    /// the first to finish. Cancelling stops the wait for FreeSWITCH to close the socket, which is then closed here.
    /// </summary>
    public async Task DestroyAsync(CancellationToken ct = default)
    {
        if (Interlocked.Exchange(ref _teardownStarted, 1) == 1)
        {
            await _destroyed.Task.WaitAsync(ct).ConfigureAwait(false);
            return;
        }
        var byeSent = false;
        if (_dialog.State != DialogState.Terminated)
        {
            try
            {
                await _dialog.DestroyAsync(ct).ConfigureAwait(false);
                byeSent = true;
            }
            catch (Exception ex) when (ex is DrachtioException or OperationCanceledException or TimeoutException)
            {
                MediaLog.CleanupFailed(_logger, Id, "BYE: " + ex.Message);
            }
        }
        Complete("NORMAL_CLEARING", EndpointTerminatedBy.Local);
        await CloseSessionAsync(hangUpFirst: !byeSent, ct).ConfigureAwait(false);
    }

    public ValueTask DisposeAsync() => new(DestroyAsync(CancellationToken.None));

    /// <summary>Lets FreeSWITCH close the channel's socket (after a hangup, when asked), all within the close timeout, then closes it.</summary>
    private async Task CloseSessionAsync(bool hangUpFirst, CancellationToken ct)
    {
        using var deadline = new CancellationTokenSource(Server.Options.CloseTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, deadline.Token);
        try
        {
            if (hangUpFirst && !_session.IsClosed)
            {
                await _session.HangupAsync("NORMAL_CLEARING", linked.Token).ConfigureAwait(false);
            }
            await _session.Closed.WaitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is EslException or TimeoutException or OperationCanceledException)
        {
            MediaLog.CleanupFailed(_logger, Id, "closing the channel's socket: " + (deadline.IsCancellationRequested ? "FreeSWITCH did not close it in time" : ex.Message));
        }
        await _session.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>FreeSWITCH's socket closed: after its BYE in a normal hangup, or alone when FreeSWITCH stopped.</summary>
    private async Task WatchSessionAsync()
    {
        await _session.Closed.ConfigureAwait(false);
        if (Volatile.Read(ref _teardownStarted) == 1)
        {
            return;
        }
        var cause = _session.HungUp.IsCompletedSuccessfully ? _session.HungUp.Result : null;
        // FreeSWITCH's BYE normally comes before its FIN; give a late one a moment, then end the dialog ourselves.
        try
        {
            await _dialog.Terminated.WaitAsync(Server.Options.CloseTimeout, _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
        if (Interlocked.Exchange(ref _teardownStarted, 1) == 1)
        {
            return;
        }
        Complete(cause ?? EndpointDestroyedEventArgs.MediaServerLost, cause is null ? EndpointTerminatedBy.ConnectionLost : EndpointTerminatedBy.MediaServer);
        try
        {
            await _dialog.DestroyAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is DrachtioException or TimeoutException)
        {
            MediaLog.CleanupFailed(_logger, Id, "BYE: " + ex.Message);
        }
        await _session.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// The dialog with FreeSWITCH ended other than through <see cref="DestroyAsync"/>: FreeSWITCH's BYE, a BYE
    /// sent through <see cref="Dialog"/> directly, or the drachtio-server link was lost.
    /// </summary>
    private void OnDialogDestroyed(object? sender, DialogDestroyedEventArgs e)
    {
        if (Interlocked.Exchange(ref _teardownStarted, 1) == 1)
        {
            return;
        }
        switch (e.By)
        {
            case DialogTerminatedBy.Remote:
                Complete(CauseOf(e) ?? "NORMAL_CLEARING", EndpointTerminatedBy.MediaServer);
                _ = CloseSessionAsync(hangUpFirst: false, CancellationToken.None);
                break;
            case DialogTerminatedBy.Local:
                // Ended through the dialog or by disposing the drachtio client, which may not have reached
                // FreeSWITCH: hang up over the Event Socket as well (a second hangup is harmless).
                Complete("NORMAL_CLEARING", EndpointTerminatedBy.Local);
                _ = CloseSessionAsync(hangUpFirst: true, CancellationToken.None);
                break;
            default:
                // FreeSWITCH still has the channel: hang it up over the Event Socket so nothing is left half-open.
                Complete(EndpointDestroyedEventArgs.MediaServerLost, EndpointTerminatedBy.ConnectionLost);
                _ = CloseSessionAsync(hangUpFirst: true, CancellationToken.None);
                break;
        }
    }

    /// <summary>The Q.850 cause name in FreeSWITCH's BYE (<c>Reason: Q.850;cause=16;text="NORMAL_CLEARING"</c>).</summary>
    private static string? CauseOf(DialogDestroyedEventArgs e) =>
        e.Request?.GetHeader("Reason") is { } reason && ReasonText().Match(reason) is { Success: true } match ? match.Groups[1].Value : null;

    private void OnChannelEvent(object? sender, EslEvent e)
    {
        if (e.Name == "DTMF" && e["DTMF-Digit"] is [var digit, ..])
        {
            var duration = int.TryParse(e["DTMF-Duration"], NumberStyles.None, CultureInfo.InvariantCulture, out var samples) ? samples : 0;
            // DTMF-Duration counts 8 kHz timestamp units (RFC 4733), as in the capture's 2240 for a 280 ms press.
            Raise(_dtmf, new DtmfEventArgs(digit, TimeSpan.FromMilliseconds(duration / 8.0), e["DTMF-Source"]));
        }
        Raise(_channelEvent, e);
    }

    private void Complete(string cause, EndpointTerminatedBy by)
    {
        var args = new EndpointDestroyedEventArgs(cause, by, _time.GetUtcNow());
        if (!_destroyed.TrySetResult(args))
        {
            return;
        }
        Server.Forget(this);
        MediaLog.EndpointDestroyed(_logger, Id, cause, by);
        Raise(Destroyed, args);
    }

    private void Raise<T>(EventHandler<T>? handler, T args)
    {
        try
        {
            handler?.Invoke(this, args);
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "A {Event} handler of endpoint {EndpointId} threw", typeof(T).Name, Id);
        }
    }

    private void ThrowIfDestroyed()
    {
        if (_destroyed.Task.IsCompleted)
        {
            throw new EndpointDestroyedException(Id, _destroyed.Task.Result.Cause);
        }
    }

    [GeneratedRegex("text=\"([^\"]+)\"")]
    private static partial Regex ReasonText();

    public override string ToString() => $"endpoint {Id} ({Uuid} on {Server.Name})";
}
