using Voice.Control.Drachtio;
using Voice.Control.Media;
using Voice.Control.Tts;

namespace Voice.Control.Calls;

/// <summary>The real backend: INVITEs through drachtio-server, media on the FreeSWITCH pool.</summary>
public sealed class SipCallBackend(DrachtioClient drachtio, MediaServerPool media, CallOptions options) : ICallBackend
{
    public string Name => "drachtio+freeswitch";

    public bool IsSimulated => false;

    public string? NotReadyReason =>
        !drachtio.IsConnected ? "drachtio-server is not connected"
        : !media.Servers.Any(s => s.IsConnected) ? "no FreeSWITCH media server is ready"
        : null;

    /// <summary>With SRTP configured: FreeSWITCH answers the phone's offer once, rather than being re-INVITEd with it.</summary>
    public bool LateOffer { get; } = media.Servers.Any(s => s.Options.Srtp);

    public async Task<ICallMedia> CreateMediaAsync(CancellationToken ct) => new EndpointMedia(await media.CreateEndpointAsync(ct).ConfigureAwait(false));

    public async Task<ICallMedia> CreateMediaAsync(string remoteOffer, CancellationToken ct) =>
        new EndpointMedia(await media.CreateEndpointAsync(remoteOffer, ct).ConfigureAwait(false));

    public async Task<ICallDialog> DialAsync(DialRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        var dialog = await drachtio.CreateUacAsync(request.Uri, new UacOptions
        {
            LocalSdp = request.Sdp,
            AnswerOffer = request.AnswerOffer,
            CallerId = request.CallerId,
            CallerName = request.CallerName,
            Proxy = options.OutboundProxy,
            Credentials = options.Credentials,
            RingTimeout = request.RingTimeout,
            Headers = request.Headers,
            OnProvisional = response => request.OnProgress?.Invoke(response.StatusCode, response.Sdp),
        }, ct).ConfigureAwait(false);
        return new DialogLeg(dialog);
    }

    private sealed class DialogLeg(SipDialog dialog) : ICallDialog
    {
        public string? RemoteSdp => dialog.RemoteSdp;

        public Task<CallLegEnd> Ended { get; } = dialog.Terminated.ContinueWith(
            t => new CallLegEnd(t.Result.Reason, t.Result.By == DialogTerminatedBy.ConnectionLost),
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

        public Task HangupAsync(CancellationToken ct) => dialog.DestroyAsync(ct);
    }

    private sealed class EndpointMedia(Endpoint endpoint) : ICallMedia
    {
        public string LocalSdp => endpoint.LocalSdp;

        public Task<string> Lost { get; } = endpoint.Terminated.ContinueWith(
            t => t.Result.Cause, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

        public Task ConnectAsync(string remoteSdp, CancellationToken ct) => endpoint.ModifyAsync(remoteSdp, ct);

        public Task PlayAsync(SpeechAudio audio, CancellationToken ct) => audio.Source is { } source
            ? endpoint.PlayAsync(source, ct)
            : endpoint.SpeakAsync(audio.Text ?? string.Empty, new SpeakOptions { Voice = audio.Voice ?? SpeakOptions.Default.Voice }, ct);

        public Task PauseAsync(TimeSpan duration, CancellationToken ct) =>
            endpoint.PlayAsync($"silence_stream://{(long)duration.TotalMilliseconds}", ct);

        public Task DestroyAsync(CancellationToken ct) => endpoint.DestroyAsync(ct);
    }
}
