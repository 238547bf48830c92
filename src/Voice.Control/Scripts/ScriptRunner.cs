using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Voice.Control.Calls;
using Voice.Control.Diagnostics;
using Voice.Control.Net;
using Voice.Control.Tts;

namespace Voice.Control.Scripts;

/// <summary>What the interpreter needs from the call it runs a script on (outbound today, handed-over calls later).</summary>
internal interface IScriptCall
{
    string CallId { get; }

    /// <summary><c>outbound</c> or <c>inbound</c>, as hooks are told.</summary>
    string Direction { get; }

    string To { get; }

    string? From { get; }

    bool Simulated { get; }

    /// <summary>The call's tag now (the request's, or the last <c>tag</c> verb's).</summary>
    string? Tag { get; }

    /// <summary>Records a result on the call, under its lock: later state changes carry it.</summary>
    void Record(Func<CallResults, CallResults> change);

    /// <summary>The <c>tag</c> verb: replaces the call's tag (JSON text).</summary>
    void SetTag(string tag);
}

/// <summary>
/// Renders a script's speech, each distinct text and voice once per call: everything known is started when dialling
/// starts, a hook's answer as soon as it arrives (while the verb before it plays on).
/// </summary>
internal sealed class ScriptSpeech(ISpeechSynthesizer speech, string? defaultVoice, CancellationToken ct)
{
    private readonly Dictionary<(string Text, string? Voice), Task<SpeechAudio>> _renders = new();

    public Task<SpeechAudio> Render(SayVerb say)
    {
        var key = (say.Text, say.Voice ?? defaultVoice);
        lock (_renders)
        {
            if (!_renders.TryGetValue(key, out var render))
            {
                _renders[key] = render = speech.SynthesizeAsync(key.Text, key.Item2, ct);
            }
            return render;
        }
    }

    /// <summary>Starts rendering all of <paramref name="says"/>; completes when all are ready, fails with the first failure.</summary>
    public Task Prefetch(IEnumerable<SayVerb> says) => Task.WhenAll(says.Select(Render).Distinct().ToList());
}

/// <summary>
/// Runs a call script on an answered call, verb by verb, until its end, a <c>hangup</c>, or the call ends
/// (its token cancelled: the callee hung up, the API, the maximum duration). Every result goes onto the call.
/// A hook's verb list replaces the rest of the script; a hook that fails gets the fallback message and the script goes on.
/// </summary>
internal sealed class ScriptRunner(
    IScriptCall call,
    ICallMedia media,
    Task<CallLegEnd> farEnd,
    ScriptSpeech speech,
    ICallHooks hooks,
    CallOptions options,
    TimeProvider time,
    ILogger logger,
    ICallBackend? backend,
    Action<SpeechAudio?> firstSound)
{
    /// <summary>What the caller hears while a <c>dial</c>'s targets ring (the North American ringback: 440 + 480 Hz, 2 s on, 4 s off).</summary>
    internal const string Ringback = "tone_stream://%(2000,4000,440,480);loops=-1";

    /// <summary>The most hooks one call may call: an application whose answers redirect to itself ends, not loops until the call's time is up.</summary>
    public const int MaxHookCalls = 50;

    private bool _sounded;
    private int _hookCalls;
    private int _recordings;

    /// <summary>The party a <c>dial</c> bridged to hung up: the call ends as the far end's.</summary>
    private bool _dialedPartyHungUp;

    /// <summary>The recording running now, and its result so far.</summary>
    private (RecordingFile File, RecordingResult Result)? _recording;

    /// <summary>
    /// Runs <paramref name="script"/> on the answered call until it ends, the far end hangs up, the media server loses
    /// the call, <paramref name="ct"/> is cancelled (the API hung up, or VoiceBridge is stopping) or
    /// <paramref name="maxDuration"/> passes; returns how the call ended. Other failures are thrown.
    /// </summary>
    public async Task<ScriptEnd> RunToEndAsync(CallScript script, TimeSpan maxDuration, CancellationToken ct)
    {
        using var maxTimer = new CancellationTokenSource(maxDuration, time);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct, maxTimer.Token);
        using var watching = new CancellationTokenSource();
        var watchers = Task.WhenAll(CancelWhenDone(farEnd, stop, watching.Token), CancelWhenDone(media.Lost, stop, watching.Token));
        try
        {
            await RunAsync(script, stop.Token).ConfigureAwait(false);
            return _dialedPartyHungUp
                ? new ScriptEnd(CallState.Completed, CallReasons.RemoteHangup, "the dialled party hung up")
                : new ScriptEnd(CallState.Completed, CallReasons.AnnounceComplete, null);
        }
        catch (Exception ex) when (ex is OperationCanceledException or CallBackendException)
        {
            if (farEnd.IsCompleted && farEnd.Result.SignallingLost)
            {
                return new ScriptEnd(CallState.Failed, CallReasons.SignallingLost, "the link to drachtio-server was lost during the call; the far end's leg is hung up once it is back");
            }
            if (farEnd.IsCompleted)
            {
                return new ScriptEnd(CallState.Completed, CallReasons.RemoteHangup, null);
            }
            if (ct.IsCancellationRequested)
            {
                // The API hung up, or VoiceBridge is stopping: either way we end an answered call.
                return new ScriptEnd(CallState.Completed, CallReasons.LocalHangup, null);
            }
            if (maxTimer.IsCancellationRequested)
            {
                return new ScriptEnd(CallState.Completed, CallReasons.MaxDuration, null);
            }
            return new ScriptEnd(CallState.Failed, CallReasons.MediaError, media.Lost.IsCompleted ? "the media server lost the call: " + media.Lost.Result : ex.Message);
        }
        finally
        {
            // Synchronously: its only callbacks end the two watches, and CancelAsync would run them on the thread pool,
            // one more thread wake-up per call.
            watching.Cancel();
            await watchers.ConfigureAwait(false);
            if (_recording is { } running)
            {
                _recording = null;
                await FinishRecordingAsync(running).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Cancels <paramref name="stop"/> when <paramref name="task"/> completes, unless <paramref name="until"/> comes first.</summary>
    private static async Task CancelWhenDone(Task task, CancellationTokenSource stop, CancellationToken until)
    {
        // Without throwing: in most calls the watch simply ends with the call, and an exception per call costs more
        // than the rest of the watch.
        await task.WaitAsync(until).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (task.IsCompleted && !until.IsCancellationRequested)
        {
            await stop.CancelAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Runs the verbs in order; a hook's verb list replaces the rest, and its verbs are named <c>answers[n].verbs[i]</c>.</summary>
    private async Task RunAsync(CallScript script, CancellationToken ct)
    {
        var verbs = script.Verbs;
        var prefix = "verbs";
        var answers = 0;
        for (var i = 0; i < verbs.Count; i++)
        {
            var path = $"{prefix}[{i}]";
            CallScript? replacement = null;
            switch (verbs[i])
            {
                case HangupVerb:
                    return;
                case SayVerb say:
                    await SayAsync(say, ct).ConfigureAwait(false);
                    break;
                case PlayVerb play:
                    await PlayAsync(play, ct).ConfigureAwait(false);
                    break;
                case PauseVerb pause:
                    await media.PauseAsync(pause.Length, ct).ConfigureAwait(false);
                    break;
                case GatherVerb gather:
                    replacement = await GatherAsync(gather, path, ct).ConfigureAwait(false);
                    break;
                case DtmfVerb dtmf:
                    await SendDigitsAsync(dtmf, ct).ConfigureAwait(false);
                    break;
                case TagVerb tag:
                    call.SetTag(tag.Data.GetRawText());
                    break;
                case RedirectVerb redirect:
                    replacement = await HookAsync(redirect.Name, redirect.ActionHook, null, ct).ConfigureAwait(false);
                    break;
                case RecordVerb record when record.Start:
                    await StartRecordingAsync(record, ct).ConfigureAwait(false);
                    break;
                case RecordVerb:
                    await StopRecordingAsync(ct).ConfigureAwait(false);
                    break;
                case DialVerb dial:
                    if (await DialAsync(dial, path, ct).ConfigureAwait(false))
                    {
                        return;
                    }
                    break;
                case AcknowledgeVerb acknowledge:
                    await AcknowledgeAsync(acknowledge, path, ct).ConfigureAwait(false);
                    break;
                default:
                    throw new NotSupportedException($"{path}: the verb {verbs[i].Name} cannot run here");
            }
            if (replacement is not null)
            {
                verbs = replacement.Verbs;
                prefix = $"answers[{answers++}].verbs";
                i = -1;
            }
        }
    }

    private async Task<SpeechAudio> AudioAsync(SayVerb say)
    {
        var audio = await speech.Render(say).ConfigureAwait(false);
        Sounding(audio);
        return audio;
    }

    private void Sounding(SpeechAudio? audio)
    {
        if (!_sounded)
        {
            _sounded = true;
            firstSound(audio);
        }
    }

    private async Task SayAsync(SayVerb say, CancellationToken ct)
    {
        var audio = await AudioAsync(say).WaitAsync(ct).ConfigureAwait(false);
        for (var i = 1; i <= say.Loop; i++)
        {
            using (var span = VoiceActivities.Source.StartActivity("call.play"))
            {
                span?.SetTag("voicebridge.play.repeat", i);
                await media.PlayAsync(audio, ct).ConfigureAwait(false);
            }
            if (i < say.Loop)
            {
                await media.PauseAsync(options.RepeatPause, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>A file or URL as something the media plays (its length is not known here).</summary>
    private static SpeechAudio File(PlayVerb play) => new() { Provider = "file", Source = play.Url };

    private async Task PlayAsync(PlayVerb play, CancellationToken ct)
    {
        Sounding(null);
        for (var i = 1; i <= play.Loop; i++)
        {
            using var span = VoiceActivities.Source.StartActivity("call.play");
            span?.SetTag("voicebridge.play.repeat", i);
            await media.PlayAsync(File(play), ct).ConfigureAwait(false);
        }
    }

    private async Task SendDigitsAsync(DtmfVerb dtmf, CancellationToken ct)
    {
        await media.SendDigitsAsync(dtmf.Digits, dtmf.ToneDuration, ct).ConfigureAwait(false);
        call.Record(r => r.WithSent(dtmf.Digits));
    }

    /// <summary>A target of a <c>dial</c> that answered: its media (bridged to the call's) and its dialog.</summary>
    private sealed record DialledLeg(string Target, ICallMedia Media, ICallDialog Dialog, DateTimeOffset AnsweredAt);

    /// <summary>
    /// Rings every target at once while the caller hears ringback; bridges the first that answers and cancels the rest.
    /// Returns true once a bridge has ended by a hang-up of the dialled party (the call ends too); false when nobody was
    /// bridged (the script goes on). The call ending meanwhile ends the bridge and is thrown as usual. Every leg made here
    /// is hung up and released here, whatever happens.
    /// </summary>
    private async Task<bool> DialAsync(DialVerb verb, string path, CancellationToken ct)
    {
        if (backend is null)
        {
            foreach (var target in verb.Targets)
            {
                call.Record(r => r.With(new DialResult(path, target, CallReasons.Error, null, null, time.GetUtcNow(), null, "this call cannot dial")));
            }
            return false;
        }
        DialledLeg? bridged = null;
        using (var ringing = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            using var ringback = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var tone = RingbackAsync(ringback.Token);
            var attempts = verb.Targets.Select(target => RingAsync(verb, target, path, ringing.Token, ct)).ToList();
            var pending = attempts.ToList();
            while (pending.Count > 0 && bridged is null)
            {
                var done = await Task.WhenAny(pending).ConfigureAwait(false);
                pending.Remove(done);
                bridged = await done.ConfigureAwait(false);
            }
            // The others are cancelled (CANCEL while they ring); one that answered at the same moment is hung up.
            await ringing.CancelAsync().ConfigureAwait(false);
            foreach (var late in (await Task.WhenAll(attempts).ConfigureAwait(false)).Where(l => l is not null && l != bridged))
            {
                call.Record(r => r.With(new DialResult(path, late!.Target, CallReasons.Canceled, 200, late.AnsweredAt, time.GetUtcNow(), null, "another target answered first")));
                await ReleaseLegAsync(late!).ConfigureAwait(false);
            }
            await ringback.CancelAsync().ConfigureAwait(false);
            await tone.ConfigureAwait(false);
        }
        if (bridged is null)
        {
            ct.ThrowIfCancellationRequested();
            return false;
        }
        var endedBy = "call";
        string? detail = null;
        try
        {
            ct.ThrowIfCancellationRequested();
            await media.BridgeAsync(bridged.Media, ct).ConfigureAwait(false);
            Sounding(null);
            var calleeGone = Task.WhenAny(bridged.Dialog.Ended, bridged.Media.Lost);
            await calleeGone.WaitAsync(ct).ConfigureAwait(false);
            if (bridged.Media.Lost.IsCompleted && !bridged.Dialog.Ended.IsCompleted)
            {
                detail = "the media server lost the dialled leg: " + bridged.Media.Lost.Result;
                throw new CallBackendException(CallFailure.MediaFailed, detail);
            }
            endedBy = "callee";
            _dialedPartyHungUp = true;
            return true;
        }
        catch (OperationCanceledException) when (farEnd.IsCompleted)
        {
            endedBy = "caller";
            throw;
        }
        catch (CallBackendException ex) when (detail is null)
        {
            detail = "the bridge failed: " + ex.Message;
            throw;
        }
        finally
        {
            var leg = bridged;
            call.Record(r => r.With(new DialResult(path, leg.Target, "answered", 200, leg.AnsweredAt, time.GetUtcNow(), endedBy, detail)));
            await ReleaseLegAsync(leg).ConfigureAwait(false);
        }
    }

    /// <summary>Ringback to the caller until <paramref name="ct"/> ends it; a media that cannot play it leaves the caller in silence.</summary>
    private async Task RingbackAsync(CancellationToken ct)
    {
        var tone = new SpeechAudio { Provider = "tone", Source = Ringback };
        try
        {
            while (!ct.IsCancellationRequested)
            {
                await media.PlayAsync(tone, ct).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or CallBackendException)
        {
        }
    }

    /// <summary>
    /// One target: its media on the call's media server, the INVITE, the media pointed at its answer. Returns the leg once
    /// answered; null, with its result recorded, when it is refused, not answered, or cancelled (its media then released).
    /// </summary>
    private async Task<DialledLeg?> RingAsync(DialVerb verb, string target, string path, CancellationToken ct, CancellationToken callEnded)
    {
        if (!Phone.PhoneNumber.TryParse(target, options.Numbers, out var number, out var error) || options.Policy.Check(number) is { } denied)
        {
            var (reason, why) = number is null ? (CallReasons.Error, "not a number or extension: " + error) : (CallReasons.DestinationDenied, options.Policy.Check(number));
            call.Record(r => r.With(new DialResult(path, target, reason, null, null, time.GetUtcNow(), null, why)));
            return null;
        }
        ICallMedia? legMedia = null;
        ICallDialog? dialog = null;
        try
        {
            var request = new DialRequest
            {
                Number = number,
                Uri = options.DialPlan.ToSipUri(number),
                Sdp = null,
                CallerId = verb.CallerId ?? options.DefaultCallerId,
                RingTimeout = verb.Timeout,
            };
            if (backend!.LateOffer)
            {
                dialog = await backend.DialAsync(request with
                {
                    AnswerOffer = async (offer, answerCt) => (legMedia = await backend.CreateMediaNearAsync(media, offer, answerCt).ConfigureAwait(false)).LocalSdp,
                }, ct).ConfigureAwait(false);
            }
            else
            {
                legMedia = await backend.CreateMediaNearAsync(media, null, ct).ConfigureAwait(false);
                var created = legMedia;
                dialog = await backend.DialAsync(request with
                {
                    Sdp = created.LocalSdp,
                    AnswerReoffer = (offer, reofferCt) => created.ReofferAsync(offer, reofferCt),
                }, ct).ConfigureAwait(false);
                await legMedia.ConnectAsync(dialog.RemoteSdp ?? string.Empty, ct).ConfigureAwait(false);
            }
            return new DialledLeg(target, legMedia!, dialog, time.GetUtcNow());
        }
        catch (Exception ex) when (ex is CallBackendException or OperationCanceledException)
        {
            var outcome = CallOutcomes.ForFailure(ex, answered: false, hungUp: false, stopping: false);
            var reason = ex is OperationCanceledException ? CallReasons.Canceled : outcome.Reason;
            call.Record(r => r.With(new DialResult(path, target, reason, outcome.SipStatus, null, time.GetUtcNow(), null,
                ex is OperationCanceledException ? (callEnded.IsCancellationRequested ? "the call ended while it rang" : "another target answered first") : outcome.Detail)));
            await ReleaseLegAsync(dialog, legMedia).ConfigureAwait(false);
            return null;
        }
    }

    private Task ReleaseLegAsync(DialledLeg leg) => ReleaseLegAsync(leg.Dialog, leg.Media);

    /// <summary>Hangs up a leg's dialog and releases its media, whichever exist, at the same time; neither failing stops the other.</summary>
    private Task ReleaseLegAsync(ICallDialog? dialog, ICallMedia? media) => Task.WhenAll(
        dialog is null ? Task.CompletedTask : Quietly(() => dialog.HangupAsync(CancellationToken.None)),
        media is null ? Task.CompletedTask : Quietly(() => media.DestroyAsync(CancellationToken.None)));

    private async Task Quietly(Func<Task> step)
    {
        try
        {
            await step().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is CallBackendException or OperationCanceledException or TimeoutException)
        {
            ScriptLog.LegReleaseFailed(logger, call.CallId, ex.Message);
        }
    }

    /// <summary>
    /// Starts a recording, unless one is running (it goes on). A recording that cannot start is reported on the call,
    /// which goes on without it; the call ending meanwhile ends the script as usual.
    /// </summary>
    private async Task StartRecordingAsync(RecordVerb verb, CancellationToken ct)
    {
        if (_recording is not null)
        {
            return;
        }
        var part = ++_recordings;
        var started = time.GetUtcNow();
        if (options.Recording is not { } settings)
        {
            call.Record(r => r.With(new RecordingResult(part, null, verb.Stereo, RecordingStatuses.Failed, started, started,
                "recording is not configured (CallOptions.Recording)")));
            return;
        }
        var file = settings.NewFile(call.CallId, part);
        var result = new RecordingResult(part, file.Name, verb.Stereo, RecordingStatuses.Recording, started, null, null);
        try
        {
            await media.StartRecordingAsync(file, verb.Stereo, settings.MaxDuration, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is CallBackendException or NotSupportedException && !ct.IsCancellationRequested && !farEnd.IsCompleted)
        {
            ScriptLog.RecordingFailed(logger, call.CallId, file.Name, ex.Message);
            call.Record(r => r.With(result with { Status = RecordingStatuses.Failed, StoppedAt = time.GetUtcNow(), Detail = "could not start: " + ex.Message }));
            return;
        }
        _recording = (file, result);
        call.Record(r => r.With(result));
    }

    /// <summary>Stops the running recording, if any; a stop that fails is reported on the recording, and the call goes on.</summary>
    private async Task StopRecordingAsync(CancellationToken ct)
    {
        if (_recording is not { } running)
        {
            return;
        }
        _recording = null;
        try
        {
            await media.StopRecordingAsync(running.File, ct).ConfigureAwait(false);
            call.Record(r => r.With(running.Result with { Status = RecordingStatuses.Recorded, StoppedAt = time.GetUtcNow() }));
        }
        catch (Exception ex) when (ex is CallBackendException or NotSupportedException && !ct.IsCancellationRequested && !farEnd.IsCompleted)
        {
            ScriptLog.RecordingFailed(logger, call.CallId, running.File.Name, ex.Message);
            call.Record(r => r.With(running.Result with { Status = RecordingStatuses.Failed, StoppedAt = time.GetUtcNow(), Detail = "could not stop: " + ex.Message }));
        }
        catch
        {
            // The call is ending: its end closes the file, as for a recording never stopped.
            _recording = running;
            throw;
        }
    }

    /// <summary>
    /// A recording still running when the script ends is stopped before the call's end is reported: FreeSWITCH answers the
    /// stop once the file is closed (and uploaded), so a recording reported <c>recorded</c> is whole. When the media is gone,
    /// or the stop is not confirmed, the channel's end closes the file.
    /// </summary>
    private async Task FinishRecordingAsync((RecordingFile File, RecordingResult Result) running)
    {
        string? detail = null;
        if (media.Lost.IsCompleted)
        {
            detail = "the media server lost the call: the file holds what it wrote until then";
        }
        else
        {
            try
            {
                await media.StopRecordingAsync(running.File, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is CallBackendException or NotSupportedException)
            {
                detail = $"the stop was not confirmed ({ex.Message}); the channel's end closes the file";
            }
        }
        call.Record(r => r.With(running.Result with { Status = RecordingStatuses.Recorded, StoppedAt = time.GetUtcNow(), Detail = detail }));
    }

    private async Task<SpeechAudio?> PromptAsync(Verb? prompt, CancellationToken ct) => prompt switch
    {
        SayVerb say => await AudioAsync(say).WaitAsync(ct).ConfigureAwait(false),
        PlayVerb play => Sounded(File(play)),
        _ => null,
    };

    private SpeechAudio Sounded(SpeechAudio audio)
    {
        Sounding(null);
        return audio;
    }

    /// <summary>One try: the prompt and the keys. The callee hanging up meanwhile is recorded as a try ended by <c>hangup</c>.</summary>
    private async Task<GatheredDigits> GatherOnceAsync(SpeechAudio? prompt, DigitRules rules, string path, int attempt, CancellationToken ct)
    {
        GatheredDigits result;
        try
        {
            result = await media.GatherAsync(prompt, rules, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or CallBackendException && farEnd.IsCompleted)
        {
            result = new GatheredDigits(string.Empty, GatherReasons.Hangup);
            call.Record(r => r.With(new GatherResult(path, attempt, result.Digits, result.Reason)));
            throw;
        }
        call.Record(r => r.With(new GatherResult(path, attempt, result.Digits, result.Reason)));
        return result;
    }

    private async Task<CallScript?> GatherAsync(GatherVerb gather, string path, CancellationToken ct)
    {
        var rules = new DigitRules(gather.Fewest, gather.Most, gather.FinishOnKey, gather.Timeout, gather.InterDigitTimeout);
        GatheredDigits result = new(string.Empty, GatherReasons.Timeout);
        try
        {
            for (var attempt = 1; attempt <= gather.Tries; attempt++)
            {
                if (attempt > 1 && gather.InvalidPrompt is { } invalid)
                {
                    await SayAsync(invalid, ct).ConfigureAwait(false);
                }
                result = await GatherOnceAsync(await PromptAsync(gather.Prompt, ct).ConfigureAwait(false), rules, path, attempt, ct).ConfigureAwait(false);
                if (result.Reason == GatherReasons.DtmfDetected)
                {
                    break;
                }
            }
        }
        catch (Exception) when (gather.ActionHook is { } hook && farEnd.IsCompleted)
        {
            // The application still learns that the caller hung up; its answer has no call left to run on.
            await HookAsync(gather.Name, hook, new GatheredDigits(string.Empty, GatherReasons.Hangup), CancellationToken.None, callEnded: true).ConfigureAwait(false);
            throw;
        }
        return gather.ActionHook is { } actionHook ? await HookAsync(gather.Name, actionHook, result, ct).ConfigureAwait(false) : null;
    }

    private async Task AcknowledgeAsync(AcknowledgeVerb verb, string path, CancellationToken ct)
    {
        var rules = verb.Rules;
        var keys = new DigitRules(1, 1, null, rules.Timeout, rules.Timeout);
        var question = new SayVerb(rules.Question, verb.Message.Voice);
        for (var attempt = 1; attempt <= rules.Tries; attempt++)
        {
            await SayAsync(verb.Message, ct).ConfigureAwait(false);
            var pressed = await GatherOnceAsync(await AudioAsync(question).WaitAsync(ct).ConfigureAwait(false), keys, path, attempt, ct).ConfigureAwait(false);
            if (pressed.Digits.Length == 1 && pressed.Digits[0] == rules.Digit)
            {
                call.Record(r => r with { Acknowledged = true });
                await SayAsync(new SayVerb(rules.Confirmation, verb.Message.Voice), ct).ConfigureAwait(false);
                return;
            }
        }
        call.Record(r => r with { Acknowledged = false });
    }

    /// <summary>
    /// POSTs to a hook; returns the verbs that replace the rest of the script, or null to go on (an empty answer, or
    /// a failure after the fallback message). Rendering of the answer's speech starts as soon as it arrives. With
    /// <paramref name="callEnded"/> the hook is only told (the callee hung up during a gather): nothing is said or run.
    /// </summary>
    private async Task<CallScript?> HookAsync(string verb, Uri url, GatheredDigits? gathered, CancellationToken ct, bool callEnded = false)
    {
        if (++_hookCalls > MaxHookCalls)
        {
            call.Record(r => r.With(new HookResult(verb, url.ToString(), null, HookOutcomes.Failed,
                $"not called: the call has called {MaxHookCalls} hooks already; the script ends", TimeSpan.Zero)));
            return new CallScript([]);
        }
        var (result, replacement) = await HookAnswers.PostAsync(hooks, verb, url, Body(verb, gathered), options.HookTimeout, time, ct).ConfigureAwait(false);
        call.Record(r => r.With(result));
        ct.ThrowIfCancellationRequested();
        if (callEnded)
        {
            return null;
        }
        if (replacement is not null)
        {
            _ = speech.Prefetch(replacement.Says()).ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
            return replacement;
        }
        if (result.Outcome == HookOutcomes.Failed)
        {
            ScriptLog.HookFailed(logger, call.CallId, url, result.Detail ?? string.Empty);
            await SayAsync(new SayVerb(options.HookFailureMessage), ct).ConfigureAwait(false);
        }
        return null;
    }

    /// <summary>What a hook is told: the call's fields, and for a gather what it collected (jambonz's <c>digits</c> and <c>reason</c>).</summary>
    private string Body(string verb, GatheredDigits? gathered)
    {
        return JsonText.Write(json =>
        {
            json.WriteStartObject();
            json.WriteString("callId", call.CallId);
            json.WriteString("verb", verb);
            json.WriteString("direction", call.Direction);
            json.WriteString("to", call.To);
            json.WriteString("from", call.From);
            json.WritePropertyName("tag");
            WriteTag(json, call.Tag);
            json.WriteBoolean("simulated", call.Simulated);
            if (gathered is not null)
            {
                json.WriteString("digits", gathered.Digits);
                json.WriteString("reason", gathered.Reason);
            }
            json.WriteEndObject();
        });
    }

    /// <summary>The tag as JSON when it is JSON (what the REST API stores), as a string otherwise.</summary>
    private static void WriteTag(Utf8JsonWriter json, string? tag)
    {
        if (tag is null)
        {
            json.WriteNullValue();
            return;
        }
        try
        {
            using var document = JsonDocument.Parse(tag);
            document.RootElement.WriteTo(json);
        }
        catch (JsonException)
        {
            json.WriteStringValue(tag);
        }
    }
}

/// <summary>How a script run on an answered call ended: the call's final state and reason.</summary>
internal readonly record struct ScriptEnd(CallState State, string Reason, string? Detail);

/// <summary>Calling a hook, and what its answer means for the script.</summary>
internal static class HookAnswers
{
    /// <summary>
    /// POSTs <paramref name="body"/> to <paramref name="url"/> within <paramref name="timeout"/>, as a span of the call;
    /// returns what came of it and the verbs of a verb-list answer. Never throws for the hook's sake: when
    /// <paramref name="ct"/> ends the wait (the call ended), the result says so and the caller throws.
    /// </summary>
    public static async Task<(HookResult Result, CallScript? Verbs)> PostAsync(
        ICallHooks hooks, string verb, Uri url, string body, TimeSpan timeout, TimeProvider time, CancellationToken ct)
    {
        var started = time.GetTimestamp();
        using var span = VoiceActivities.Source.StartActivity("call.hook", ActivityKind.Client);
        span?.SetTag("url.full", url.ToString()).SetTag("voicebridge.hook.verb", verb);
        using var limit = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, limit.Token);
        int? status = null;
        string outcome;
        string? detail = null;
        CallScript? verbs = null;
        try
        {
            var reply = await hooks.CallAsync(new HookRequest(url, body), linked.Token).ConfigureAwait(false);
            status = reply.Status;
            span?.SetTag("http.response.status_code", reply.Status);
            (outcome, detail, verbs) = Read(reply);
        }
        catch (Exception ex) when (!ct.IsCancellationRequested && ex is HttpRequestException or OperationCanceledException or IOException or InvalidOperationException)
        {
            (outcome, detail) = (HookOutcomes.Failed, limit.IsCancellationRequested ? $"no answer within {timeout.TotalSeconds:0.#} s" : ex.Message);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            (outcome, detail) = (HookOutcomes.Failed, "the call ended before the hook answered");
        }
        if (outcome == HookOutcomes.Failed)
        {
            span?.SetStatus(ActivityStatusCode.Error, detail);
        }
        span?.SetTag("voicebridge.hook.outcome", outcome);
        return (new HookResult(verb, url.ToString(), status, outcome, detail, time.GetElapsedTime(started)), verbs);
    }

    /// <summary>An answer: 2xx and empty goes on; 2xx with a verb list replaces the rest; anything else is a failure, named.</summary>
    public static (string Outcome, string? Detail, CallScript? Verbs) Read(HookReply reply)
    {
        if (reply.Status is < 200 or > 299)
        {
            return (HookOutcomes.Failed, $"the hook answered {reply.Status}", null);
        }
        if (string.IsNullOrWhiteSpace(reply.Body))
        {
            return (HookOutcomes.Continued, null, null);
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(reply.Body);
        }
        catch (JsonException ex)
        {
            return (HookOutcomes.Failed, "the answer is not JSON: " + ex.Message, null);
        }
        using (document)
        {
            if (document.RootElement.ValueKind == JsonValueKind.Array && document.RootElement.GetArrayLength() == 0)
            {
                return (HookOutcomes.Continued, null, null);
            }
            return CallScript.TryParse(document.RootElement, out var script, out var problems, "answer")
                ? (HookOutcomes.Replaced, null, script)
                : (HookOutcomes.Failed, "the answer is not a verb list: " + string.Join("; ", problems.Take(3)), null);
        }
    }
}

/// <summary>Log messages of call scripts (event ids 320–329).</summary>
internal static partial class ScriptLog
{
    [LoggerMessage(320, LogLevel.Warning, "Call {CallId}: the hook {Url} failed ({Detail}); the fallback message is said and the script goes on")]
    public static partial void HookFailed(ILogger logger, string callId, Uri url, string detail);

    [LoggerMessage(322, LogLevel.Warning, "Call {CallId}: releasing a dialled leg failed ({Detail})")]
    public static partial void LegReleaseFailed(ILogger logger, string callId, string detail);

    [LoggerMessage(321, LogLevel.Warning, "Call {CallId}: recording {File} failed ({Detail}); the call goes on without it")]
    public static partial void RecordingFailed(ILogger logger, string callId, string file, string detail);
}
