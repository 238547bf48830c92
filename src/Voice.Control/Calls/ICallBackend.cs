namespace Voice.Control.Calls;

/// <summary>
/// What a call needs from telephony: a media endpoint and an outgoing SIP call. The real backend drives
/// drachtio-server and FreeSWITCH; the simulated one plays the same steps by magic numbers. The orchestrator
/// runs unchanged on either.
/// </summary>
public interface ICallBackend
{
    /// <summary>For logs and reports: <c>drachtio+freeswitch</c> or <c>simulated</c>.</summary>
    string Name { get; }

    /// <summary>Calls made through this backend are simulated, and say so.</summary>
    bool IsSimulated { get; }

    /// <summary>Whether calls can be placed now (links up, a media server ready); why not otherwise.</summary>
    string? NotReadyReason { get; }

    /// <summary>
    /// Calls go out without SDP: the callee offers in its 2xx and the media is created to answer it
    /// (<see cref="CreateMediaAsync(string, CancellationToken)"/>). How SRTP reaches the phone.
    /// </summary>
    bool LateOffer { get; }

    /// <summary>Creates the media side of a call: its <see cref="ICallMedia.LocalSdp"/> is the offer the INVITE carries.</summary>
    Task<ICallMedia> CreateMediaAsync(CancellationToken ct);

    /// <summary>Creates the media side of a call to answer the callee's offer: its <see cref="ICallMedia.LocalSdp"/> is the answer.</summary>
    Task<ICallMedia> CreateMediaAsync(string remoteOffer, CancellationToken ct);

    /// <summary>
    /// Sends the INVITE and returns once it is answered (and acknowledged). Cancelling <paramref name="ct"/>
    /// before the answer sends CANCEL.
    /// </summary>
    /// <exception cref="CallBackendException">A final non-2xx response (<see cref="CallFailure.Rejected"/>), the ring timeout
    /// (<see cref="CallFailure.NoAnswer"/>), or the signalling link failed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="ct"/> was cancelled; CANCEL went out
    /// (<see cref="CallCanceledException"/> with the INVITE's final status when it got one).</exception>
    Task<ICallDialog> DialAsync(DialRequest request, CancellationToken ct);

    /// <summary>
    /// Creates media for a second leg that <paramref name="near"/> will be bridged to: on the same media server (a bridge
    /// joins two channels of one FreeSWITCH). With <paramref name="remoteOffer"/>, the media answers it (a late offer).
    /// </summary>
    Task<ICallMedia> CreateMediaNearAsync(ICallMedia near, string? remoteOffer, CancellationToken ct) =>
        remoteOffer is null ? CreateMediaAsync(ct) : CreateMediaAsync(remoteOffer, ct);
}

/// <summary>The answered SIP call leg to the callee.</summary>
public interface ICallDialog
{
    /// <summary>The callee's SDP from the 200 OK (or its 183).</summary>
    string? RemoteSdp { get; }

    /// <summary>Completes when the callee hangs up (BYE) or the leg is lost; never fails.</summary>
    Task<CallLegEnd> Ended { get; }

    /// <summary>BYE. Idempotent.</summary>
    Task HangupAsync(CancellationToken ct);
}

/// <summary>How the callee's leg ended.</summary>
/// <param name="Detail">What ended it, for logs and reports.</param>
/// <param name="SignallingLost">
/// Nobody hung up: the link to the signalling server was lost, so the call cannot go on. The leg is ended (BYE)
/// once the link is back.
/// </param>
public sealed record CallLegEnd(string Detail, bool SignallingLost = false);

/// <summary>The media side of a call: a FreeSWITCH endpoint, or its simulation.</summary>
public interface ICallMedia
{
    /// <summary>Our SDP offer for the callee.</summary>
    string LocalSdp { get; }

    /// <summary>Completes if the media server loses the channel (stopped, hung up) before we end it.</summary>
    Task<string> Lost { get; }

    /// <summary>Points the media at the callee's SDP.</summary>
    Task ConnectAsync(string remoteSdp, CancellationToken ct);

    /// <summary>
    /// The far end offers again after the answer (a hold, a new media address, as PBXs do): points the media at the new
    /// offer and returns the media's answer for the far end; null when this media cannot answer (the last SDP stands).
    /// </summary>
    Task<string?> ReofferAsync(string remoteOffer, CancellationToken ct) => Task.FromResult<string?>(null);

    /// <summary>Plays rendered speech to the end; cancelling stops it on the wire.</summary>
    Task PlayAsync(Tts.SpeechAudio audio, CancellationToken ct);

    /// <summary>Plays silence for <paramref name="duration"/> (the pause between repeats).</summary>
    Task PauseAsync(TimeSpan duration, CancellationToken ct);

    /// <summary>
    /// Gives <paramref name="prompt"/> (null: none) and collects keys by <paramref name="rules"/>; on a rendered file
    /// the first key stops the prompt. The callee hanging up cancels through <paramref name="ct"/>.
    /// </summary>
    Task<GatheredDigits> GatherAsync(Tts.SpeechAudio? prompt, DigitRules rules, CancellationToken ct);

    /// <summary>Sends <paramref name="digits"/> to the callee as RFC 2833 events; <c>w</c> waits 0.5 s, <c>W</c> 1 s.</summary>
    Task SendDigitsAsync(string digits, TimeSpan toneDuration, CancellationToken ct);

    /// <summary>
    /// Starts recording both parties into <paramref name="file"/> (stereo: the far end left, what is played right;
    /// otherwise mixed), for at most <paramref name="limit"/>; it stops with the call. Media that cannot record throw
    /// <see cref="NotSupportedException"/>.
    /// </summary>
    Task StartRecordingAsync(RecordingFile file, bool stereo, TimeSpan limit, CancellationToken ct) =>
        Task.FromException(new NotSupportedException("this media cannot record"));

    /// <summary>Stops the recording into <paramref name="file"/>; its file is then finished (or uploaded).</summary>
    Task StopRecordingAsync(RecordingFile file, CancellationToken ct) =>
        Task.FromException(new NotSupportedException("this media cannot record"));

    /// <summary>
    /// Joins this media and <paramref name="other"/> (another call leg's, on the same media server): each party hears the
    /// other, until either is destroyed. Media that cannot bridge throw <see cref="NotSupportedException"/>.
    /// </summary>
    Task BridgeAsync(ICallMedia other, CancellationToken ct) =>
        Task.FromException(new NotSupportedException("this media cannot be bridged"));

    /// <summary>Releases the media server's channel. Idempotent.</summary>
    Task DestroyAsync(CancellationToken ct);
}
