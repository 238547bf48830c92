using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Voice.Control.Calls;
using Voice.Control.Tts;

namespace Voice.Control.Simulation;

/// <summary>
/// A declared, simulated telephony backend: no drachtio-server, no FreeSWITCH, no phone rings. The outcome of a
/// call is decided by <see cref="MagicNumbers"/>, and each step takes the time it takes on a real call (ring,
/// answer, playback for as long as the message lasts, hang-up), so that everything above it — states,
/// webhooks, dashboards — behaves as in production. Every call it makes reports simulated = true.
/// </summary>
public sealed class SimulatedBackend : ICallBackend
{
    private const string Sdp = "v=0\r\no=VoiceBridge-simulated 1 1 IN IP4 192.0.2.1\r\ns=simulated\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n";

    // Each simulated endpoint's SDP is unique, so the INVITE that carries it finds its endpoint again.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, SimulatedMedia> _media = new(StringComparer.Ordinal);
    private long _sessions;

    private readonly SimulationOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public SimulatedBackend(SimulationOptions? options = null, ILogger<SimulatedBackend>? logger = null, TimeProvider? timeProvider = null)
    {
        _options = options ?? new SimulationOptions();
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? NullLogger<SimulatedBackend>.Instance;
    }

    public string Name => "simulated";

    public bool IsSimulated => true;

    public string? NotReadyReason => null;

    /// <summary>The simulation offers first, as the real backend does without SRTP.</summary>
    public bool LateOffer => false;

    public Task<ICallMedia> CreateMediaAsync(string remoteOffer, CancellationToken ct) => CreateMediaAsync(ct);

    public async Task<ICallMedia> CreateMediaAsync(CancellationToken ct)
    {
        await Task.Delay(_options.SignallingDelay, _time, ct).ConfigureAwait(false);
        var session = Interlocked.Increment(ref _sessions);
        var media = new SimulatedMedia(Sdp.Replace("VoiceBridge-simulated 1 1", $"VoiceBridge-simulated {session} 1", StringComparison.Ordinal), _options, _time, this);
        _media[media.LocalSdp] = media;
        return media;
    }

    public async Task<ICallDialog> DialAsync(DialRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        var number = request.Number.Value;
        // Debug: the "queued (simulated)" line and the warning at start-up already say so once per call and once per run.
        _logger.LogDebug("SIMULATED call to {Number} ({Uri}): nothing really rings", number, request.Uri);
        await Task.Delay(_options.SignallingDelay, _time, ct).ConfigureAwait(false);
        switch (number)
        {
            case MagicNumbers.Busy:
                throw CallBackendException.Rejected(486, "Busy Here");
            case MagicNumbers.NotFound:
                throw CallBackendException.Rejected(404, "Not Found");
            case MagicNumbers.Rejected:
                throw CallBackendException.Rejected(603, "Decline");
            case MagicNumbers.Unavailable:
                throw CallBackendException.Rejected(503, "Service Unavailable");
            case MagicNumbers.AuthFails:
                throw CallBackendException.Rejected(407, "Proxy Authentication Required");
        }
        request.OnProgress?.Invoke(number == MagicNumbers.EarlyMedia ? 183 : 180, number == MagicNumbers.EarlyMedia ? Sdp : null);
        var ring = number switch
        {
            MagicNumbers.Answers or MagicNumbers.HangsUpDuringMessage or MagicNumbers.MediaFails => _options.SignallingDelay,
            MagicNumbers.NeverAnswers => Timeout.InfiniteTimeSpan,
            _ => _options.RingTime,
        };
        if (ring == Timeout.InfiniteTimeSpan || ring >= request.RingTimeout)
        {
            await Task.Delay(request.RingTimeout, _time, ct).ConfigureAwait(false);
            throw CallBackendException.NoAnswer(487);
        }
        await Task.Delay(ring, _time, ct).ConfigureAwait(false);
        var dialog = new SimulatedDialog();
        if (request.Sdp is { } own && _media.TryGetValue(own, out var answered))
        {
            answered.Dialog = dialog;
        }
        if (MagicNumbers.KeyPressesOf(number) is { } presses && request.Sdp is { } sdp && _media.TryGetValue(sdp, out var pressing))
        {
            pressing.Presses = presses;
        }
        if (number == MagicNumbers.HangsUpDuringMessage)
        {
            _ = LaterAsync(() => dialog.EndedBy("BYE from the far end (simulated)"));
        }
        else if (number == MagicNumbers.MediaFails && request.Sdp is { } offered && _media.TryGetValue(offered, out var media))
        {
            _ = LaterAsync(() => media.Lose("MEDIA_TIMEOUT"));
        }
        return dialog;
    }

    /// <summary>
    /// A simulated call coming in from <paramref name="from"/>, for <see cref="CallManager.Accept"/>: the caller presses
    /// the keys a <see cref="MagicNumbers.PressesKeysPrefix"/> number names, and <see cref="MagicNumbers.HangsUpDuringMessage"/>
    /// hangs up after <see cref="SimulationOptions.HangupAfter"/> from the answer.
    /// </summary>
    public SimulatedInboundLeg CallIn(string from)
    {
        ArgumentNullException.ThrowIfNull(from);
        var session = Interlocked.Increment(ref _sessions);
        var media = new SimulatedMedia(Sdp.Replace("VoiceBridge-simulated 1 1", $"VoiceBridge-simulated {session} 1", StringComparison.Ordinal), _options, _time, this)
        {
            Presses = MagicNumbers.KeyPressesOf(from),
        };
        _media[media.LocalSdp] = media;
        _ = media.ConnectAsync(Sdp, CancellationToken.None);
        return new SimulatedInboundLeg(media, from == MagicNumbers.HangsUpDuringMessage, this);
    }

    /// <summary>The caller's side of <see cref="CallIn"/>: what happened to it, for tests and the simulated API.</summary>
    public sealed class SimulatedInboundLeg : IInboundLeg
    {
        private readonly SimulatedBackend _backend;
        private readonly bool _hangsUp;
        private readonly TaskCompletionSource<CallLegEnd> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);

        internal SimulatedInboundLeg(ICallMedia media, bool hangsUp, SimulatedBackend backend)
        {
            Media = media;
            _hangsUp = hangsUp;
            _backend = backend;
        }

        public ICallMedia Media { get; }

        public Task<CallLegEnd> Ended => _ended.Task;

        /// <summary>The call was answered.</summary>
        public bool Answered { get; private set; }

        /// <summary>The status the call was refused with, and why; null when it was not refused.</summary>
        public (int Status, string Reason)? Refused { get; private set; }

        /// <summary>The caller hangs up now.</summary>
        public void HangUp() => _ended.TrySetResult(new CallLegEnd("the caller hung up (simulated)"));

        /// <summary>The caller was told it rings.</summary>
        public bool Rang { get; private set; }

        public Task RingAsync(CancellationToken ct)
        {
            Rang = true;
            return Task.CompletedTask;
        }

        public async Task AnswerAsync(CancellationToken ct)
        {
            await Task.Delay(_backend._options.SignallingDelay, _backend._time, ct).ConfigureAwait(false);
            Answered = true;
            if (_hangsUp)
            {
                _ = _backend.LaterAsync(HangUp);
            }
        }

        public Task RefuseAsync(int sipStatus, string reason, CancellationToken ct)
        {
            Refused = (sipStatus, reason);
            _ended.TrySetResult(new CallLegEnd($"refused with {sipStatus}"));
            return Media.DestroyAsync(ct);
        }

        public Task EndAsync(CancellationToken ct)
        {
            _ended.TrySetResult(new CallLegEnd("hung up by the application"));
            return Media.DestroyAsync(ct);
        }
    }

    /// <summary>What was sent to a simulated callee with <see cref="ICallMedia.SendDigitsAsync"/>, in order.</summary>
    internal static IReadOnlyList<string> DigitsSentTo(ICallMedia media)
    {
        var sent = ((SimulatedMedia)media).DigitsSent;
        lock (sent)
        {
            return [.. sent];
        }
    }

    private async Task LaterAsync(Action action)
    {
        await Task.Delay(_options.SignallingDelay + _options.HangupAfter, _time).ConfigureAwait(false);
        action();
    }

    internal sealed class SimulatedDialog : ICallDialog
    {
        private readonly TaskCompletionSource<CallLegEnd> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string? RemoteSdp => Sdp;

        public Task<CallLegEnd> Ended => _ended.Task;

        public void EndedBy(string reason) => _ended.TrySetResult(new CallLegEnd(reason));

        public Task HangupAsync(CancellationToken ct)
        {
            _ended.TrySetResult(new CallLegEnd("hung up by the application"));
            return Task.CompletedTask;
        }
    }

    private sealed class SimulatedMedia(string localSdp, SimulationOptions options, TimeProvider time, SimulatedBackend backend) : ICallMedia
    {
        private readonly TaskCompletionSource<string> _lost = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private string? _remoteSdp;

        public string LocalSdp => localSdp;

        public void Lose(string cause) => _lost.TrySetResult(cause);

        public Task<string> Lost => _lost.Task;

        public Task ConnectAsync(string remoteSdp, CancellationToken ct)
        {
            _remoteSdp = remoteSdp;
            return Task.CompletedTask;
        }

        public async Task PlayAsync(SpeechAudio audio, CancellationToken ct)
        {
            if (_remoteSdp is null)
            {
                throw new CallBackendException(CallFailure.MediaFailed, "simulated endpoint played before it was connected to the callee");
            }
            // A file's length is not known here (a play verb): it plays for a second.
            await Scaled(audio.Duration > TimeSpan.Zero ? audio.Duration : TimeSpan.FromSeconds(1), ct).ConfigureAwait(false);
        }

        public Task PauseAsync(TimeSpan duration, CancellationToken ct) => Scaled(duration, ct);

        /// <summary>The keys this callee presses (<see cref="MagicNumbers.PressesKeysPrefix"/>); null: none.</summary>
        public KeyPresses? Presses { get; set; }

        /// <summary>The digits sent to this callee, in order.</summary>
        public List<string> DigitsSent { get; } = [];

        private int _gathers;

        public async Task<GatheredDigits> GatherAsync(SpeechAudio? prompt, DigitRules rules, CancellationToken ct)
        {
            var gather = Interlocked.Increment(ref _gathers) - 1;
            var key = Presses is { } presses && gather < presses.PerGather.Count && presses.PerGather[gather] != '0' ? presses.PerGather[gather] : (char?)null;
            if (key is { } pressed)
            {
                await Scaled(Presses!.After, ct).ConfigureAwait(false);
                if (pressed == rules.FinishOnKey)
                {
                    return new GatheredDigits(string.Empty, GatherReasons.DtmfDetected);
                }
                if (rules.MinDigits <= 1)
                {
                    return new GatheredDigits(pressed.ToString(), GatherReasons.DtmfDetected);
                }
                await Scaled(rules.InterDigitTimeout, ct).ConfigureAwait(false);
                return new GatheredDigits(pressed.ToString(), GatherReasons.Timeout);
            }
            await Scaled((prompt?.Duration ?? TimeSpan.Zero) + rules.Timeout, ct).ConfigureAwait(false);
            return new GatheredDigits(string.Empty, GatherReasons.Timeout);
        }

        public async Task SendDigitsAsync(string digits, TimeSpan toneDuration, CancellationToken ct)
        {
            // Each key a tone and as long a gap; w and W the pauses they stand for.
            var length = digits.Sum(c => c switch { 'w' => 500.0, 'W' => 1000.0, _ => 2 * toneDuration.TotalMilliseconds });
            await Scaled(TimeSpan.FromMilliseconds(length), ct).ConfigureAwait(false);
            lock (DigitsSent)
            {
                DigitsSent.Add(digits);
            }
        }

        private Task Scaled(TimeSpan duration, CancellationToken ct) =>
            Task.Delay(TimeSpan.FromTicks((long)(duration.Ticks / options.PlaybackSpeed)), time, ct);

        private SimulatedRecording? _recording;

        /// <summary>The dialog this media was offered in, once answered.</summary>
        public SimulatedDialog? Dialog { get; set; }

        /// <summary>The media this one is bridged to.</summary>
        public SimulatedMedia? BridgedTo { get; private set; }

        /// <summary>Bridges to another simulated leg: its party talks for <see cref="SimulationOptions.TalkTime"/>, then hangs up.</summary>
        public Task BridgeAsync(ICallMedia other, CancellationToken ct)
        {
            if (other is not SimulatedMedia leg || _remoteSdp is null || leg._remoteSdp is null)
            {
                throw new CallBackendException(CallFailure.MediaFailed, "simulated media bridges only two connected simulated legs");
            }
            BridgedTo = leg;
            leg.BridgedTo = this;
            _ = HangUpLaterAsync(leg);
            return Task.CompletedTask;
        }

        private async Task HangUpLaterAsync(SimulatedMedia leg)
        {
            await Task.Delay(options.TalkTime, time).ConfigureAwait(false);
            leg.Dialog?.EndedBy("the dialled party hung up (simulated)");
        }

        public Task StartRecordingAsync(RecordingFile file, bool stereo, TimeSpan limit, CancellationToken ct)
        {
            if (_remoteSdp is null)
            {
                throw new CallBackendException(CallFailure.MediaFailed, "simulated endpoint recorded before it was connected to the callee");
            }
            FinishRecording();
            _recording = new SimulatedRecording(file, stereo, limit, time.GetTimestamp());
            return Task.CompletedTask;
        }

        public Task StopRecordingAsync(RecordingFile file, CancellationToken ct)
        {
            if (_recording?.File != file)
            {
                throw new CallBackendException(CallFailure.MediaFailed, $"simulated endpoint is not recording {file.Name}");
            }
            FinishRecording();
            return Task.CompletedTask;
        }

        private void FinishRecording()
        {
            if (Interlocked.Exchange(ref _recording, null) is { } recording)
            {
                try
                {
                    recording.Finish(time, options.PlaybackSpeed);
                }
                catch (IOException ex)
                {
                    throw new CallBackendException(CallFailure.MediaFailed, $"simulated recording {recording.File.Name} could not be written: {ex.Message}");
                }
            }
        }

        public Task DestroyAsync(CancellationToken ct)
        {
            backend._media.TryRemove(localSdp, out _);
            try
            {
                // As FreeSWITCH does, the channel's end closes its recording.
                FinishRecording();
            }
            catch (CallBackendException)
            {
                // The call ends anyway; the recording's file is missing, which the host reports.
            }
            _lost.TrySetResult("NORMAL_CLEARING");
            return Task.CompletedTask;
        }
    }
}
