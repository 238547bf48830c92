using Voice.Control.Sip;

namespace Voice.Control.Drachtio;

/// <summary>
/// An INVITE from the network that drachtio-server routed to this client (<see cref="DrachtioClient.AcceptInvites"/>),
/// from its arrival to its one final response. Whoever handles it owns it: it rings (<see cref="RingAsync"/>), then
/// answers (<see cref="AcceptAsync"/>) or refuses (<see cref="RejectAsync"/>), unless the caller cancels first
/// (<see cref="Canceled"/>), in which case drachtio-server has already answered 487.
/// </summary>
public sealed class IncomingInvite
{
    private readonly DrachtioClient _client;
    private readonly TaskCompletionSource<DialogTerminatedBy> _canceled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _final;

    internal IncomingInvite(DrachtioClient client, DrachtioConnection connection, DrachtioNetworkMessage network, SipMessage request)
    {
        _client = client;
        Connection = connection;
        Request = request;
        TransactionId = network.TransactionId;
        SourceAddress = network.Address;
        SourcePort = network.Port;
    }

    /// <summary>The INVITE as drachtio-server received it.</summary>
    public SipMessage Request { get; }

    /// <summary>The server transaction's id at drachtio-server: responses and the caller's CANCEL name it.</summary>
    public string TransactionId { get; }

    /// <summary>The address the INVITE came from (the previous hop: the PBX, a proxy, the phone).</summary>
    public string SourceAddress { get; }

    public int SourcePort { get; }

    /// <summary>The caller's SDP offer; null for an INVITE without one (the offer is then ours, in the 200 OK).</summary>
    public string? Offer => Request.Sdp;

    /// <summary>
    /// Completes before the final response when the caller cancels (<see cref="DialogTerminatedBy.Remote"/>: drachtio-server
    /// has answered the CANCEL 200 and the INVITE 487) or the link to drachtio-server is lost
    /// (<see cref="DialogTerminatedBy.ConnectionLost"/>), after which no response can reach the caller.
    /// </summary>
    public Task<DialogTerminatedBy> Canceled => _canceled.Task;

    /// <summary>Whether a final response went out (or is going out).</summary>
    public bool IsAnswered => Volatile.Read(ref _final) == 1;

    internal DrachtioConnection Connection { get; }

    /// <summary>Tells the caller it rings (180 Ringing, or another 1xx).</summary>
    /// <exception cref="DrachtioException">drachtio-server refused it (the INVITE is gone) or the link is down.</exception>
    public Task RingAsync(int status = 180, string reason = "Ringing", CancellationToken ct = default)
    {
        if (status is < 101 or > 199)
        {
            throw new ArgumentOutOfRangeException(nameof(status), status, "a provisional response is 101–199");
        }
        return _client.RespondAsync(this, status, reason, null, null, ct);
    }

    /// <summary>
    /// Answers 200 OK with <paramref name="sdp"/> (the answer to <see cref="Offer"/>, or our offer when there was none) and
    /// returns the confirmed dialog, registered before any request in it can arrive. drachtio-server adds the To tag and
    /// Contact, and repeats the 200 until the caller's ACK (<see cref="SipDialog.Acknowledged"/>) or ends the dialog with a BYE.
    /// </summary>
    /// <remarks>Not cancellable: once the 200 is sent, only the dialog it makes can end the call.</remarks>
    /// <exception cref="InvalidOperationException">A final response was already sent.</exception>
    /// <exception cref="DrachtioException">drachtio-server refused it (the caller cancelled meanwhile) or the link is down.</exception>
    public Task<SipDialog> AcceptAsync(string sdp, IEnumerable<KeyValuePair<string, string>>? headers = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(sdp);
        var checkedHeaders = Checked(headers);
        TakeFinal();
        return _client.AcceptInviteAsync(this, sdp, checkedHeaders);
    }

    /// <summary>Refuses with a final status (3xx–6xx), and headers such as <c>Reason</c> or <c>Retry-After</c>.</summary>
    /// <exception cref="InvalidOperationException">A final response was already sent.</exception>
    /// <exception cref="DrachtioException">drachtio-server refused it (the caller cancelled meanwhile) or the link is down.</exception>
    public Task RejectAsync(int status, string reason, IEnumerable<KeyValuePair<string, string>>? headers = null, CancellationToken ct = default)
    {
        if (status is < 300 or > 699)
        {
            throw new ArgumentOutOfRangeException(nameof(status), status, "a refusal is a final status 300–699");
        }
        SipHeaderNames.ValidateValue("reason phrase", reason);
        var checkedHeaders = Checked(headers);
        TakeFinal();
        return _client.RespondAsync(this, status, reason, checkedHeaders, null, ct);
    }

    /// <summary>
    /// Marks the caller gone before drachtio-server took a final response: CANCEL (also one that crossed our 200), or the
    /// link lost. Returns whether this was news.
    /// </summary>
    internal bool OnCanceled(DialogTerminatedBy by) => _canceled.TrySetResult(by);

    private void TakeFinal()
    {
        if (Interlocked.Exchange(ref _final, 1) == 1)
        {
            throw new InvalidOperationException($"INVITE {TransactionId} already has its final response.");
        }
    }

    private static List<KeyValuePair<string, string>>? Checked(IEnumerable<KeyValuePair<string, string>>? headers)
    {
        if (headers is null)
        {
            return null;
        }
        var list = headers.ToList();
        foreach (var (name, value) in list)
        {
            SipHeaderNames.ValidateCustomHeader(name, value);
        }
        return list;
    }

    public override string ToString() => $"INVITE {Request.RequestUri} from {SipAddress.GetUri(Request.From ?? string.Empty)} ({TransactionId})";
}
