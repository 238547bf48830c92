namespace Voice.Control.Calls;

/// <summary>What went wrong in a backend, in the orchestrator's terms (the SIP adapter translates its own exceptions into these).</summary>
public enum CallFailure
{
    /// <summary>The callee's side answered with a final non-2xx status (<see cref="CallBackendException.SipStatus"/>).</summary>
    Rejected,

    /// <summary>Nobody answered within the ring timeout; the INVITE was cancelled.</summary>
    NoAnswer,

    /// <summary>No media server can take the call.</summary>
    MediaUnavailable,

    /// <summary>The signalling server cannot be used (not connected, refused a request).</summary>
    SignallingUnavailable,

    /// <summary>The link to the signalling server was lost while the call was being dialled.</summary>
    SignallingLost,

    /// <summary>The media server failed the call's media (an endpoint refused, a channel lost, a command failed).</summary>
    MediaFailed,
}

/// <summary>A backend's failure, as <see cref="ICallBackend"/> reports it.</summary>
public sealed class CallBackendException(CallFailure failure, string message, int? sipStatus = null, string? reasonPhrase = null, Exception? inner = null)
    : Exception(message, inner)
{
    public CallFailure Failure { get; } = failure;

    /// <summary>The final SIP status, for <see cref="CallFailure.Rejected"/> and <see cref="CallFailure.NoAnswer"/>.</summary>
    public int? SipStatus { get; } = sipStatus;

    public string? ReasonPhrase { get; } = reasonPhrase;

    public static CallBackendException Rejected(int status, string reasonPhrase, Exception? inner = null) =>
        new(CallFailure.Rejected, $"{status} {reasonPhrase}", status, reasonPhrase, inner);

    public static CallBackendException NoAnswer(int status, Exception? inner = null) =>
        new(CallFailure.NoAnswer, "no answer within the ring timeout", status, null, inner);
}

/// <summary>Dialling was cancelled before the answer (CANCEL went out), with the final status the INVITE got when there was one.</summary>
public sealed class CallCanceledException(int? sipStatus, Exception? inner, CancellationToken token)
    : OperationCanceledException("the call was cancelled before it was answered", inner, token)
{
    public int? SipStatus { get; } = sipStatus;
}

/// <summary>How a call that did not run to its end is reported: its reason, SIP status and detail.</summary>
public readonly record struct CallOutcome(string Reason, int? SipStatus, string? Detail, bool Unexpected = false);

/// <summary>The table from a failure to a call's outcome, one row per case.</summary>
public static class CallOutcomes
{
    /// <summary>The outcome of <paramref name="failure"/>; anything the table does not know is <see cref="CallOutcome.Unexpected"/> (logged with its stack).</summary>
    /// <param name="failure">What the backend or the rendering threw.</param>
    /// <param name="answered">The callee had answered.</param>
    /// <param name="hungUp">The API hung the call up.</param>
    /// <param name="stopping">VoiceBridge is stopping.</param>
    public static CallOutcome ForFailure(Exception failure, bool answered, bool hungUp, bool stopping)
    {
        ArgumentNullException.ThrowIfNull(failure);
        return failure switch
        {
            CallBackendException { Failure: CallFailure.NoAnswer } noAnswer => new(CallReasons.NoAnswer, noAnswer.SipStatus, noAnswer.Message),
            CallBackendException { Failure: CallFailure.Rejected } rejected => new(CallReasons.ForSipStatus(rejected.SipStatus ?? 0), rejected.SipStatus, rejected.Message),
            OperationCanceledException when hungUp => new(CallReasons.Canceled, (failure as CallCanceledException)?.SipStatus, "hung up through the API before answer"),
            OperationCanceledException when stopping => new(CallReasons.Canceled, null, "VoiceBridge is shutting down"),
            // The rendering failed and stopped the dialling; its message is in the detail already.
            OperationCanceledException => new(CallReasons.MediaError, null, null),
            CallBackendException { Failure: CallFailure.MediaUnavailable } => new(CallReasons.ServiceUnavailable, null, failure.Message),
            CallBackendException { Failure: CallFailure.SignallingLost } => new(CallReasons.SignallingLost, null, "the link to drachtio-server was lost while dialling: " + failure.Message),
            CallBackendException { Failure: CallFailure.SignallingUnavailable } => new(CallReasons.ServiceUnavailable, null, "drachtio-server: " + failure.Message),
            CallBackendException { Failure: CallFailure.MediaFailed } => new(CallReasons.MediaError, null, failure.Message),
            _ => new(answered ? CallReasons.MediaError : CallReasons.Error, null, failure.Message, Unexpected: true),
        };
    }
}
