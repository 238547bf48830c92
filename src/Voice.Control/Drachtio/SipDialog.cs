using Microsoft.Extensions.Logging;
using Voice.Control.Sip;

namespace Voice.Control.Drachtio;

/// <summary>
/// A SIP dialog created by an INVITE this client sent, or by its 200 OK to one that came in
/// (<see cref="IncomingInvite.AcceptAsync"/>). drachtio-server keeps the dialog's routing state (target, route set,
/// CSeq); the dialog id (<c>Call-ID;from-tag=…</c>, the tag of whoever sent the INVITE) addresses it on the control link.
/// </summary>
public sealed class SipDialog
{
    private readonly DrachtioClient _client;
    // Completed outside the state lock, after Destroyed's handlers: what awaits the end continues on the thread that
    // ended the dialog (the read loop, for a BYE either way) instead of waking a pool thread.
    private readonly TaskCompletionSource<DialogDestroyedEventArgs> _terminated = new();
    private readonly TaskCompletionSource<SipMessage> _acknowledged = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _stateLock = new();
    private DialogState _state = DialogState.Early;

    internal SipDialog(DrachtioClient client, DrachtioConnection connection, string id, string callId, string localTag, string requestUri, string? localContact, string? localSdp)
    {
        _client = client;
        Connection = connection;
        Id = id;
        CallId = callId;
        LocalTag = localTag;
        RequestUri = requestUri;
        LocalContact = localContact;
        LocalSdp = localSdp;
    }

    /// <summary>
    /// Our 200 OK to an INVITE that came in made the dialog: confirmed at once, the INVITE's From is the far end, the caller's
    /// Contact the target, its Record-Route (in order) the route set, and the To of the 200 as sent, with our tag, is ours.
    /// </summary>
    internal static SipDialog Answered(DrachtioClient client, DrachtioConnection connection, string id, SipMessage invite, SipMessage sent, string localSdp)
    {
        var dialog = new SipDialog(client, connection, id, invite.CallId ?? string.Empty, SipAddress.GetTag(sent.To) ?? string.Empty,
            invite.RequestUri ?? string.Empty, sent.Contact, localSdp)
        {
            IsIncoming = true,
            RemoteTag = SipAddress.GetTag(invite.From),
            RemoteTarget = invite.Contact is { } contact ? SipAddress.GetUri(contact) : null,
            RemoteSdp = invite.Sdp,
            FinalResponse = sent,
            LocalAddress = sent.To,
            RemoteAddress = invite.From,
            RouteSet = [.. invite.GetHeaders("Record-Route").SelectMany(SipAddress.SplitList)],
        };
        dialog._state = DialogState.Confirmed;
        return dialog;
    }

    /// <summary>The drachtio dialog id: <c>Call-ID;from-tag=&lt;the INVITE's From tag&gt;</c> (ours for a call we placed).</summary>
    public string Id { get; }

    /// <summary>Whether the far end sent the INVITE (a call that came in) rather than us.</summary>
    public bool IsIncoming { get; private init; }

    /// <summary>
    /// For a dialog that came in: completes with the caller's ACK of our 200 OK (its SDP is the answer when the INVITE
    /// made no offer). drachtio-server repeats the 200 until it comes, and ends the dialog with a BYE when it never does.
    /// </summary>
    public Task<SipMessage> Acknowledged => _acknowledged.Task;

    /// <summary>
    /// Answers an offer the far end makes inside the dialog (a re-INVITE or UPDATE with SDP: a hold, a new address), such as
    /// by passing it to the media server; its result is our answer. Null, or when it fails: the offer is answered with the SDP
    /// we sent last (a session refresh), or 488 when we have none.
    /// </summary>
    public Func<string, CancellationToken, Task<string>>? AnswerOffer { get; set; }

    public string CallId { get; }

    public string LocalTag { get; }

    public string? RemoteTag { get; internal set; }

    /// <summary>The Request-URI of the INVITE that created the dialog.</summary>
    public string RequestUri { get; }

    /// <summary>The far end's Contact URI (from the 2xx, or the INVITE that came in): the target of requests in the dialog.</summary>
    public string? RemoteTarget { get; internal set; }

    public DialogState State
    {
        get
        {
            lock (_stateLock)
            {
                return _state;
            }
        }
    }

    /// <summary>The SDP we offered or answered most recently.</summary>
    public string? LocalSdp { get; internal set; }

    /// <summary>The far end's SDP from the 2xx (or a 183 before it), updated by re-INVITEs.</summary>
    public string? RemoteSdp { get; internal set; }

    /// <summary>The 2xx that confirmed the dialog (for a dialog that came in: ours, as drachtio-server sent it).</summary>
    public SipMessage? FinalResponse { get; internal set; }

    /// <summary>
    /// Completes when the dialog ends, with who ended it and why, after the <see cref="Destroyed"/> handlers; safe to
    /// await after it ended. Code awaiting it continues on the thread that ended the dialog (the read loop, for a BYE
    /// either way) and must not block.
    /// </summary>
    public Task<DialogDestroyedEventArgs> Terminated => _terminated.Task;

    /// <summary>Raised once when the dialog ends.</summary>
    public event EventHandler<DialogDestroyedEventArgs>? Destroyed;

    /// <summary>Raised after the client answered a request the far end sent in this dialog.</summary>
    public event EventHandler<SipRequestReceivedEventArgs>? RequestReceived;

    internal DrachtioConnection Connection { get; }

    internal string? LocalContact { get; }

    /// <summary>Serializes re-INVITEs: one INVITE transaction per dialog at a time.</summary>
    internal SemaphoreSlim InviteLock { get; } = new(1, 1);

    /// <summary>The stack transaction id of the INVITE while it is unanswered, for a CANCEL.</summary>
    internal string? InviteTransactionId { get; set; }

    // The dialog state RFC 3261 §12.1.2 has the UAC keep. drachtio-server keeps it too, and addresses requests by
    // dialog id; ours is for the one case it cannot: the server restarted and forgot the dialog, and the far end's
    // leg must still be ended (SendByeFromStateAsync).

    /// <summary>Our From, tag included, as drachtio-server sent it.</summary>
    internal string? LocalAddress { get; set; }

    /// <summary>The far end's To from the 2xx, with its tag.</summary>
    internal string? RemoteAddress { get; set; }

    /// <summary>The 2xx's Record-Route, reversed: the route set requests in the dialog follow.</summary>
    internal IReadOnlyList<string> RouteSet { get; private set; } = [];

    /// <summary>The highest CSeq number drachtio-server used for a request of ours in the dialog.</summary>
    internal long LocalCSeq { get; private set; }

    /// <summary>Notes the CSeq of a request drachtio-server echoed as sent in this dialog.</summary>
    internal void Sent(SipMessage request)
    {
        if (request.CSeq is { } cseq)
        {
            lock (_stateLock)
            {
                LocalCSeq = Math.Max(LocalCSeq, cseq.Number);
            }
        }
    }

    /// <summary>Sends a re-INVITE with new SDP and returns the far end's SDP from its 2xx.</summary>
    /// <exception cref="SipFailureException">The far end refused (the dialog stays up, unless it answered 481 or 408).</exception>
    public Task<string?> ModifyAsync(string sdp, CancellationToken ct = default) => _client.ModifyDialogAsync(this, sdp, ct);

    /// <summary>Hangs up with BYE. Idempotent: calling it on an ended dialog does nothing.</summary>
    public Task DestroyAsync(CancellationToken ct = default) => _client.DestroyDialogAsync(this, ct);

    internal void Confirm(SipMessage response, string? remoteSdp)
    {
        lock (_stateLock)
        {
            if (_state == DialogState.Early)
            {
                _state = DialogState.Confirmed;
            }
        }
        FinalResponse = response;
        RemoteTag = SipAddress.GetTag(response.To);
        RemoteAddress = response.To;
        RouteSet = [.. response.GetHeaders("Record-Route").SelectMany(SipAddress.SplitList).Reverse()];
        if (response.Contact is { } contact)
        {
            RemoteTarget = SipAddress.GetUri(contact);
        }
        RemoteSdp = remoteSdp ?? RemoteSdp;
    }

    /// <summary>Moves to Terminated once; the first caller's reason wins and raises <see cref="Destroyed"/>.</summary>
    internal bool TryTerminate(DialogTerminatedBy by, string reason, SipMessage? request, DateTimeOffset at, ILogger logger)
    {
        lock (_stateLock)
        {
            if (_state == DialogState.Terminated)
            {
                return false;
            }
            _state = DialogState.Terminated;
        }
        var args = new DialogDestroyedEventArgs(by, reason, request, at);
        DrachtioLog.DialogTerminated(logger, Id, by, reason);
        Raise(Destroyed, args, logger);
        _terminated.TrySetResult(args);
        return true;
    }

    internal void OnAcknowledged(SipMessage ack)
    {
        if (ack.Sdp is { } answer && LocalSdp is not null && RemoteSdp is null)
        {
            RemoteSdp = answer;
        }
        _acknowledged.TrySetResult(ack);
    }

    internal void OnRequestReceived(SipRequestReceivedEventArgs args, ILogger logger) => Raise(RequestReceived, args, logger);

    private void Raise<T>(EventHandler<T>? handler, T args, ILogger logger)
    {
        try
        {
            handler?.Invoke(this, args);
        }
        catch (Exception ex)
        {
            // A failing subscriber must not break the client's own bookkeeping.
            logger.LogError(ex, "A {Event} handler of dialog {DialogId} threw", typeof(T).Name, Id);
        }
    }

    public override string ToString() => $"{Id} ({State})";
}
