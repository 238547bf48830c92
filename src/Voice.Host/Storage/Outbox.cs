using Voice.Control.Calls;

namespace Voice.Host.Storage;

/// <summary>
/// What a state change's webhook is made of: the change and what the call's row says when it is recorded. The store
/// decides whether the call wants a webhook for it; the body is built by the function the store was given (the
/// webhooks' payload), and is fixed then, so a retry hours later sends what was true at the time.
/// </summary>
public sealed record OutboxEvent(
    string CallId, int Sequence, string State, long At, string? Reason, int? SipStatus, string? Detail, CallResults Results,
    string To, string? Tag, bool Simulated, long? AnsweredAt, string? AlertId, long? Attempt)
{
    /// <summary>For a call that came in: who called, from where, and the application it ran; null for an outbound call.</summary>
    public (string? From, string? Source, string? Application)? Inbound { get; init; }
}

/// <summary>One webhook waiting in the outbox, as the sender takes it.</summary>
public sealed record WebhookDelivery
{
    public long Id { get; init; }

    public string CallId { get; init; } = string.Empty;

    public long Sequence { get; init; }

    public string Event { get; init; } = string.Empty;

    public string Url { get; init; } = string.Empty;

    public string Body { get; init; } = string.Empty;

    /// <summary>Attempts made before this one.</summary>
    public long Attempts { get; init; }

    public long CreatedAtMs { get; init; }

    /// <summary>The W3C <c>traceparent</c> of the call's span (null when the call was not traced): each attempt is a span in the call's trace.</summary>
    public string? TraceParent { get; init; }
}

/// <summary>
/// How one webhook of a call went, as <c>GET /api/call/{id}</c> shows it. Status is pending (not yet delivered;
/// NextAttemptAt says when it is tried next), delivered, or failed (given up).
/// </summary>
public sealed record WebhookState(
    int Sequence, string Event, string Status, int Attempts, int? LastHttpStatus, string? LastError, DateTimeOffset? NextAttemptAt, DateTimeOffset? DeliveredAt);

/// <summary>The outcome of one delivery attempt: delivered, failed (given up) or pending (tried again at <see cref="RetryAt"/>).</summary>
public sealed record WebhookAttempt(long Id, string Status, int? HttpStatus, string? Error, DateTimeOffset At, DateTimeOffset? RetryAt);
