using Voice.Control.Calls;
using Voice.Control.Drachtio;
using Voice.Control.Media;
using Voice.Control.Sip;

namespace Voice.Control.Backends;

/// <summary>
/// The real backend: INVITEs through drachtio-server, media on the FreeSWITCH pool. The adapter between the
/// orchestrator and the protocols: drachtio, SIP and media failures leave it as <see cref="CallBackendException"/>
/// (and cancellations as <see cref="CallCanceledException"/>), so the orchestrator knows no protocol types.
/// </summary>
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

    public Task<ICallMedia> CreateMediaAsync(CancellationToken ct) =>
        Translated<ICallMedia>(async () => EndpointMedia(await media.CreateEndpointAsync(ct).ConfigureAwait(false)));

    public Task<ICallMedia> CreateMediaAsync(string remoteOffer, CancellationToken ct) =>
        Translated<ICallMedia>(async () => EndpointMedia(await media.CreateEndpointAsync(remoteOffer, ct).ConfigureAwait(false)));

    /// <summary>A second leg's endpoint on the server of <paramref name="near"/>'s (any, when that is not known).</summary>
    public Task<ICallMedia> CreateMediaNearAsync(ICallMedia near, string? remoteOffer, CancellationToken ct) =>
        Translated<ICallMedia>(async () => EndpointMedia(near is ChannelMedia { Server: { } server }
            ? await server.CreateEndpointAsync(remoteOffer, ct).ConfigureAwait(false)
            : await media.CreateEndpointAsync(remoteOffer, ct).ConfigureAwait(false)));

    public Task<ICallDialog> DialAsync(DialRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Translated<ICallDialog>(async () => new DialogLeg(await drachtio.CreateUacAsync(request.Uri, new UacOptions
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
        }, ct).ConfigureAwait(false), request.AnswerReoffer), dialling: true);
    }

    /// <summary>Runs a step and says what failed in the seam's words.</summary>
    internal static async Task<T> Translated<T>(Func<Task<T>> step, bool dialling = false)
    {
        try
        {
            return await step().ConfigureAwait(false);
        }
        catch (Exception ex) when (Translate(ex, dialling) is { } translated)
        {
            throw translated;
        }
    }

    internal static Task Translated(Func<Task> step) => Translated(async () =>
    {
        await step().ConfigureAwait(false);
        return true;
    });

    /// <summary>The seam's exception for a protocol's, or null to let it through as it is (a plain cancellation, a bug).</summary>
    internal static Exception? Translate(Exception ex, bool dialling) => ex switch
    {
        SipFailureException { IsRingTimeout: true } timeout => CallBackendException.NoAnswer(timeout.StatusCode, timeout),
        SipFailureException sip => CallBackendException.Rejected(sip.StatusCode, sip.ReasonPhrase, sip),
        UacCanceledException canceled => new CallCanceledException(canceled.StatusCode, canceled, canceled.CancellationToken),
        MediaServerUnavailableException unavailable => new CallBackendException(CallFailure.MediaUnavailable, unavailable.Message, inner: unavailable),
        DrachtioConnectionLostException lost when dialling => new CallBackendException(CallFailure.SignallingLost, lost.Message, inner: lost),
        DrachtioException link => new CallBackendException(CallFailure.SignallingUnavailable, link.Message, inner: link),
        MediaException or EndpointDestroyedException => new CallBackendException(CallFailure.MediaFailed, ex.Message, inner: ex),
        _ => null,
    };

    private sealed class DialogLeg : ICallDialog
    {
        private readonly SipDialog _dialog;

        public DialogLeg(SipDialog dialog, Func<string, CancellationToken, Task<string?>>? answerReoffer)
        {
            _dialog = dialog;
            Ended = dialog.Terminated.ContinueWith(
                t => new CallLegEnd(t.Result.Reason, t.Result.By == DialogTerminatedBy.ConnectionLost),
                CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            if (answerReoffer is not null)
            {
                // The phone's re-INVITEs (a hold, the PBX leaving the media path) reach the media, whose answer goes back.
                dialog.AnswerOffer = async (offer, ct) =>
                    await answerReoffer(offer, ct).ConfigureAwait(false) ?? throw new InvalidOperationException("the media made no answer");
            }
        }

        public string? RemoteSdp => _dialog.RemoteSdp;

        public Task<CallLegEnd> Ended { get; }

        public Task HangupAsync(CancellationToken ct) => Translated(() => _dialog.DestroyAsync(ct));
    }

    /// <summary>An endpoint as the orchestrator's media: its channel's commands, the re-INVITE to the phone, and its BYE.</summary>
    internal static ChannelMedia EndpointMedia(Endpoint endpoint) => new(
        endpoint.Channel,
        endpoint.LocalSdp,
        endpoint.Terminated.ContinueWith(t => t.Result.Cause, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default),
        endpoint.ModifyAsync,
        endpoint.DestroyAsync,
        endpoint.Server);
}
