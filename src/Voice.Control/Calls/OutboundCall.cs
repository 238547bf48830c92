using Microsoft.Extensions.Logging;
using Voice.Control.Diagnostics;
using Voice.Control.Phone;
using Voice.Control.Scripts;
using Voice.Control.Tts;

namespace Voice.Control.Calls;

/// <summary>
/// One outbound call from queue to end: the media endpoint first (its SDP is the INVITE's offer), the script's speech
/// rendered while the phone rings, the INVITE with its ring timeout, the script run on answer, and on every
/// way out — answered or not, failed or hung up — the dialog hung up and the endpoint destroyed.
/// </summary>
internal sealed class OutboundCall : TrackedCall
{
    /// <summary>The message, or what the script says, as snapshots show it.</summary>
    private readonly string _message;

    public OutboundCall(CallManager manager, string id, CallRequest request, PhoneNumber number, string dialUri, CallOptions options, TimeProvider time, ILogger logger)
        : base(manager, id, CallState.Queued, request.Tag, options, time, logger, number.Value)
    {
        Request = request;
        Number = number;
        DialUri = dialUri;
        var script = request.Script ?? (request.Acknowledge is { } acknowledge
            ? CallScript.Acknowledge(request.Message!, acknowledge, request.Voice, request.Repeat)
            : CallScript.Say(request.Message!, request.Voice, request.Repeat));
        // Recording from the answer: the script's first step starts it, and the call's end stops it.
        Script = request.Record ? new CallScript([RecordVerb.StartStereo, .. script.Verbs]) : script;
        _message = request.Message ?? Script.Summary;
    }

    /// <summary>What the call runs once answered: the request's script, or the one its message stands for.</summary>
    public CallScript Script { get; }

    public CallRequest Request { get; }

    public PhoneNumber Number { get; }

    public string DialUri { get; }

    public override string Direction => "outbound";

    protected override bool AsksAcknowledgement => Request.Acknowledge is not null;

    protected override CallSnapshot Identity() => new()
    {
        CallId = Id,
        To = Number.Value,
        DialUri = DialUri,
        State = CallState.Queued,
        Message = _message,
        CallerId = Request.CallerId ?? Options.DefaultCallerId,
        Repeat = Request.Repeat,
        CreatedAt = CreatedAt,
    };

    /// <summary>
    /// Hang up through the API: a queued call fails at once as canceled; a running one is cancelled (CANCEL
    /// before answer, BYE after). Completes when the call has ended.
    /// </summary>
    public override Task HangupAsync()
    {
        lock (Sync)
        {
            if (State == CallState.Queued)
            {
                TryMove(CallState.Failed, CallReasons.Canceled, detail: "hung up through the API before it was dialled");
                return EndedSource.Task;
            }
        }
        return base.HangupAsync();
    }

    /// <summary>Runs the call; never throws. Returns when the call has ended and everything is released.</summary>
    public async Task RunAsync(ICallBackend backend, ISpeechSynthesizer speech, ICallHooks hooks, CancellationToken stopping)
    {
        if (!TryMove(CallState.Dialing))
        {
            return; // hung up while queued
        }
        var dialingSince = System.Diagnostics.Stopwatch.GetTimestamp();
        var outer = System.Diagnostics.Activity.Current;
        LeaveQueueSpan();
        System.Diagnostics.Activity.Current = Trace ?? outer;
        using var scope = CallLog.Scope(Logger, Id);
        using var run = CancellationTokenSource.CreateLinkedTokenSource(stopping, HangupRequested.Token);
        var legs = new Legs();
        try
        {
            if (backend.NotReadyReason is { } notReady)
            {
                Fail(CallReasons.ServiceUnavailable, detail: notReady);
                return;
            }
            // Everything the script says renders while the phone rings; a rendering failure stops the dialling at once.
            using var renderFailed = new CancellationTokenSource();
            var rendering = new ScriptSpeech(speech, Request.Voice, run.Token);
            _ = RenderAheadAsync(rendering, run.Token, renderFailed);
            using var dial = CancellationTokenSource.CreateLinkedTokenSource(run.Token, renderFailed.Token);

            var answeredSince = backend.LateOffer
                ? await ConnectLateOfferAsync(backend, legs, dial.Token).ConfigureAwait(false)
                : await ConnectAsync(backend, legs, dialingSince, dial.Token, run.Token).ConfigureAwait(false);
            TryMove(CallState.Playing, sipStatus: 200);
            await RunScriptAsync(legs.Media!, legs.Dialog!, rendering, hooks, answeredSince, run.Token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            OnFailure(ex, legs.Dialog is not null, stopping);
        }
        finally
        {
            await ReleaseAsync(legs.Dialog, legs.Media).ConfigureAwait(false);
            EndTrace();
            System.Diagnostics.Activity.Current = outer;
            EndedSource.TrySetResult();
        }
    }

    /// <summary>
    /// Early offer: the media endpoint first, its SDP in the INVITE; on the answer (or a 183 with SDP) the endpoint is
    /// pointed at the callee's SDP. Returns when the callee answered (a <see cref="System.Diagnostics.Stopwatch"/> timestamp).
    /// </summary>
    private async Task<long> ConnectAsync(ICallBackend backend, Legs legs, long dialingSince, CancellationToken dial, CancellationToken run)
    {
        var media = legs.Media = await Traced("call.media", () => backend.CreateMediaAsync(dial)).ConfigureAwait(false);
        Manager.Meter.DialLatency.Record(VoiceMeter.SecondsSince(dialingSince));
        string? earlySdp = null;
        Task earlyMedia = Task.CompletedTask;
        var dialog = legs.Dialog = await Traced("call.invite", () => backend.DialAsync(Dial(legs, media.LocalSdp, null, (status, sdp) =>
        {
            TryMove(CallState.Ringing, sipStatus: status);
            if (sdp is not null && earlySdp is null)
            {
                // 183 with SDP: connect early media now, so the endpoint hears the far end (and is ready) before the answer.
                earlySdp = sdp;
                earlyMedia = media.ConnectAsync(sdp, dial);
            }
        }), dial), (span, _) => span.SetTag("sip.status_code", 200)).ConfigureAwait(false);
        var answeredSince = System.Diagnostics.Stopwatch.GetTimestamp();
        await earlyMedia.ConfigureAwait(false);
        if (dialog.RemoteSdp != earlySdp || earlySdp is null)
        {
            await media.ConnectAsync(dialog.RemoteSdp ?? string.Empty, run).ConfigureAwait(false);
        }
        return answeredSince;
    }

    /// <summary>
    /// Late offer (SRTP to the phone): an INVITE without SDP; the callee's 2xx carries its offer, the media endpoint is
    /// created to answer it, and the answer goes back in the ACK. No re-INVITE of the endpoint, so its keys stay put.
    /// </summary>
    private async Task<long> ConnectLateOfferAsync(ICallBackend backend, Legs legs, CancellationToken dial)
    {
        var answeredSince = 0L;
        legs.Dialog = await Traced("call.invite", () => backend.DialAsync(Dial(legs, null, async (offer, ct) =>
        {
            answeredSince = System.Diagnostics.Stopwatch.GetTimestamp();
            var media = legs.Media = await Traced("call.media", () => backend.CreateMediaAsync(offer, ct)).ConfigureAwait(false);
            return media.LocalSdp;
        }, (status, _) => TryMove(CallState.Ringing, sipStatus: status)), dial), (span, _) => span.SetTag("sip.status_code", 200)).ConfigureAwait(false);
        return answeredSince;
    }

    private DialRequest Dial(Legs legs, string? sdp, Func<string, CancellationToken, Task<string>>? answerOffer, Action<int, string?> onProgress) => new()
    {
        Number = Number,
        Uri = DialUri,
        Sdp = sdp,
        AnswerOffer = answerOffer,
        AnswerReoffer = (offer, ct) => legs.Media is { } media ? media.ReofferAsync(offer, ct) : Task.FromResult<string?>(null),
        CallerId = Request.CallerId ?? Options.DefaultCallerId,
        CallerName = Request.CallerName,
        RingTimeout = Request.RingTimeout ?? Options.DefaultRingTimeout,
        Headers = Request.Headers,
        OnProgress = onProgress,
    };

    /// <summary>The call's two legs as far as they exist, for the release that every way out ends with.</summary>
    private sealed class Legs
    {
        public ICallMedia? Media { get; set; }

        public ICallDialog? Dialog { get; set; }
    }

    /// <summary>Renders the script's speech (and the hook fallback, when it calls hooks); a failure is the call's detail and stops the dialling.</summary>
    private async Task RenderAheadAsync(ScriptSpeech speech, CancellationToken ct, CancellationTokenSource failed)
    {
        try
        {
            var says = Script.Says();
            if (Script.CallsHooks)
            {
                says = says.Append(new SayVerb(Options.HookFailureMessage));
            }
            await speech.Prefetch(says).ConfigureAwait(false);
        }
        catch (Exception ex) when (!ct.IsCancellationRequested)
        {
            NoteDetail("the message could not be rendered: " + ex.Message);
            await failed.CancelAsync().ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The call ended while rendering: nothing to report.
        }
    }

    /// <summary>Runs the script until it ends, the callee hangs up, the API hangs up or the maximum duration passes.</summary>
    private async Task RunScriptAsync(ICallMedia media, ICallDialog dialog, ScriptSpeech speech, ICallHooks hooks, long answeredSince, CancellationToken ct)
    {
        var runner = new ScriptRunner(this, media, dialog.Ended, speech, hooks, Options, Time, Logger, Manager.Backend, audio =>
        {
            Manager.Meter.AnswerToAudio.Record(VoiceMeter.SecondsSince(answeredSince));
            if (audio is not null)
            {
                NoteProvider(audio.Provider);
            }
        });
        Finish(await runner.RunToEndAsync(Script, Request.MaxDuration ?? Options.MaxCallDuration, ct).ConfigureAwait(false));
    }

    private void OnFailure(Exception ex, bool answered, CancellationToken stopping)
    {
        var outcome = CallOutcomes.ForFailure(ex, answered, HangupRequested.IsCancellationRequested, stopping.IsCancellationRequested);
        if (outcome.Unexpected)
        {
            CallLog.Unexpected(Logger, ex, Id);
        }
        Fail(outcome.Reason, outcome.SipStatus, outcome.Detail);
    }

    /// <summary>
    /// Hangs up and destroys whatever exists, each step on its own so one failing does not skip the other. The phone's BYE
    /// and the endpoint's go out together: a phone slow to answer its BYE (up to the transaction timeout, 40 s by
    /// default) does not hold FreeSWITCH's channel up meanwhile.
    /// </summary>
    private Task ReleaseAsync(ICallDialog? dialog, ICallMedia? media) => Task.WhenAll(HangUpAsync(dialog), DestroyAsync(media));

    private async Task HangUpAsync(ICallDialog? dialog)
    {
        if (dialog is not null && !dialog.Ended.IsCompleted)
        {
            try
            {
                await dialog.HangupAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                CallLog.CleanupFailed(Logger, Id, "BYE", ex.Message);
            }
        }
    }

    private async Task DestroyAsync(ICallMedia? media)
    {
        if (media is not null)
        {
            try
            {
                await media.DestroyAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                CallLog.CleanupFailed(Logger, Id, "media endpoint", ex.Message);
            }
        }
    }
}
