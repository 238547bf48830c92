using Voice.Control.Sip;

namespace Voice.Control.Drachtio;

// Outgoing calls: the INVITE client transaction as drachtio-server exposes it.
public sealed partial class DrachtioClient
{
    /// <summary>
    /// Places a call: sends INVITE to <paramref name="uri"/> and returns the confirmed dialog once the far end
    /// answers and the 2xx has been acknowledged. Provisional responses go to <see cref="UacOptions.OnProvisional"/>.
    /// </summary>
    /// <exception cref="SipFailureException">A final non-2xx response (busy, not found, unreachable…), including
    /// 487 after the ring timeout sent CANCEL, and 401/407 when the credentials were refused.</exception>
    /// <exception cref="UacCanceledException"><paramref name="ct"/> was cancelled; CANCEL went out on the wire.</exception>
    /// <exception cref="DrachtioConnectionLostException">The link to drachtio-server is down or was lost.</exception>
    public async Task<SipDialog> CreateUacAsync(string uri, UacOptions? options = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(uri);
        options ??= UacOptions.Default;
        options.Validate(uri);
        ct.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(_disposed == 1, this);
        var connection = RequireConnection();
        var target = SipUri.Parse(uri);
        var from = options.CallerId is null
            ? null
            : SipAddress.Format(options.CallerName, $"sip:{SipUri.EscapeUser(options.CallerId)}@{options.FromHost ?? target.Host}");

        using var ringTimer = options.RingTimeout is { } ring ? new CancellationTokenSource(ring, _time) : null;
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct, ringTimer?.Token ?? CancellationToken.None);
        var digest = options.Credentials is null ? null : new DigestRetry(options.Credentials, CnonceFactory);

        SipDialog? dialog = null;
        var confirmed = false;
        var linkLost = false;
        var proxy = options.Proxy;
        var request = BuildInvite(uri, options, from, retryHeaders: null);
        ClientTransaction NewTransaction() => new("INVITE") { OnAccepted = accepted => dialog = TrackDialog(dialog, connection, accepted, uri, options.LocalSdp) };
        var transaction = NewTransaction();
        try
        {
            while (true)
            {
                // The echo is awaited without ct: once the INVITE is out, cancelling means CANCEL, which needs its transaction id.
                await connection.SendAsync((proxy is null ? "sip||\r\n" : $"sip|||{proxy}\r\n") + request, transaction).ConfigureAwait(false);
                DrachtioResponse echo;
                try
                {
                    // Bounded: a drachtio-server that never takes the INVITE must not hold the call (and a shutdown) for good.
                    echo = await transaction.ReadReplyAsync(CancellationToken.None).WaitAsync(_options.TransactionTimeout, _time, CancellationToken.None).ConfigureAwait(false);
                }
                catch (TimeoutException ex)
                {
                    throw new DrachtioException($"drachtio-server did not take the INVITE to {uri} within {_options.TransactionTimeout.TotalSeconds:0.###} s", ex);
                }
                EnsureAccepted(echo);

                var (final, finalMessage, cancelSent) = await AwaitInviteFinalAsync(
                    connection, transaction, uri, response => OnProvisional(dialog!, response, options), cancel.Token).ConfigureAwait(false);
                DrachtioLog.InviteFinal(_logger, uri, final.StatusCode, final.ReasonPhrase ?? string.Empty);

                if (final.StatusCode < 300)
                {
                    await ConfirmAsync(connection, dialog!, final, uri, options, ct).ConfigureAwait(false);
                    confirmed = true;
                    if (cancelSent)
                    {
                        // Answered while our CANCEL was on its way (RFC 3261 §9.1 race): the caller gave up, so hang up.
                        DrachtioLog.AnsweredAfterCancel(_logger, uri);
                        await DestroyDialogAsync(dialog!, CancellationToken.None).ConfigureAwait(false);
                        throw CancelledOutcome(487, "Request Terminated", null, ringTimer, ct);
                    }
                    return dialog!;
                }

                if (final.StatusCode is 401 or 407 && !cancelSent && digest is not null
                    && digest.TryAnswer(final, "INVITE", uri, out var authorization))
                {
                    DrachtioLog.RetryingWithCredentials(_logger, "INVITE", uri, final.StatusCode);
                    var sent = echo.Message.Sip;
                    request = BuildInvite(uri, options, from, RetryHeaders(sent, authorization));
                    proxy = DigestRetry.ProxyForRetry(options.Proxy, new DrachtioNetworkMessage(finalMessage));
                    connection.RemoveTransaction(transaction);
                    transaction = NewTransaction();
                    continue;
                }

                if (cancelSent)
                {
                    throw CancelledOutcome(final.StatusCode, final.ReasonPhrase ?? string.Empty, final, ringTimer, ct);
                }
                throw new SipFailureException(final.StatusCode, final.ReasonPhrase ?? string.Empty, final);
            }
        }
        catch (DrachtioConnectionLostException)
        {
            linkLost = true;
            throw;
        }
        catch (TimeoutException) when (cancel.IsCancellationRequested)
        {
            // CANCEL went out but no final response came within the transaction timeout: given up all the same.
            throw CancelledOutcome(408, "Request Timeout (no final response after CANCEL)", null, ringTimer, ct);
        }
        finally
        {
            connection.RemoveTransaction(transaction);
            if (dialog is not null && !confirmed)
            {
                _dialogs.TryRemove(dialog.Id, out _);
                if (linkLost && dialog.InviteTransactionId is not null)
                {
                    // The INVITE may still be ringing at drachtio-server: CANCEL it once the link is back.
                    _orphans[dialog.Id] = dialog;
                }
                dialog.TryTerminate(
                    linkLost ? DialogTerminatedBy.ConnectionLost : DialogTerminatedBy.Local, "call not established", null, _time.GetUtcNow(), _logger);
            }
        }
    }

    /// <summary>
    /// Runs on the read loop when drachtio-server echoes the INVITE: registers the dialog under its id
    /// (<c>Call-ID;from-tag=…</c>) before any response or in-dialog request for it can be dispatched.
    /// A retry with credentials keeps Call-ID and From tag, so it reuses the dialog.
    /// </summary>
    private SipDialog TrackDialog(SipDialog? existing, DrachtioConnection connection, DrachtioResponse echo, string uri, string? localSdp)
    {
        var sent = echo.Message.Sip;
        if (existing is not null)
        {
            existing.InviteTransactionId = echo.TransactionId;
            existing.Sent(sent);
            return existing;
        }
        var callId = sent.CallId ?? string.Empty;
        var tag = SipAddress.GetTag(sent.From) ?? string.Empty;
        var dialog = new SipDialog(this, connection, $"{callId};from-tag={tag}", callId, tag, uri, sent.Contact, localSdp)
        {
            InviteTransactionId = echo.TransactionId,
            LocalAddress = sent.From,
        };
        dialog.Sent(sent);
        _dialogs[dialog.Id] = dialog;
        return dialog;
    }

    private static void OnProvisional(SipDialog dialog, SipMessage response, UacOptions options)
    {
        dialog.RemoteTag ??= SipAddress.GetTag(response.To);
        if (response.Sdp is { } earlyMedia)
        {
            dialog.RemoteSdp = earlyMedia;
        }
        options.OnProvisional?.Invoke(response);
    }

    /// <summary>
    /// Waits for the final response of an INVITE (new or re-INVITE), handing 18x to <paramref name="onProvisional"/>.
    /// If <paramref name="cancel"/> fires first, sends CANCEL and keeps waiting, bounded, for the final response
    /// that ends the transaction (487, or a 2xx that crossed the CANCEL).
    /// </summary>
    private async Task<(SipMessage Final, DrachtioMessage Message, bool CancelSent)> AwaitInviteFinalAsync(
        DrachtioConnection connection, ClientTransaction transaction, string uri, Action<SipMessage>? onProvisional, CancellationToken cancel)
    {
        var cancelSent = false;
        while (true)
        {
            DrachtioMessage message;
            try
            {
                message = cancelSent
                    ? await transaction.ReadAsync(CancellationToken.None).WaitAsync(_options.TransactionTimeout, _time, CancellationToken.None).ConfigureAwait(false)
                    : await transaction.ReadAsync(cancel).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancelSent && cancel.IsCancellationRequested)
            {
                cancelSent = true;
                DrachtioLog.SendingCancel(_logger, uri);
                await SendCancelAsync(connection, transaction.TransactionId!, uri).ConfigureAwait(false);
                continue;
            }

            var response = message.Sip;
            if (response.StatusCode >= 200)
            {
                return (response, message, cancelSent);
            }
            if (response.StatusCode > 100)
            {
                onProvisional?.Invoke(response);
            }
        }
    }

    /// <summary>ACK the 2xx (with our answer when the INVITE carried no offer) and confirm the dialog.</summary>
    private async Task ConfirmAsync(DrachtioConnection connection, SipDialog dialog, SipMessage final, string uri, UacOptions options, CancellationToken ct)
    {
        var remoteSdp = final.Sdp;
        string? answer = null;
        Exception? failed = null;
        if (options.LocalSdp is null && remoteSdp is not null && options.AnswerOffer is not null)
        {
            try
            {
                answer = await options.AnswerOffer(remoteSdp, ct).ConfigureAwait(false);
                dialog.LocalSdp = answer;
            }
            catch (Exception ex)
            {
                failed = ex;
            }
        }
        dialog.InviteTransactionId = null;
        dialog.Confirm(final, remoteSdp);
        await SendAckAsync(connection, dialog.Id, uri, answer).ConfigureAwait(false);
        if (failed is not null)
        {
            // A 2xx must be acknowledged even without an answer to give; then the call cannot go on.
            await DestroyDialogAsync(dialog, CancellationToken.None).ConfigureAwait(false);
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failed);
        }
    }

    private static Exception CancelledOutcome(int status, string reason, SipMessage? response, CancellationTokenSource? ringTimer, CancellationToken ct) =>
        ct.IsCancellationRequested || ringTimer is not { IsCancellationRequested: true }
            ? new UacCanceledException(status, reason, ct)
            : new SipFailureException(status, reason, response, ringTimeout: true);

    private static string BuildInvite(string uri, UacOptions options, string? from, IEnumerable<KeyValuePair<string, string>>? retryHeaders)
    {
        var builder = SipMessageBuilder.Request("INVITE", uri);
        if (retryHeaders is not null)
        {
            builder.Headers(retryHeaders);
        }
        else if (from is not null)
        {
            builder.Header("From", from);
        }
        return builder.Headers(options.Headers).Build(options.LocalSdp);
    }

    /// <summary>
    /// A retry with credentials is a new request in the same dialog-to-be: same Call-ID and From tag,
    /// CSeq + 1 (RFC 3261 §22.2), and the credentials.
    /// </summary>
    private static KeyValuePair<string, string>[] RetryHeaders(SipMessage sent, KeyValuePair<string, string> authorization)
    {
        var cseq = sent.CSeq ?? throw new DrachtioProtocolException("drachtio-server echoed a request without CSeq");
        return
        [
            new("CSeq", new SipCSeq(cseq.Number + 1, cseq.Method).ToString()),
            new("Call-ID", sent.CallId ?? throw new DrachtioProtocolException("drachtio-server echoed a request without Call-ID")),
            new("From", sent.From ?? throw new DrachtioProtocolException("drachtio-server echoed a request without From")),
            authorization,
        ];
    }
}
