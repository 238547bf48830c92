using Microsoft.Extensions.Logging;

namespace Voice.Control.Drachtio;

internal static partial class DrachtioLog
{
    // Raw frames carry SIP and SDP: Trace only.
    [LoggerMessage(1, LogLevel.Trace, "drachtio ==> {Frame}")]
    public static partial void FrameSent(ILogger logger, string frame);

    [LoggerMessage(2, LogLevel.Trace, "drachtio <== {Frame}")]
    public static partial void FrameReceived(ILogger logger, string frame);

    [LoggerMessage(3, LogLevel.Information, "Connected to drachtio-server {Version} (SIP {SipAddresses})")]
    public static partial void Connected(ILogger logger, string version, string sipAddresses);

    [LoggerMessage(4, LogLevel.Warning, "Lost the connection to drachtio-server: {Reason}")]
    public static partial void ConnectionLost(ILogger logger, string reason);

    [LoggerMessage(EventId = 5, Message = "Could not connect to drachtio-server at {Endpoint}: {Reason}; retrying in {Delay}")]
    public static partial void ConnectFailed(ILogger logger, LogLevel level, string endpoint, string reason, TimeSpan delay);

    [LoggerMessage(6, LogLevel.Error, "drachtio-server at {Endpoint} refused the secret ({Reason}); not reconnecting")]
    public static partial void AuthenticationFailed(ILogger logger, string endpoint, string reason);

    [LoggerMessage(7, LogLevel.Warning, "drachtio-server did not answer a ping within {Timeout}; declaring the link dead")]
    public static partial void PingTimedOut(ILogger logger, TimeSpan timeout);

    [LoggerMessage(8, LogLevel.Error, "Protocol error from drachtio-server, closing the connection: {Error}")]
    public static partial void ProtocolError(ILogger logger, string error);

    [LoggerMessage(9, LogLevel.Error, "The drachtio read loop failed; closing the connection")]
    public static partial void ReadLoopFailed(ILogger logger, Exception exception);

    [LoggerMessage(10, LogLevel.Debug, "Ignoring drachtio message {Message}")]
    public static partial void MessageIgnored(ILogger logger, string message);

    [LoggerMessage(11, LogLevel.Debug, "Reply for request {RequestId}, which is no longer waiting")]
    public static partial void UnmatchedReply(ILogger logger, string requestId);

    [LoggerMessage(12, LogLevel.Debug, "Dialog {DialogId} ended by {By}: {Reason}")]
    public static partial void DialogTerminated(ILogger logger, string dialogId, DialogTerminatedBy by, string reason);

    [LoggerMessage(13, LogLevel.Warning, "{Method} for unknown dialog {DialogId}; answering 481")]
    public static partial void UnknownDialog(ILogger logger, string method, string dialogId);

    [LoggerMessage(14, LogLevel.Warning, "Could not answer {Method} in dialog {DialogId}: {Reason}")]
    public static partial void AnswerFailed(ILogger logger, string method, string dialogId, string reason);

    [LoggerMessage(15, LogLevel.Information, "Hanging up dialog {DialogId}, orphaned when the link to drachtio-server was lost")]
    public static partial void HangingUpOrphan(ILogger logger, string dialogId);

    [LoggerMessage(16, LogLevel.Warning, "Could not hang up orphaned dialog {DialogId}: {Reason}")]
    public static partial void OrphanHangupFailed(ILogger logger, string dialogId, string reason);

    [LoggerMessage(17, LogLevel.Debug, "INVITE {Uri} answered {Status} {Reason}")]
    public static partial void InviteFinal(ILogger logger, string uri, int status, string reason);

    [LoggerMessage(18, LogLevel.Information, "Sending CANCEL for INVITE {Uri}")]
    public static partial void SendingCancel(ILogger logger, string uri);

    [LoggerMessage(19, LogLevel.Warning, "INVITE {Uri} was answered after it was cancelled; acknowledging and hanging up")]
    public static partial void AnsweredAfterCancel(ILogger logger, string uri);

    [LoggerMessage(20, LogLevel.Information, "Retrying {Method} {Uri} with credentials after {Status}")]
    public static partial void RetryingWithCredentials(ILogger logger, string method, string uri, int status);

    [LoggerMessage(21, LogLevel.Information, "Registered {Aor} with {Registrar} for {Expires}s")]
    public static partial void Registered(ILogger logger, string aor, string registrar, int expires);

    [LoggerMessage(22, LogLevel.Warning, "Registration of {Aor} with {Registrar} failed: {Reason}; retrying in {Delay}")]
    public static partial void RegistrationFailed(ILogger logger, string aor, string registrar, string reason, TimeSpan delay);

    [LoggerMessage(23, LogLevel.Information, "Unregistered {Aor} from {Registrar}")]
    public static partial void Unregistered(ILogger logger, string aor, string registrar);

    [LoggerMessage(24, LogLevel.Warning, "Could not unregister {Aor} from {Registrar}: {Reason}")]
    public static partial void UnregisterFailed(ILogger logger, string aor, string registrar, string reason);

    [LoggerMessage(25, LogLevel.Warning, "drachtio-server refused the ACK in dialog {DialogId}: {Reason}")]
    public static partial void AckRefused(ILogger logger, string dialogId, string reason);

    [LoggerMessage(26, LogLevel.Information, "drachtio-server no longer knows dialog {DialogId} ({Reason}); sending a BYE built from the dialog state")]
    public static partial void RebuildingBye(ILogger logger, string dialogId, string reason);

    [LoggerMessage(27, LogLevel.Information, "Orphaned dialog {DialogId} hung up: BYE answered {Status} {Reason}")]
    public static partial void OrphanHungUp(ILogger logger, string dialogId, int status, string reason);

    [LoggerMessage(28, LogLevel.Information, "drachtio-server routes {Method} requests to this client")]
    public static partial void Routed(ILogger logger, string method);

    [LoggerMessage(29, LogLevel.Error, "drachtio-server refused to route {Method} requests to this client: {Reason}")]
    public static partial void RouteRefused(ILogger logger, string method, string reason);

    [LoggerMessage(30, LogLevel.Warning, "Ignoring a SIP request drachtio-server relayed that does not parse: {Error}")]
    public static partial void UnparsableRequest(ILogger logger, string error);

    [LoggerMessage(31, LogLevel.Debug, "INVITE {Uri} from {From} came in ({TransactionId})")]
    public static partial void InviteArrived(ILogger logger, string uri, string from, string transactionId);

    [LoggerMessage(32, LogLevel.Error, "The handler of INVITE {TransactionId} failed; answering 500 if it had not answered")]
    public static partial void InviteHandlerFailed(ILogger logger, Exception exception, string transactionId);

    [LoggerMessage(33, LogLevel.Information, "The caller cancelled INVITE {TransactionId}")]
    public static partial void InviteCanceled(ILogger logger, string transactionId);

    [LoggerMessage(34, LogLevel.Warning, "The far end's offer in a {Method} in dialog {DialogId} was not answered ({Reason}); answering with the SDP we sent last")]
    public static partial void OfferNotAnswered(ILogger logger, string method, string dialogId, string reason);
}
