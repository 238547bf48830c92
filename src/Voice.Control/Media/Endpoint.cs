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

    private const int MaxLoops = 100;

    private readonly SipDialog _dialog;
    private readonly EslOutboundSession _session;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly TaskCompletionSource<EndpointDestroyedEventArgs> _destroyed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _collectCounter;
    private int _teardownStarted;

    internal Endpoint(MediaServer server, string id, SipDialog dialog, EslOutboundSession session, string localSdp, ILogger logger, TimeProvider time)
    {
        Server = server;
        Id = id;
        _dialog = dialog;
        _session = session;
        LocalSdp = localSdp;
        _logger = logger;
        _time = time;
        session.EventReceived += OnChannelEvent;
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

    /// <summary>Completes when the endpoint has ended, with the cause; safe to await after it ended.</summary>
    public Task<EndpointDestroyedEventArgs> Terminated => _destroyed.Task;

    /// <summary>Raised once when the endpoint ends, whoever ended it.</summary>
    public event EventHandler<EndpointDestroyedEventArgs>? Destroyed;

    /// <summary>Raised for each key the far end presses, in order.</summary>
    public event EventHandler<DtmfEventArgs>? Dtmf;

    /// <summary>Every event of the channel the endpoint subscribed to (<see cref="MediaServerOptions.ChannelEvents"/>), as FreeSWITCH sent it.</summary>
    public event EventHandler<EslEvent>? ChannelEvent;

    /// <summary>Points FreeSWITCH's media at the phone: a re-INVITE carrying the phone's SDP.</summary>
    public async Task ModifyAsync(string remoteSdp, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(remoteSdp);
        ThrowIfDestroyed();
        await _dialog.ModifyAsync(remoteSdp, ct).ConfigureAwait(false);
        RemoteSdp = remoteSdp;
    }

    /// <summary>Plays one file path, http(s) URL, <c>tone_stream://</c> or <c>silence_stream://</c> to the end.</summary>
    public Task PlayAsync(string source, CancellationToken ct = default) => PlayAsync([source], 1, ct);

    /// <summary>
    /// Plays <paramref name="sources"/> in a row, the whole list <paramref name="loops"/> times, as one
    /// <c>playback</c> of a <c>file_string://</c> so that a cancel stops all of it at once.
    /// </summary>
    /// <exception cref="MediaException">FreeSWITCH could not play it (FILE NOT FOUND, PLAYBACK ERROR).</exception>
    public async Task PlayAsync(IReadOnlyList<string> sources, int loops = 1, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(sources);
        ArgumentOutOfRangeException.ThrowIfLessThan(sources.Count, 1, nameof(sources));
        RequireBetween(loops, 1, MaxLoops);
        foreach (var source in sources)
        {
            EslCommands.RequireOneLine(source, nameof(sources));
            if (sources.Count * loops > 1 && source.Contains('!'))
            {
                throw new ArgumentException($"'{source}' contains '!', which separates the files of a file_string:// list; play it on its own", nameof(sources));
            }
        }
        var argument = sources.Count * loops == 1
            ? sources[0]
            : "file_string://" + string.Join('!', Enumerable.Repeat(sources, loops).SelectMany(list => list));
        var completion = await ExecuteAsync("playback", argument, ct).ConfigureAwait(false);
        if (completion["Application-Response"] is "FILE NOT FOUND" or "PLAYBACK ERROR")
        {
            throw new MediaException($"FreeSWITCH could not play {argument}: {completion["Application-Response"]}");
        }
    }

    /// <summary>
    /// Speaks <paramref name="text"/> with FreeSWITCH's own TTS (<c>speak engine|voice|text</c>). The text is
    /// cleaned by <see cref="SpokenText.Clean"/>: nothing in a message can end the command or be expanded.
    /// </summary>
    public async Task SpeakAsync(string text, SpeakOptions? options = null, CancellationToken ct = default)
    {
        options ??= SpeakOptions.Default;
        RequireWord(options.Engine, nameof(options.Engine));
        RequireWord(options.Voice, nameof(options.Voice));
        var spoken = SpokenText.Clean(text);
        if (spoken.Length == 0)
        {
            throw new ArgumentException("there is nothing to speak: the text is empty once control characters are removed", nameof(text));
        }
        await ExecuteAsync("speak", $"{options.Engine}|{options.Voice}|{spoken}", ct).ConfigureAwait(false);
    }

    /// <summary>Plays a prompt and collects keys (<c>play_and_get_digits</c>).</summary>
    public async Task<CollectedDigits> PlayAndCollectDigitsAsync(CollectDigitsOptions options, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        RequireBetween(options.MinDigits, 0, 128);
        RequireBetween(options.MaxDigits, Math.Max(1, options.MinDigits), 128);
        RequireBetween(options.Tries, 1, 20);
        RequireArgumentWord(options.Prompt, nameof(options.Prompt));
        if (options.InvalidPrompt is not null)
        {
            RequireArgumentWord(options.InvalidPrompt, nameof(options.InvalidPrompt));
        }
        RequireArgumentWord(options.Pattern, nameof(options.Pattern));
        if (options.Terminators != CollectDigitsOptions.NoTerminator
            && (options.Terminators.Length == 0 || !options.Terminators.All(c => char.IsAsciiDigit(c) || c is '*' or '#')))
        {
            throw new ArgumentException($"Terminators must be one or more of 0-9, * and #, or {CollectDigitsOptions.NoTerminator}", nameof(options));
        }
        var variable = "vb_digits_" + Interlocked.Increment(ref _collectCounter).ToString(CultureInfo.InvariantCulture);
        var argument = string.Join(' ',
            Number(options.MinDigits), Number(options.MaxDigits), Number(options.Tries), Milliseconds(options.Timeout), options.Terminators,
            options.Prompt, options.InvalidPrompt ?? "silence_stream://250", variable, options.Pattern,
            Milliseconds(options.DigitTimeout ?? options.Timeout));

        var completion = await ExecuteAsync("play_and_get_digits", argument, ct).ConfigureAwait(false);
        var terminator = completion.Variable("read_terminator_used");
        return new CollectedDigits(
            completion.Variable(variable) ?? string.Empty,
            string.IsNullOrEmpty(terminator) ? null : terminator[0],
            completion.Variable("read_result") ?? "failure");
    }

    /// <summary>
    /// Sends <paramref name="digits"/> to the far end as RFC 2833 events (<c>send_dtmf</c>), each tone
    /// <paramref name="toneDuration"/> long; <c>w</c> waits 0.5 s and <c>W</c> 1 s. Completes when all are sent:
    /// FreeSWITCH's <c>send_dtmf</c> completes once it has queued them (on the lab's FreeSWITCH a hang-up right after
    /// it cut the first key short), so this waits for as long as the keys take to go out (<see cref="SendingTime"/>).
    /// </summary>
    public async Task SendDigitsAsync(string digits, TimeSpan toneDuration, CancellationToken ct = default)
    {
        if (digits.Length == 0 || !digits.All(c => char.IsAsciiDigit(c) || c is '*' or '#' or (>= 'A' and <= 'D') or 'w' or 'W'))
        {
            throw new ArgumentException("Digits must be one or more of 0-9, *, #, A-D, w and W", nameof(digits));
        }
        RequireBetween((int)toneDuration.TotalMilliseconds, 40, 2000);
        await ExecuteAsync("send_dtmf", $"{digits}@{Milliseconds(toneDuration)}", ct).ConfigureAwait(false);
        await Task.Delay(SendingTime(digits, toneDuration), _time, ct).ConfigureAwait(false);
    }

    /// <summary>How long FreeSWITCH takes to send <paramref name="digits"/>: each key its tone and a gap, each pause its length, and the end packets of the last key.</summary>
    public static TimeSpan SendingTime(string digits, TimeSpan toneDuration)
    {
        ArgumentNullException.ThrowIfNull(digits);
        var gap = TimeSpan.FromMilliseconds(50);
        return digits.Aggregate(TimeSpan.FromMilliseconds(60), (total, key) => total + key switch
        {
            'w' => TimeSpan.FromMilliseconds(500),
            'W' => TimeSpan.FromSeconds(1),
            _ => toneDuration + gap,
        });
    }

    /// <summary>Records what the far end says to <paramref name="path"/> on the FreeSWITCH host (<c>record</c>).</summary>
    public async Task<Recording> RecordAsync(string path, RecordOptions? options = null, CancellationToken ct = default)
    {
        options ??= RecordOptions.Default;
        RequireArgumentWord(path, nameof(path));
        var argument = $"{path} {Seconds(options.TimeLimit)} {Number(options.SilenceThreshold)}";
        if (options.SilenceTimeout is { } silence)
        {
            argument += " " + Seconds(silence);
        }
        var completion = await ExecuteAsync("record", argument, ct).ConfigureAwait(false);
        var milliseconds = completion.Variable("record_ms") is { } ms && long.TryParse(ms, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : 0;
        return new Recording(path, TimeSpan.FromMilliseconds(milliseconds));
    }

    /// <summary>Runs any dialplan application on the channel and completes with its CHANNEL_EXECUTE_COMPLETE.</summary>
    /// <exception cref="EndpointDestroyedException">The endpoint ended before or while the application ran.</exception>
    public async Task<EslEvent> ExecuteAsync(string application, string? argument = null, CancellationToken ct = default)
    {
        ThrowIfDestroyed();
        try
        {
            return await _session.ExecuteAsync(application, argument, ct).ConfigureAwait(false);
        }
        catch (EslConnectionLostException ex)
        {
            var cause = _session.HungUp.IsCompletedSuccessfully ? _session.HungUp.Result : null;
            throw new EndpointDestroyedException(Id, cause ?? EndpointDestroyedEventArgs.MediaServerLost, ex);
        }
    }

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
            Raise(Dtmf, new DtmfEventArgs(digit, TimeSpan.FromMilliseconds(duration / 8.0), e["DTMF-Source"]));
        }
        Raise(ChannelEvent, e);
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

    private static void RequireWord(string value, string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value, name);
        if (!value.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.'))
        {
            throw new ArgumentException($"'{value}' must be letters, digits, '_', '-' or '.'", name);
        }
    }

    /// <summary>One space-separated argument of an application: one line, no spaces.</summary>
    private static void RequireArgumentWord(string value, string name)
    {
        EslCommands.RequireOneLine(value, name);
        if (value.Any(char.IsWhiteSpace))
        {
            throw new ArgumentException($"'{value}' must not contain spaces: the application's arguments are separated by spaces", name);
        }
    }

    private static void RequireBetween(int value, int min, int max, [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(value))] string? name = null)
    {
        if (value < min || value > max)
        {
            throw new ArgumentOutOfRangeException(name, value, $"must be between {min} and {max}");
        }
    }

    private static string Number(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Milliseconds(TimeSpan value) => ((long)value.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);

    private static string Seconds(TimeSpan value) => ((long)Math.Ceiling(value.TotalSeconds)).ToString(CultureInfo.InvariantCulture);

    [GeneratedRegex("text=\"([^\"]+)\"")]
    private static partial Regex ReasonText();

    public override string ToString() => $"endpoint {Id} ({Uuid} on {Server.Name})";
}
