using Voice.Control.Calls;
using Voice.Control.FreeSwitch;
using Voice.Control.Media;
using Voice.Control.Scripts;

namespace Voice.Control.Backends;

/// <summary>
/// A live channel a FreeSWITCH dialplan handed to VoiceBridge with <c>socket &lt;host&gt;:8086 async full</c>: VoiceBridge
/// runs a script on it but does not own its SIP dialog. The dialplan names the application in
/// <c>voicebridge_app</c>, or gives a script inline (<c>voicebridge_say</c>, <c>voicebridge_gather</c>: that many keys
/// after it), and says what happens after the script in <c>voicebridge_on_end</c>: <c>hangup</c> (the default),
/// <c>continue</c> (the socket closes and the dialplan goes on after <c>socket</c>), or <c>park</c> (the channel is parked
/// for whoever takes it next).
/// </summary>
internal sealed class DialplanLeg : IInboundLeg
{
    /// <summary>The channel variables a dialplan hands a channel over with; one of the first two marks a hand-over.</summary>
    public const string AppVariable = "voicebridge_app";
    public const string SayVariable = "voicebridge_say";
    public const string GatherVariable = "voicebridge_gather";
    public const string OnEndVariable = "voicebridge_on_end";

    private readonly EslOutboundSession _session;
    private readonly MediaChannel _channel;
    private readonly string? _onEnd;
    private int _ended;

    public DialplanLeg(EslOutboundSession session, TimeProvider time)
    {
        _session = session;
        _onEnd = session.ChannelData.Variable(OnEndVariable);
        _channel = new MediaChannel(session, session.UniqueId, time, () => session.IsClosed ? "the channel's socket closed" : null);
        Ended = session.HungUp.ContinueWith(t => new CallLegEnd(t.Result ?? "the channel's socket closed"),
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        Media = new ChannelMedia(_channel, string.Empty, new TaskCompletionSource<string>().Task, (_, _) => Task.FromResult<string?>(null), EndAsync);
    }

    /// <summary>Whether a session that is no endpoint's was handed over by a dialplan (it names an application or a script).</summary>
    public static bool IsHandOver(EslOutboundSession session) =>
        session.ChannelData.Variable(AppVariable) is not null || session.ChannelData.Variable(SayVariable) is not null;

    /// <summary>
    /// Who called whom and what to run, from the channel data: the caller ID number, the destination number, the
    /// application or the inline script, and the <c>voicebridge_*</c> and <c>sip_h_X-*</c> variables for the call hook.
    /// </summary>
    /// <exception cref="ScriptException">The inline script is not one (an empty say, a gather that is not a number of keys).</exception>
    public static InboundCallInfo Describe(EslOutboundSession session)
    {
        var data = session.ChannelData;
        CallScript? script = null;
        if (data.Variable(SayVariable) is { } say)
        {
            var verbs = new List<Verb>();
            var text = say.Trim();
            if (text.Length is 0 or > CallFieldRules.MaxMessageLength || text.Any(char.IsControl))
            {
                throw new ScriptException([new ScriptProblem(SayVariable, $"must be 1–{CallFieldRules.MaxMessageLength} characters on one line")]);
            }
            if (data.Variable(GatherVariable) is { } gather)
            {
                if (!int.TryParse(gather, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var keys) || keys is < 1 or > 32)
                {
                    throw new ScriptException([new ScriptProblem(GatherVariable, "must be how many keys to collect, 1–32")]);
                }
                verbs.Add(new GatherVerb { NumDigits = keys, Prompt = new SayVerb(text) });
            }
            else
            {
                verbs.Add(new SayVerb(text));
            }
            script = new CallScript(verbs);
        }
        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in data.Headers)
        {
            if (name.StartsWith("variable_voicebridge_", StringComparison.Ordinal) || name.StartsWith("variable_sip_h_X-", StringComparison.OrdinalIgnoreCase))
            {
                variables[name["variable_".Length..]] = value;
            }
        }
        return new InboundCallInfo
        {
            From = data["Caller-Caller-ID-Number"] ?? data["Channel-Caller-ID-Number"] ?? data.Variable("sip_from_user") ?? "anonymous",
            To = data["Caller-Destination-Number"] ?? data["Channel-Destination-Number"] ?? string.Empty,
            Source = "freeswitch",
            Application = script is null ? data.Variable(AppVariable) : null,
            Script = script,
            Variables = variables,
        };
    }

    public ICallMedia Media { get; }

    public Task<CallLegEnd> Ended { get; }

    /// <summary>Nothing: the dialplan decides what the caller hears before the answer (<c>ring_ready</c>, early media).</summary>
    public Task RingAsync(CancellationToken ct) => Task.CompletedTask;

    /// <summary>Answers the channel unless the dialplan has (<c>answer</c> is harmless on an answered channel).</summary>
    public Task AnswerAsync(CancellationToken ct) => SipCallBackend.Translated(() => _channel.ExecuteAsync("answer", null, ct));

    /// <summary>Hangs the unanswered channel up with the cause FreeSWITCH turns into that SIP status for the caller.</summary>
    public async Task RefuseAsync(int sipStatus, string reason, CancellationToken ct)
    {
        if (Interlocked.Exchange(ref _ended, 1) == 1)
        {
            return;
        }
        await HangupAndCloseAsync(sipStatus switch
        {
            // mod_sofia's hangup_cause_to_sip: the causes that become these statuses.
            403 => "INCOMING_CALL_BARRED",
            404 => "UNALLOCATED_NUMBER",
            480 => "NO_ANSWER",
            486 => "USER_BUSY",
            _ => "NORMAL_TEMPORARY_FAILURE",
        }, ct).ConfigureAwait(false);
    }

    /// <summary>Hangs up, or with <c>voicebridge_on_end=continue</c> or <c>park</c> gives the channel back (parked) and closes the socket.</summary>
    public async Task EndAsync(CancellationToken ct)
    {
        if (Interlocked.Exchange(ref _ended, 1) == 1)
        {
            return;
        }
        if (_onEnd is "continue" or "park" && !_session.HungUp.IsCompleted)
        {
            if (_onEnd == "park")
            {
                // The channel leaves the socket application for an inline dialplan that parks it (lab: a park sent as an
                // application ran no more once the socket closed; the channel was hung up with it).
                try
                {
                    await _session.ApiAsync($"uuid_transfer {_session.UniqueId} park inline", ct).ConfigureAwait(false);
                }
                catch (EslException)
                {
                    // Gone meanwhile: nothing to park.
                }
            }
            await _session.DisposeAsync().ConfigureAwait(false);
            return;
        }
        await HangupAndCloseAsync("NORMAL_CLEARING", ct).ConfigureAwait(false);
    }

    private async Task HangupAndCloseAsync(string cause, CancellationToken ct)
    {
        try
        {
            if (!_session.IsClosed && !_session.HungUp.IsCompleted)
            {
                await _session.HangupAsync(cause, ct).WaitAsync(TimeSpan.FromSeconds(5), ct).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is EslException or TimeoutException or OperationCanceledException)
        {
        }
        finally
        {
            await _session.DisposeAsync().ConfigureAwait(false);
        }
    }
}
