using Microsoft.Extensions.Logging;
using Voice.Control.Sip;

namespace Voice.Control.Drachtio;

// Dialog control: requests from the far end, BYE and re-INVITE from us.
public sealed partial class DrachtioClient
{
    /// <summary>
    /// Called on the read loop for every SIP message no transaction claimed: requests from the network and
    /// messages drachtio-server generated itself. The work happens off the loop.
    /// </summary>
    private void OnMessage(DrachtioConnection connection, DrachtioMessage message)
    {
        if (message.SipText.StartsWith("SIP/2.0 "))
        {
            // A response no transaction waits for: a retransmitted 2xx after our ACK, or one for a request we gave up on.
            DrachtioLog.MessageIgnored(_logger, message.ToString());
            return;
        }
        if (TryTakeInvite(connection, message) || TryTakeCancel(message))
        {
            return;
        }
        _ = Task.Run(() => HandleRequestAsync(connection, message));
    }

    private async Task HandleRequestAsync(DrachtioConnection connection, DrachtioMessage message)
    {
        SipMessage request;
        try
        {
            request = message.Sip;
        }
        catch (DrachtioProtocolException ex)
        {
            DrachtioLog.UnparsableRequest(_logger, ex.Message);
            return;
        }
        var network = new DrachtioNetworkMessage(message);
        var dialogId = network.DialogId.ToString();
        _dialogs.TryGetValue(dialogId, out var dialog);

        if (network.IsUnsolicited)
        {
            // drachtio-server ended the dialog by itself (a BYE after our ACK went missing): nothing to answer.
            if (dialog is not null && request.Method == "BYE")
            {
                _dialogs.TryRemove(dialog.Id, out _);
                dialog.TryTerminate(DialogTerminatedBy.Remote, "drachtio-server ended the dialog", request, _time.GetUtcNow(), _logger);
            }
            return;
        }
        if (request.Method == "ACK")
        {
            // The ACK of our 200 to an INVITE that came in, or of one to a re-INVITE: no response either way.
            dialog?.OnAcknowledged(request);
            return;
        }
        if (dialog is null)
        {
            if (dialogId.Length > 0)
            {
                DrachtioLog.UnknownDialog(_logger, request.Method!, dialogId);
                await AnswerAsync(connection, network.TransactionId, request, 481, "Call/Transaction Does Not Exist", dialogId).ConfigureAwait(false);
            }
            else
            {
                // Only INVITEs are routed to this client, and only when it accepts them.
                await AnswerAsync(connection, network.TransactionId, request, 501, "Not Implemented", dialogId).ConfigureAwait(false);
            }
            return;
        }

        var status = await AnswerInDialogAsync(connection, network.TransactionId, dialog, request).ConfigureAwait(false);
        if (request.Method == "BYE")
        {
            _dialogs.TryRemove(dialog.Id, out _);
            dialog.TryTerminate(DialogTerminatedBy.Remote, "BYE from the far end", request, _time.GetUtcNow(), _logger);
        }
        dialog.OnRequestReceived(new SipRequestReceivedEventArgs(request, status), _logger);
    }

    private async Task<int> AnswerInDialogAsync(DrachtioConnection connection, string transactionId, SipDialog dialog, SipMessage request)
    {
        switch (request.Method)
        {
            case "BYE":
            case "INFO":
            case "OPTIONS":
            case "NOTIFY":
            case "MESSAGE":
            case "PRACK":
                await AnswerAsync(connection, transactionId, request, 200, "OK", dialog.Id).ConfigureAwait(false);
                return 200;
            case "INVITE":
            case "UPDATE":
                // A change from the far end goes to whoever answers offers in the dialog; a session refresh (or a failed
                // change) is answered with our SDP, unchanged.
                if (request.Sdp is { } sdp)
                {
                    dialog.RemoteSdp = sdp;
                    if (dialog.AnswerOffer is { } answerOffer)
                    {
                        try
                        {
                            dialog.LocalSdp = await answerOffer(sdp, _stopping.Token).ConfigureAwait(false);
                        }
                        catch (Exception ex)
                        {
                            DrachtioLog.OfferNotAnswered(_logger, request.Method!, dialog.Id, ex.Message);
                        }
                    }
                }
                if (dialog.LocalSdp is null)
                {
                    await AnswerAsync(connection, transactionId, request, 488, "Not Acceptable Here", dialog.Id).ConfigureAwait(false);
                    return 488;
                }
                await AnswerAsync(connection, transactionId, request, 200, "OK", dialog.Id, dialog.LocalContact, dialog.LocalSdp).ConfigureAwait(false);
                return 200;
            default:
                await AnswerAsync(connection, transactionId, request, 501, "Not Implemented", dialog.Id).ConfigureAwait(false);
                return 501;
        }
    }

    /// <summary>
    /// Answers a request from the network: <c>sip|&lt;txnId&gt;|</c> with status line, Call-ID, CSeq, From, To
    /// and Content-Length — drachtio-server adds Via and the rest.
    /// </summary>
    private async Task AnswerAsync(
        DrachtioConnection connection, string transactionId, SipMessage request, int status, string reason, string dialogId,
        string? contact = null, string? sdp = null)
    {
        var builder = ResponseTo(request, status, reason);
        if (contact is not null)
        {
            builder.Header("Contact", contact);
        }
        try
        {
            var reply = await connection.SendRequestAsync($"sip|{transactionId}|\r\n{builder.Build(sdp)}").ConfigureAwait(false);
            if (!reply.IsOk)
            {
                DrachtioLog.AnswerFailed(_logger, request.Method!, dialogId, reply.FailureReason);
            }
        }
        catch (DrachtioException ex)
        {
            DrachtioLog.AnswerFailed(_logger, request.Method!, dialogId, ex.Message);
        }
    }

    internal async Task<string?> ModifyDialogAsync(SipDialog dialog, string sdp, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrEmpty(sdp);
        if (dialog.State != DialogState.Confirmed)
        {
            throw new InvalidOperationException($"Dialog {dialog.Id} is {dialog.State}; only a confirmed dialog can be modified.");
        }
        var connection = dialog.Connection;
        // RFC 3261 §14.1: no new re-INVITE while another INVITE transaction of the dialog is in progress.
        await dialog.InviteLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var invite = SipMessageBuilder.Request("INVITE", "sip:placeholder");
            if (dialog.LocalContact is not null)
            {
                invite.Header("Contact", dialog.LocalContact);
            }
            var transaction = new ClientTransaction("INVITE");
            await connection.SendAsync($"sip||{dialog.Id}\r\n{invite.Build(sdp)}", transaction).ConfigureAwait(false);
            SipMessage final;
            try
            {
                var echo = await transaction.ReadReplyAsync(CancellationToken.None).ConfigureAwait(false);
                EnsureAccepted(echo);
                dialog.Sent(echo.Message.Sip);
                var requestUri = echo.Message.Sip.RequestUri!;
                (final, _, _) = await AwaitInviteFinalAsync(connection, transaction, requestUri, onProvisional: null, ct).ConfigureAwait(false);
            }
            finally
            {
                connection.RemoveTransaction(transaction);
            }

            if (final.StatusCode is >= 200 and < 300)
            {
                await SendAckAsync(connection, dialog.Id, dialog.RemoteTarget ?? dialog.RequestUri, null).ConfigureAwait(false);
                dialog.LocalSdp = sdp;
                dialog.RemoteSdp = final.Sdp ?? dialog.RemoteSdp;
                ct.ThrowIfCancellationRequested();
                return dialog.RemoteSdp;
            }
            ct.ThrowIfCancellationRequested();
            if (final.StatusCode is 481 or 408)
            {
                // RFC 3261 §12.2.1.2: the dialog no longer exists at the far end.
                _dialogs.TryRemove(dialog.Id, out _);
                dialog.TryTerminate(DialogTerminatedBy.Remote, $"re-INVITE answered {final.StatusCode} {final.ReasonPhrase}", null, _time.GetUtcNow(), _logger);
            }
            throw new SipFailureException(final.StatusCode, final.ReasonPhrase ?? string.Empty, final);
        }
        finally
        {
            dialog.InviteLock.Release();
        }
    }

    internal async Task DestroyDialogAsync(SipDialog dialog, CancellationToken ct)
    {
        if (!dialog.TryTerminate(DialogTerminatedBy.Local, "hung up by the application", null, _time.GetUtcNow(), _logger))
        {
            return;
        }
        _dialogs.TryRemove(dialog.Id, out _);
        try
        {
            var bye = await SendInDialogAsync(dialog.Connection, dialog, "BYE", SipMessageBuilder.Request("BYE", "sip:placeholder").Build(), ct)
                .ConfigureAwait(false);
            if (bye.StatusCode >= 300)
            {
                // 481/408: the far end had already forgotten the call. Either way the dialog is over.
                _logger.LogDebug("BYE in dialog {DialogId} answered {Status} {Reason}", dialog.Id, bye.StatusCode, bye.ReasonPhrase);
            }
        }
        catch (DrachtioConnectionLostException)
        {
            // The link went down under us: hang up as soon as it is back.
            _orphans[dialog.Id] = dialog;
        }
        catch (Exception ex) when (ex is TimeoutException || (ex is OperationCanceledException && !ct.IsCancellationRequested))
        {
            // No final response within the transaction timeout: the dialog is over on our side all the same.
            _logger.LogDebug("BYE in dialog {DialogId} got no final response: {Error}", dialog.Id, ex.Message);
        }
    }

    /// <summary>Sends a request inside a dialog and returns its final response (bounded by the transaction timeout).</summary>
    private async Task<SipMessage> SendInDialogAsync(DrachtioConnection connection, SipDialog dialog, string method, string sipText, CancellationToken ct)
    {
        var transaction = new ClientTransaction(method);
        await connection.SendAsync($"sip||{dialog.Id}\r\n{sipText}", transaction).ConfigureAwait(false);
        try
        {
            var echo = await transaction.ReadReplyAsync(ct).WaitAsync(_options.TransactionTimeout, _time, ct).ConfigureAwait(false);
            EnsureAccepted(echo);
            dialog.Sent(echo.Message.Sip);
            return (await AwaitFinalResponseAsync(transaction, ct).ConfigureAwait(false)).Sip;
        }
        finally
        {
            connection.RemoveTransaction(transaction);
        }
    }

    /// <summary>
    /// A BYE for a dialog drachtio-server no longer knows (it restarted under a call), built from the state we kept
    /// (RFC 3261 §12.2.1.1): to the remote target, with the dialog's Call-ID, our From with its tag, the far end's To
    /// with its tag and the next CSeq, sent as a new request so the server's stack needs no dialog. drachtio-server
    /// lets no client set Route, so a route set is honoured by sending through its first hop as the outbound proxy.
    /// </summary>
    private async Task<SipMessage> SendByeFromStateAsync(DrachtioConnection connection, SipDialog dialog)
    {
        if (dialog.LocalAddress is not { } from || dialog.RemoteAddress is not { } to)
        {
            throw new InvalidOperationException($"dialog {dialog.Id} was never confirmed; there is no dialog state to build a BYE from");
        }
        var bye = SipMessageBuilder.Request("BYE", dialog.RemoteTarget ?? dialog.RequestUri)
            .Header("Call-ID", dialog.CallId)
            .Header("From", from)
            .Header("To", to)
            .Header("CSeq", new SipCSeq(dialog.LocalCSeq + 1, "BYE").ToString())
            .Build();
        var proxy = dialog.RouteSet.Count > 0 ? SipAddress.GetUri(dialog.RouteSet[0]) : null;
        var transaction = new ClientTransaction("BYE");
        await connection.SendAsync((proxy is null ? "sip||\r\n" : $"sip|||{proxy}\r\n") + bye, transaction).ConfigureAwait(false);
        try
        {
            var echo = await transaction.ReadReplyAsync(CancellationToken.None).WaitAsync(_options.TransactionTimeout, _time).ConfigureAwait(false);
            EnsureAccepted(echo);
            return (await AwaitFinalResponseAsync(transaction, CancellationToken.None).ConfigureAwait(false)).Sip;
        }
        finally
        {
            connection.RemoveTransaction(transaction);
        }
    }

    /// <summary>
    /// ACK for a 2xx, addressed by dialog id; drachtio-server completes it. Never sent for a non-2xx. ACK has no
    /// response, so nothing waits for drachtio-server's echo: once it is written the call goes on, and a refusal
    /// (the dialog vanished at drachtio-server) is logged — the BYE that follows then meets the same fate.
    /// </summary>
    private Task SendAckAsync(DrachtioConnection connection, string dialogId, string requestUri, string? sdp)
    {
        var ack = SipMessageBuilder.Request("ACK", requestUri).Build(sdp);
        return connection.SendAsync($"sip||{dialogId}\r\n{ack}", reply =>
        {
            if (!reply.IsOk)
            {
                DrachtioLog.AckRefused(_logger, dialogId, reply.FailureReason);
            }
        });
    }

    /// <summary>
    /// CANCEL names the INVITE by its stack transaction id and repeats its Request-URI (RFC 3261 §9.1). drachtio-server's
    /// reply is awaited no longer than a transaction lasts: the INVITE's final response (also bounded) decides what follows.
    /// </summary>
    private async Task SendCancelAsync(DrachtioConnection connection, string inviteTransactionId, string requestUri)
    {
        var cancel = SipMessageBuilder.Request("CANCEL", requestUri).Build();
        DrachtioResponse reply;
        try
        {
            reply = await connection.SendRequestAsync($"sip|{inviteTransactionId}|\r\n{cancel}").WaitAsync(_options.TransactionTimeout, _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            _logger.LogWarning("drachtio-server did not acknowledge CANCEL for {TransactionId} within {Timeout}", inviteTransactionId, _options.TransactionTimeout);
            return;
        }
        if (!reply.IsOk)
        {
            // The INVITE completed in the meantime; its final response is on its way.
            _logger.LogDebug("drachtio-server refused CANCEL for {TransactionId}: {Reason}", inviteTransactionId, reply.FailureReason);
        }
    }

    /// <summary>
    /// Waits for the final response of a non-INVITE (or already cancelled) transaction, bounded by
    /// <see cref="DrachtioClientOptions.TransactionTimeout"/>; provisional responses are passed over.
    /// </summary>
    internal async Task<DrachtioMessage> AwaitFinalResponseAsync(ClientTransaction transaction, CancellationToken ct)
    {
        using var timeout = new CancellationTokenSource(_options.TransactionTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, timeout.Token);
        while (true)
        {
            var message = await transaction.ReadAsync(linked.Token).ConfigureAwait(false);
            if (message.Sip.StatusCode >= 200)
            {
                return message;
            }
        }
    }

    internal static void EnsureAccepted(DrachtioResponse reply)
    {
        if (!reply.IsOk)
        {
            throw new DrachtioRequestException(reply.FailureReason);
        }
    }
}
