using Microsoft.Extensions.Logging;
using Voice.Control.Net;
using Voice.Control.Scripts;
using Voice.Control.Tts;

namespace Voice.Control.Calls;

/// <summary>A call that came in: who called whom, from where, and what it is to run.</summary>
public sealed record InboundCallInfo
{
    /// <summary>The caller: a number or SIP user.</summary>
    public required string From { get; init; }

    /// <summary>The number or user called.</summary>
    public required string To { get; init; }

    /// <summary>Where it came from: <c>freeswitch</c> (a dialplan's hand-over), <c>sip</c> (an INVITE), <c>simulated</c>.</summary>
    public required string Source { get; init; }

    /// <summary>The application that decides what it hears (<see cref="CallOptions.Applications"/>); null: <c>default</c>.</summary>
    public string? Application { get; init; }

    /// <summary>A script given with the call itself (a dialplan's <c>voicebridge_say</c>), instead of an application.</summary>
    public CallScript? Script { get; init; }

    /// <summary>What the application's call hook is told besides: SIP headers, or a dialplan's channel variables.</summary>
    public IReadOnlyDictionary<string, string> Variables { get; init; } = new Dictionary<string, string>();

    /// <summary>Anything to carry in the call's state changes, as for a placed call.</summary>
    public string? Tag { get; init; }
}

/// <summary>
/// The far end of a call that came in, as its source provides it: the media to run the script on, the answer, and
/// how it ends — refused before the answer, hung up or handed back (a dialplan) after it.
/// </summary>
public interface IInboundLeg
{
    ICallMedia Media { get; }

    /// <summary>Completes when the caller hangs up (CANCEL before the answer, BYE after) or the leg is lost; never fails.</summary>
    Task<CallLegEnd> Ended { get; }

    /// <summary>Tells the caller it rings (180) while the script is found and rendered; a leg that cannot, does nothing.</summary>
    Task RingAsync(CancellationToken ct);

    /// <summary>Answers the call (200 OK, or FreeSWITCH's <c>answer</c>).</summary>
    Task AnswerAsync(CancellationToken ct);

    /// <summary>Refuses a call not yet answered with a SIP status and a reason for the caller (404, 486, 503…).</summary>
    Task RefuseAsync(int sipStatus, string reason, CancellationToken ct);

    /// <summary>After the script: hangs up, or hands the call back to whoever handed it over. Idempotent.</summary>
    Task EndAsync(CancellationToken ct);
}

/// <summary>
/// A call that came in, from arrival to end: ringing while its application's script is found (static, or from its
/// call hook) and rendered, answered, the script run as for a placed call, then ended; refused when there is no
/// application, with the reason on the call and on the wire.
/// </summary>
internal sealed class InboundCall : TrackedCall
{
    private readonly IInboundLeg _leg;
    private string _message = string.Empty;

    public InboundCall(CallManager manager, string id, InboundCallInfo info, IInboundLeg leg, CallOptions options, TimeProvider time, ILogger logger)
        : base(manager, id, CallState.Ringing, info.Tag, options, time, logger, info.To)
    {
        Info = info;
        _leg = leg;
        ApplicationName = info.Script is null ? info.Application ?? "default" : null;
    }

    public InboundCallInfo Info { get; }

    /// <summary>The application it runs; null for a script given with the call.</summary>
    public string? ApplicationName { get; }

    public override string Direction => "inbound";

    protected override CallSnapshot Identity() => new()
    {
        CallId = Id,
        To = Info.To,
        DialUri = string.Empty,
        State = CallState.Ringing,
        Message = Volatile.Read(ref _message),
        CallerId = Info.From,
        CreatedAt = CreatedAt,
        Direction = "inbound",
        Source = Info.Source,
        Application = ApplicationName,
    };

    /// <summary>Runs the call; never throws. Returns when the call has ended and its leg is released.</summary>
    public async Task RunAsync(ISpeechSynthesizer speech, ICallHooks hooks, CancellationToken stopping)
    {
        var outer = System.Diagnostics.Activity.Current;
        System.Diagnostics.Activity.Current = Trace ?? outer;
        using var scope = CallLog.Scope(Logger, Id);
        using var run = CancellationTokenSource.CreateLinkedTokenSource(stopping, HangupRequested.Token, CallerGone(_leg.Ended));
        (int Status, string Reason)? refuse = null;
        try
        {
            await _leg.RingAsync(run.Token).ConfigureAwait(false);
            var (script, failure, voice) = await ScriptAsync(hooks, run.Token).ConfigureAwait(false);
            if (script is null)
            {
                Fail(CallReasons.NoApplication, 404, failure);
                refuse = (404, failure!);
                return;
            }
            Volatile.Write(ref _message, script.Summary);
            // Everything is rendered before the answer: the caller hears the first word at once.
            var rendering = new ScriptSpeech(speech, voice, run.Token);
            await rendering.Prefetch(script.CallsHooks ? script.Says().Append(new SayVerb(Options.HookFailureMessage)) : script.Says()).ConfigureAwait(false);
            await _leg.AnswerAsync(run.Token).ConfigureAwait(false);
            TryMove(CallState.Playing, sipStatus: 200);
            var runner = new ScriptRunner(this, _leg.Media, _leg.Ended, rendering, hooks, Options, Time, Logger, Manager.Backend, audio =>
            {
                if (audio is not null)
                {
                    NoteProvider(audio.Provider);
                }
            });
            // The caller's hang-up cancels the run as well, and the runner reports it as theirs.
            var end = await runner.RunToEndAsync(script, Options.MaxCallDuration, run.Token).ConfigureAwait(false);
            Finish(failure is not null && end is { State: CallState.Completed, Reason: CallReasons.AnnounceComplete }
                ? end with { Reason = CallReasons.ApplicationFailed, Detail = failure }
                : end);
        }
        catch (Exception ex) when (State == CallState.Ringing)
        {
            var (reason, detail) = _leg.Ended.IsCompleted ? (CallReasons.Canceled, "the caller hung up before the answer")
                : HangupRequested.IsCancellationRequested ? (CallReasons.Canceled, "hung up through the API before the answer")
                : stopping.IsCancellationRequested ? (CallReasons.ServiceUnavailable, "VoiceBridge is shutting down")
                : (CallReasons.Error, ex.Message);
            if (reason == CallReasons.Error)
            {
                CallLog.Unexpected(Logger, ex, Id);
            }
            Fail(reason, detail: detail);
            refuse = reason == CallReasons.Canceled && _leg.Ended.IsCompleted ? null : (reason == CallReasons.Error ? 500 : 480, detail);
        }
        catch (Exception ex)
        {
            CallLog.Unexpected(Logger, ex, Id);
            Fail(CallReasons.Error, detail: ex.Message);
        }
        finally
        {
            await ReleaseAsync(refuse).ConfigureAwait(false);
            EndTrace();
            System.Diagnostics.Activity.Current = outer;
            EndedSource.TrySetResult();
        }
    }

    /// <summary>Refuses the call at once (a limit, the deny list): failed with <paramref name="reason"/>, and the status on the wire with the detail.</summary>
    public async Task RefuseAsync(int sipStatus, string reason, string detail)
    {
        Fail(reason, sipStatus, detail);
        await ReleaseAsync((sipStatus, detail)).ConfigureAwait(false);
        EndTrace();
        EndedSource.TrySetResult();
    }

    /// <summary>A token cancelled when the caller hangs up (before the answer, to stop finding and rendering the script).</summary>
    private static CancellationToken CallerGone(Task<CallLegEnd> ended)
    {
        var gone = new CancellationTokenSource();
        ended.ContinueWith(static (_, state) => ((CancellationTokenSource)state!).Cancel(), gone, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return gone.Token;
    }

    /// <summary>The call's script: given with it, its application's, or its application's call hook's answer (the fallback when that fails).</summary>
    private async Task<(CallScript? Script, string? Failure, string? Voice)> ScriptAsync(ICallHooks hooks, CancellationToken ct)
    {
        if (Info.Script is { } given)
        {
            return (given, null, null);
        }
        if (!Options.Applications.TryGetValue(ApplicationName!, out var application))
        {
            return (null, $"no application named '{ApplicationName}'", null);
        }
        if (application.Script is { } script)
        {
            return (script, null, application.Voice);
        }
        var (result, verbs) = await HookAnswers.PostAsync(hooks, "call", application.CallHook!, Body(), Options.HookTimeout, Time, ct).ConfigureAwait(false);
        ((IScriptCall)this).Record(r => r.With(result));
        ct.ThrowIfCancellationRequested();
        if (verbs is not null)
        {
            return (verbs, null, application.Voice);
        }
        var why = "the application's call hook " + (result.Outcome == HookOutcomes.Continued ? "answered no verbs" : "failed: " + result.Detail);
        ScriptLog.HookFailed(Logger, Id, application.CallHook!, why);
        return (application.Fallback ?? CallScript.Say(Options.HookFailureMessage), why, application.Voice);
    }

    /// <summary>What the call hook is told: the new call, and the headers or variables it came with.</summary>
    private string Body()
    {
        return JsonText.Write(json =>
        {
            json.WriteStartObject();
            json.WriteString("callId", Id);
            json.WriteString("verb", "call");
            json.WriteString("direction", "inbound");
            json.WriteString("source", Info.Source);
            json.WriteString("from", Info.From);
            json.WriteString("to", Info.To);
            json.WriteString("application", ApplicationName);
            json.WriteStartObject("variables");
            foreach (var (name, value) in Info.Variables)
            {
                json.WriteString(name, value);
            }
            json.WriteEndObject();
            json.WriteBoolean("simulated", Manager.IsSimulated);
            json.WriteEndObject();
        });
    }

    /// <summary>Refuses the call when it was never answered and the caller is still there; otherwise ends the leg.</summary>
    private async Task ReleaseAsync((int Status, string Reason)? refuse)
    {
        try
        {
            if (refuse is { } refusal && !_leg.Ended.IsCompleted)
            {
                await _leg.RefuseAsync(refusal.Status, refusal.Reason, CancellationToken.None).ConfigureAwait(false);
            }
            else
            {
                await _leg.EndAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            CallLog.CleanupFailed(Logger, Id, "caller's leg", ex.Message);
        }
    }
}
