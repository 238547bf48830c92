namespace Voice.Host.Storage;

/// <summary>A call as stored: what was asked, and where it got to.</summary>
public sealed record CallRecord
{
    public required string CallId { get; init; }

    public required string To { get; init; }

    public string? CallerId { get; init; }

    public required string Message { get; init; }

    public string Mode { get; init; } = "announce";

    /// <summary>Lower-case state name (<c>queued</c> … <c>failed</c>).</summary>
    public required string State { get; init; }

    public string? Reason { get; init; }

    public int? SipStatus { get; init; }

    public string? Detail { get; init; }

    /// <summary>The caller's tag, as JSON text.</summary>
    public string? Tag { get; init; }

    public bool Simulated { get; init; }

    public string? WebhookUrl { get; init; }

    /// <summary>States webhooks are sent for; null: all.</summary>
    public IReadOnlyList<string>? WebhookEvents { get; init; }

    /// <summary>The request as received, so a queued call survives a restart.</summary>
    public required string RequestJson { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset? AnsweredAt { get; init; }

    public DateTimeOffset? EndedAt { get; init; }

    public int LastSequence { get; init; }

    /// <summary>What the call's script found out (<see cref="Voice.Control.Calls.CallResultsJson"/>), null for a plain announce call.</summary>
    public string? ResultsJson { get; init; }

    /// <summary>The alert this call is an attempt of (retries, escalation); null for a call of its own.</summary>
    public string? AlertId { get; init; }

    /// <summary>Which attempt of its alert: 1 for the first.</summary>
    public int? Attempt { get; init; }

    /// <summary><c>outbound</c> (placed through the API) or <c>inbound</c> (it came in; <see cref="CallerId"/> is the caller).</summary>
    public string Direction { get; init; } = "outbound";

    /// <summary>For a call that came in: <c>freeswitch</c>, <c>sip</c> or <c>simulated</c>.</summary>
    public string? Source { get; init; }

    /// <summary>For a call that came in: the application it ran.</summary>
    public string? Application { get; init; }

    /// <summary>For a click-to-call: the agent's extension (called first).</summary>
    public string? Agent { get; init; }

    /// <summary>For a click-to-call: the number the agent is connected to.</summary>
    public string? Destination { get; init; }

    /// <summary>
    /// The host that runs the call. Null for a call queued for any host of a cluster to claim (on PostgreSQL); set when
    /// one does, and for calls a host places itself (all calls on SQLite, alerts' attempts, click-to-call, calls that came in).
    /// </summary>
    public string? HostId { get; init; }

    /// <summary>A call that came in, as it is first stored (ringing); its webhooks go to its application's URL.</summary>
    public static CallRecord Arrived(Voice.Control.Calls.CallSnapshot call, string? webhookUrl) => new()
    {
        CallId = call.CallId,
        To = call.To,
        CallerId = call.CallerId,
        Message = call.Message,
        Mode = "inbound",
        State = Voice.Control.Calls.CallStateMachine.Name(call.State),
        Tag = call.Tag,
        Simulated = call.Simulated,
        WebhookUrl = webhookUrl,
        RequestJson = "{}",
        CreatedAt = call.CreatedAt,
        Direction = call.Direction,
        Source = call.Source,
        Application = call.Application,
    };

    public TimeSpan? Duration => AnsweredAt is { } a && EndedAt is { } e ? e - a : null;
}
