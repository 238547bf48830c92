using System.Collections.Concurrent;
using Voice.Control.Sip;

namespace Voice.Control.Drachtio;

// Calls that come in: INVITEs drachtio-server routes to this client, and the dialogs their 200 OK creates.
public sealed partial class DrachtioClient
{
    private readonly ConcurrentDictionary<string, IncomingInvite> _invites = new(StringComparer.Ordinal);
    private Func<IncomingInvite, Task>? _inviteHandler;

    /// <summary>The INVITEs that came in and have no final response yet.</summary>
    public int PendingInvites => _invites.Count;

    /// <summary>
    /// Asks drachtio-server for the INVITEs that reach it (<c>route|invite</c>, again after every reconnect) and hands each
    /// to <paramref name="handler"/>, which owns it until its final response. A handler that throws before answering gets
    /// the caller a 500. One handler per client.
    /// </summary>
    /// <exception cref="InvalidOperationException">A handler is already set.</exception>
    public void AcceptInvites(Func<IncomingInvite, Task> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        ObjectDisposedException.ThrowIf(_disposed == 1, this);
        if (Interlocked.CompareExchange(ref _inviteHandler, handler, null) is not null)
        {
            throw new InvalidOperationException("INVITEs already go to a handler.");
        }
        if (_connection is { IsClosed: false } connection)
        {
            _ = RouteInvitesAsync(connection);
        }
    }

    private async Task RouteInvitesAsync(DrachtioConnection connection)
    {
        try
        {
            var reply = await connection.SendRequestAsync("route|invite").ConfigureAwait(false);
            if (reply.IsOk)
            {
                DrachtioLog.Routed(_logger, "INVITE");
            }
            else
            {
                DrachtioLog.RouteRefused(_logger, "INVITE", reply.FailureReason);
            }
        }
        catch (DrachtioConnectionLostException)
        {
            // The next connection asks again.
        }
    }

    /// <summary>
    /// On the read loop: an INVITE outside any dialog is registered under its transaction id before anything later on
    /// the link is dispatched, so its CANCEL always finds it. Returns false for every other message.
    /// </summary>
    private bool TryTakeInvite(DrachtioConnection connection, DrachtioMessage message)
    {
        if (_inviteHandler is not { } handler || !message.SipText.StartsWith("INVITE ", StringComparison.Ordinal))
        {
            return false;
        }
        var network = new DrachtioNetworkMessage(message);
        if (!network.DialogId.IsEmpty || !network.IsFromNetwork)
        {
            return false;
        }
        if (!SipMessage.TryParse(message.SipText, out var request, out var error))
        {
            DrachtioLog.UnparsableRequest(_logger, error);
            return true;
        }
        var invite = new IncomingInvite(this, connection, network, request);
        _invites[invite.TransactionId] = invite;
        DrachtioLog.InviteArrived(_logger, request.RequestUri ?? string.Empty, request.From ?? string.Empty, invite.TransactionId);
        _ = Task.Run(() => RunInviteHandlerAsync(handler, invite));
        return true;
    }

    private async Task RunInviteHandlerAsync(Func<IncomingInvite, Task> handler, IncomingInvite invite)
    {
        try
        {
            await handler(invite).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            DrachtioLog.InviteHandlerFailed(_logger, ex, invite.TransactionId);
            if (!invite.IsAnswered && !invite.Canceled.IsCompleted)
            {
                try
                {
                    await invite.RejectAsync(500, "Server Internal Error").ConfigureAwait(false);
                }
                catch (Exception refusal) when (refusal is DrachtioException or InvalidOperationException)
                {
                    // Answered meanwhile, or the link is gone: nothing more can reach the caller.
                }
            }
        }
    }

    /// <summary>
    /// On the read loop: the caller's CANCEL names the INVITE's transaction (drachtio-server has answered both already). It
    /// is taken before anything behind it on the link, such as drachtio-server's refusal of a 200 the CANCEL crossed.
    /// Returns false for every other message.
    /// </summary>
    private bool TryTakeCancel(DrachtioMessage message)
    {
        if (!message.SipText.StartsWith("CANCEL ", StringComparison.Ordinal))
        {
            return false;
        }
        var network = new DrachtioNetworkMessage(message);
        if (network.IsUnsolicited)
        {
            return false;
        }
        if (_invites.TryRemove(network.TransactionId, out var invite) && invite.OnCanceled(DialogTerminatedBy.Remote))
        {
            DrachtioLog.InviteCanceled(_logger, invite.TransactionId);
        }
        return true;
    }

    /// <summary>The link is gone: no response can reach the callers still waiting on it.</summary>
    private void AbandonInvites(DrachtioConnection connection)
    {
        foreach (var invite in _invites.Values)
        {
            if (ReferenceEquals(invite.Connection, connection) && _invites.TryRemove(invite.TransactionId, out _))
            {
                invite.OnCanceled(DialogTerminatedBy.ConnectionLost);
            }
        }
    }

    /// <summary>On shutdown, a caller still waiting for an answer is refused (503) rather than left ringing.</summary>
    private static async Task RefuseOnShutdownAsync(IncomingInvite invite, CancellationToken ct)
    {
        try
        {
            await invite.RejectAsync(503, "Service Unavailable", [new("Reason", "SIP ;cause=503 ;text=\"shutting down\"")], ct).ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            // Answered meanwhile: its dialog is hung up with the others.
        }
    }

    /// <summary>A provisional or refusing response: <c>sip|&lt;txnId&gt;|</c> with the request's Call-ID, CSeq, From and To.</summary>
    internal async Task RespondAsync(
        IncomingInvite invite, int status, string reason, IEnumerable<KeyValuePair<string, string>>? headers, string? sdp, CancellationToken ct)
    {
        if (status >= 300)
        {
            _invites.TryRemove(invite.TransactionId, out _);
        }
        var text = ResponseTo(invite.Request, status, reason).Headers(headers).Build(sdp);
        var reply = await invite.Connection.SendRequestAsync($"sip|{invite.TransactionId}|\r\n{text}", ct).ConfigureAwait(false);
        EnsureAccepted(reply);
    }

    /// <summary>
    /// 200 OK to an INVITE. Its echo carries the dialog id and the 200 as sent (our To tag, drachtio-server's Contact);
    /// the dialog is made and registered on the read loop, before the ACK or a BYE behind the echo is dispatched.
    /// </summary>
    internal async Task<SipDialog> AcceptInviteAsync(IncomingInvite invite, string sdp, IEnumerable<KeyValuePair<string, string>>? headers)
    {
        // The INVITE stays findable until drachtio-server takes the 200: a CANCEL that crosses it must still reach the caller's side.
        var accepted = new TaskCompletionSource<SipDialog>(TaskCreationOptions.RunContinuationsAsynchronously);
        var text = ResponseTo(invite.Request, 200, "OK").Headers(headers).Build(sdp);
        await invite.Connection.SendAsync($"sip|{invite.TransactionId}|\r\n{text}", reply =>
        {
            _invites.TryRemove(invite.TransactionId, out _);
            if (!reply.IsOk)
            {
                // The caller cancelled while the 200 was on its way (its CANCEL came first), or the INVITE is gone otherwise.
                invite.OnCanceled(DialogTerminatedBy.Remote);
                accepted.TrySetException(new DrachtioRequestException(reply.FailureReason));
                return;
            }
            var sent = reply.Message.Sip;
            var dialog = SipDialog.Answered(this, invite.Connection, reply.DialogId ?? DialogIdOf(invite.Request), invite.Request, sent, sdp);
            _dialogs[dialog.Id] = dialog;
            accepted.TrySetResult(dialog);
        }, lost =>
        {
            _invites.TryRemove(invite.TransactionId, out _);
            invite.OnCanceled(DialogTerminatedBy.ConnectionLost);
            accepted.TrySetException(lost);
        }).ConfigureAwait(false);
        // Not cancellable once sent: the dialog it makes must reach its owner, who alone can end it.
        return await accepted.Task.ConfigureAwait(false);
    }

    /// <summary>drachtio-server's id of the dialog an INVITE from the network creates: its Call-ID and the caller's tag.</summary>
    internal static string DialogIdOf(SipMessage request) => $"{request.CallId};from-tag={SipAddress.GetTag(request.From)}";

    private static SipMessageBuilder ResponseTo(SipMessage request, int status, string reason) => SipMessageBuilder.Response(status, reason)
        .Header("Call-ID", request.CallId ?? string.Empty)
        .Header("CSeq", request.GetHeader("CSeq") ?? string.Empty)
        .Header("From", request.From ?? string.Empty)
        .Header("To", request.To ?? string.Empty);
}
