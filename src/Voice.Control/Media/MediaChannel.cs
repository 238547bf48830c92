using System.Globalization;
using Voice.Control.FreeSwitch;

namespace Voice.Control.Media;

/// <summary>
/// The commands that play to a FreeSWITCH channel and listen to it, over its outbound Event Socket session: play,
/// speak, collect keys, send keys, record, or any application. An <see cref="Endpoint"/> has one; so does a channel
/// a dialplan handed over (<c>socket</c>). Every operation's CancellationToken stops it on the wire (<c>uuid_break</c>).
/// </summary>
public sealed class MediaChannel
{
    private const int MaxLoops = 100;

    private readonly EslOutboundSession _session;
    private readonly TimeProvider _time;
    private readonly Func<string?> _endedCause;
    private int _collectCounter;

    /// <param name="session">The channel's session.</param>
    /// <param name="id">Our name for the channel, in errors.</param>
    /// <param name="time">The clock of waits (the keys going out).</param>
    /// <param name="endedCause">Why the channel's owner ended it, or null while it lives: commands then fail at once.</param>
    internal MediaChannel(EslOutboundSession session, string id, TimeProvider time, Func<string?> endedCause)
    {
        _session = session;
        Id = id;
        _time = time;
        _endedCause = endedCause;
    }

    public string Id { get; }

    /// <summary>FreeSWITCH's channel UUID.</summary>
    public string Uuid => _session.UniqueId;

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

    /// <summary>
    /// Starts recording both directions of the channel into <paramref name="path"/> (<c>uuid_record … start</c>), while
    /// anything else plays on: a file path on the FreeSWITCH host, or an http(s) URL that FreeSWITCH records a temporary
    /// file for and PUTs there when the recording ends (mod_httapi). <paramref name="stereo"/>: what the far end says on the
    /// left channel, what the channel plays on the right (<c>RECORD_STEREO</c>); otherwise both mixed. FreeSWITCH stops
    /// at <paramref name="limit"/>, and when the channel ends.
    /// </summary>
    /// <exception cref="MediaException">FreeSWITCH refused (a path it cannot write, a format it does not know).</exception>
    public Task StartRecordingAsync(string path, TimeSpan limit, bool stereo = true, CancellationToken ct = default)
    {
        RequireArgumentWord(path, nameof(path));
        RequireBetween((int)Math.Ceiling(limit.TotalSeconds), 1, 24 * 3600, nameof(limit));
        return RecordCommandAsync($"uuid_record {Uuid} start {path} {Seconds(limit)} {{RECORD_STEREO={(stereo ? "true" : "false")}}}", ct);
    }

    /// <summary>Stops the recording into <paramref name="path"/> (<c>uuid_record … stop</c>); FreeSWITCH then closes (or uploads) the file.</summary>
    /// <exception cref="MediaException">FreeSWITCH has no such recording on the channel.</exception>
    public Task StopRecordingAsync(string path, CancellationToken ct = default)
    {
        RequireArgumentWord(path, nameof(path));
        return RecordCommandAsync($"uuid_record {Uuid} stop {path}", ct);
    }

    /// <summary>
    /// Bridges this channel and <paramref name="other"/> (<c>uuid_bridge</c>), two channels of the same FreeSWITCH: each
    /// hears the other until either hangs up. Both sessions stay connected; a recording of either goes on, the far end
    /// on its left channel and the other party on its right.
    /// </summary>
    /// <exception cref="MediaException">FreeSWITCH refused (a channel gone, or on another server).</exception>
    public Task BridgeAsync(MediaChannel other, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other._endedCause() is { } ended)
        {
            throw new EndpointDestroyedException(other.Id, ended);
        }
        return ApiCommandAsync($"uuid_bridge {Uuid} {other.Uuid}", ct);
    }

    private Task RecordCommandAsync(string command, CancellationToken ct) => ApiCommandAsync(command, ct);

    /// <summary>An <c>api</c> command on the channel's session that FreeSWITCH answers <c>+OK</c> when it did it.</summary>
    private async Task ApiCommandAsync(string command, CancellationToken ct)
    {
        if (_endedCause() is { } ended)
        {
            throw new EndpointDestroyedException(Id, ended);
        }
        try
        {
            var reply = await _session.ApiAsync(command, ct).ConfigureAwait(false);
            if (!reply.StartsWith("+OK", StringComparison.Ordinal))
            {
                throw new MediaException($"{command}: FreeSWITCH answered {reply.Trim()}");
            }
        }
        catch (EslConnectionLostException ex)
        {
            var cause = _session.HungUp.IsCompletedSuccessfully ? _session.HungUp.Result : null;
            throw new EndpointDestroyedException(Id, cause ?? EndpointDestroyedEventArgs.MediaServerLost, ex);
        }
        catch (Exception ex) when (ex is EslException or TimeoutException)
        {
            throw new MediaException($"{command}: {ex.Message}", ex);
        }
    }

    /// <summary>Runs any dialplan application on the channel and completes with its CHANNEL_EXECUTE_COMPLETE.</summary>
    /// <exception cref="EndpointDestroyedException">The endpoint ended before or while the application ran.</exception>
    public async Task<EslEvent> ExecuteAsync(string application, string? argument = null, CancellationToken ct = default)
    {
        if (_endedCause() is { } ended)
        {
            throw new EndpointDestroyedException(Id, ended);
        }
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

}
