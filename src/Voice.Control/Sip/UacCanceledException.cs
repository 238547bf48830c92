namespace Voice.Control.Sip;

/// <summary>
/// The caller cancelled an outgoing INVITE. CANCEL went out on the wire and the INVITE ended with
/// <see cref="StatusCode"/> (487 Request Terminated, normally).
/// </summary>
public sealed class UacCanceledException(int statusCode, string reasonPhrase, CancellationToken token)
    : OperationCanceledException($"the INVITE was cancelled ({statusCode} {reasonPhrase})", token)
{
    public int StatusCode { get; } = statusCode;

    public string ReasonPhrase { get; } = reasonPhrase;
}
