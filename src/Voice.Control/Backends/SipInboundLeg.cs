using Voice.Control.Calls;
using Voice.Control.Drachtio;
using Voice.Control.Media;
using static Voice.Control.Backends.SipCallBackend;

namespace Voice.Control.Backends;

/// <summary>
/// A call that came in as an INVITE through drachtio-server: it rings (180) while its script is found and rendered; the
/// answer creates a FreeSWITCH endpoint with the caller's offer and answers 200 with the endpoint's SDP (so a plain phone
/// gets plain RTP/AVP, an SRTP phone SRTP); a refusal carries a <c>Reason</c>. An INVITE without an offer is answered with
/// the endpoint's offer, and the caller's answer comes in the ACK. The caller's re-INVITEs go to the endpoint as a placed
/// call's do (<see cref="ChannelMedia.ReofferAsync"/>).
/// </summary>
internal sealed class SipInboundLeg : IInboundLeg
{
    private readonly IncomingInvite _invite;
    private readonly MediaServerPool _media;
    private readonly TaskCompletionSource<CallLegEnd> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Endpoint? _endpoint;
    private SipDialog? _dialog;
    private ChannelMedia? _channel;
    private int _ending;

    public SipInboundLeg(IncomingInvite invite, MediaServerPool media)
    {
        _invite = invite;
        _media = media;
        _ = invite.Canceled.ContinueWith(_ => OnCanceled(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private void OnCanceled() => _ended.TrySetResult(_invite.Canceled.Result == DialogTerminatedBy.ConnectionLost
        ? new CallLegEnd("the connection to drachtio-server was lost before the answer", SignallingLost: true)
        : new CallLegEnd("the caller hung up before the answer (CANCEL)"));

    public ICallMedia Media => _channel ?? throw new InvalidOperationException("the call has no media before it is answered");

    public Task<CallLegEnd> Ended => _ended.Task;

    /// <summary>180 Ringing; a refusal is the caller's CANCEL when one follows it (<see cref="RefusedAsync"/>).</summary>
    public Task RingAsync(CancellationToken ct) => Translated(async () =>
    {
        try
        {
            await _invite.RingAsync(ct: ct).ConfigureAwait(false);
        }
        catch (DrachtioException)
        {
            await RefusedAsync().ConfigureAwait(false);
            throw;
        }
    });

    /// <summary>
    /// drachtio-server refused our response (180 or 200): when the caller's CANCEL got there first it has ended the
    /// transaction, and its relay of the CANCEL may reach us a moment after the refusal (lab: once in a few dozen calls
    /// cancelled at once, behind a 180). So the refusal waits briefly for it, and the call then ends as the caller's, now,
    /// not when the continuation registered on the cancellation gets its turn.
    /// </summary>
    private async Task RefusedAsync()
    {
        await ((Task)_invite.Canceled).WaitAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (_invite.Canceled.IsCompleted)
        {
            OnCanceled();
        }
    }

    public Task AnswerAsync(CancellationToken ct) => Translated(async () =>
    {
        var endpoint = await _media.CreateEndpointAsync(_invite.Offer, ct).ConfigureAwait(false);
        _endpoint = endpoint;
        SipDialog dialog;
        try
        {
            dialog = await _invite.AcceptAsync(endpoint.LocalSdp).ConfigureAwait(false);
        }
        catch (DrachtioException)
        {
            // The CANCEL crossed our 200.
            await RefusedAsync().ConfigureAwait(false);
            throw;
        }
        _dialog = dialog;
        _ = dialog.Terminated.ContinueWith(
            t => _ended.TrySetResult(new CallLegEnd(t.Result.Reason, t.Result.By == DialogTerminatedBy.ConnectionLost)),
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        if (_invite.Offer is null)
        {
            // Our 200 made the offer: the caller's answer is in its ACK (or the dialog ends without one).
            await Task.WhenAny(dialog.Acknowledged, dialog.Terminated).WaitAsync(ct).ConfigureAwait(false);
            var answer = dialog.Acknowledged.IsCompleted ? dialog.Acknowledged.Result.Sdp : null;
            if (answer is null)
            {
                throw new CallBackendException(CallFailure.MediaFailed, "the caller answered our offer with no SDP in its ACK");
            }
            await endpoint.ModifyAsync(answer, ct).ConfigureAwait(false);
        }
        var channel = _channel = EndpointMedia(endpoint);
        // The caller's later offers (hold, a new address) go to FreeSWITCH, whose answer is ours.
        dialog.AnswerOffer = async (offer, token) =>
            await channel.ReofferAsync(offer, token).ConfigureAwait(false) ?? throw new MediaException("the media made no answer");
    });

    /// <summary>A final status with the standard phrase, and the reason in a <c>Reason</c> header (RFC 3326).</summary>
    public async Task RefuseAsync(int sipStatus, string reason, CancellationToken ct)
    {
        if (_dialog is not null)
        {
            // Answered already: all that is left is to hang up.
            await EndAsync(ct).ConfigureAwait(false);
            return;
        }
        try
        {
            await _invite.RejectAsync(sipStatus, ReasonPhrase(sipStatus), [new("Reason", ReasonHeader(sipStatus, reason))], ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is DrachtioException or InvalidOperationException)
        {
            // The caller cancelled meanwhile (drachtio-server answered 487), or the link is gone.
        }
        _ended.TrySetResult(new CallLegEnd($"refused with {sipStatus}"));
        await ReleaseMediaAsync(ct).ConfigureAwait(false);
    }

    /// <summary>BYE to the caller and the endpoint released; an INVITE somehow still unanswered is refused 500. Idempotent.</summary>
    public async Task EndAsync(CancellationToken ct)
    {
        if (Interlocked.Exchange(ref _ending, 1) == 1)
        {
            return;
        }
        if (_dialog is null && !_invite.IsAnswered && !_invite.Canceled.IsCompleted)
        {
            await RefuseAsync(500, "the call ended before it was answered", ct).ConfigureAwait(false);
            return;
        }
        _ended.TrySetResult(new CallLegEnd("hung up by the application"));
        var bye = _dialog is { } dialog ? Translated(() => dialog.DestroyAsync(ct)) : Task.CompletedTask;
        await Task.WhenAll(bye, ReleaseMediaAsync(ct)).ConfigureAwait(false);
    }

    private Task ReleaseMediaAsync(CancellationToken ct) => _endpoint is { } endpoint ? Translated(() => endpoint.DestroyAsync(ct)) : Task.CompletedTask;

    internal static string ReasonPhrase(int status) => status switch
    {
        403 => "Forbidden",
        404 => "Not Found",
        480 => "Temporarily Unavailable",
        486 => "Busy Here",
        488 => "Not Acceptable Here",
        500 => "Server Internal Error",
        503 => "Service Unavailable",
        603 => "Decline",
        _ => "Call Refused",
    };

    /// <summary><c>SIP ;cause=486 ;text="…"</c>, the text on one line, without quotes or backslashes, at most 200 characters.</summary>
    internal static string ReasonHeader(int status, string reason)
    {
        var text = new string([.. reason.Take(200).Select(c => c is '"' or '\\' || char.IsControl(c) ? '\'' : c)]);
        return string.Create(System.Globalization.CultureInfo.InvariantCulture, $"SIP ;cause={status} ;text=\"{text}\"");
    }
}
