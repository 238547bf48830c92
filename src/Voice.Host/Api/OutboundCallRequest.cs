using System.Text.Json;

namespace Voice.Host.Api;

/// <summary>The body of <c>POST /api/outbound-call</c>: the original's fields, then VoiceBridge's extensions.</summary>
public sealed class OutboundCallRequest
{
    /// <summary>E.164 number, US 10/11 digits, or a PBX extension.</summary>
    public string? To { get; set; }

    /// <summary>What to say, 1–1000 characters: the shorthand for <c>verbs: [{"verb":"say","text":…}]</c>.</summary>
    public string? Message { get; set; }

    /// <summary>The call's script (jambonz-shaped verbs), instead of <see cref="Message"/>.</summary>
    public JsonElement? Verbs { get; set; }

    /// <summary>With <see cref="Message"/>: ask for a key press to acknowledge it (the alert shorthand).</summary>
    public AcknowledgeRequest? Acknowledge { get; set; }

    /// <summary>Call the number again when an attempt ends busy, unanswered, unacknowledged…</summary>
    public RetryRequest? Retry { get; set; }

    /// <summary>The numbers called next, in order, when the previous number's attempts end without success.</summary>
    public List<string>? Escalate { get; set; }

    /// <summary>Whether this request is an alert of several attempts.</summary>
    public bool IsAlert => Retry is not null || Escalate is { Count: > 0 };

    /// <summary><c>announce</c> (default) or <c>conversation</c> (not supported yet).</summary>
    public string? Mode { get; set; }

    public string? CallerId { get; set; }

    /// <summary>Ring timeout, 5–120 s (default 30).</summary>
    public int? TimeoutSeconds { get; set; }

    /// <summary>Where state changes are POSTed (absolute http or https URL).</summary>
    public string? WebhookUrl { get; set; }

    public string? Voice { get; set; }

    /// <summary>How often the message is played, 1–5.</summary>
    public int? Repeat { get; set; }

    public int? MaxDurationSeconds { get; set; }

    /// <summary>Extra SIP headers for the INVITE; names must start with X-.</summary>
    public Dictionary<string, string>? Headers { get; set; }

    /// <summary>Any JSON, echoed in every state change and webhook.</summary>
    public JsonElement? Tag { get; set; }

    /// <summary>Record the call from the answer to the hang-up (WAV, the callee left, the call's audio right): <c>GET /api/call/{id}/recording</c>.</summary>
    public bool? Record { get; set; }

    /// <summary>Which states to send webhooks for; default all.</summary>
    public List<string>? WebhookEvents { get; set; }

    /// <summary>
    /// The call as stored when it is accepted (queued), for a validated body whose <paramref name="call"/> was made from
    /// it; <paramref name="to"/> is the number as dialled (E.164), as the live call shows it, so the history's
    /// <c>to</c> filter finds it.
    /// </summary>
    public Storage.CallRecord ToRecord(string callId, string to, Voice.Control.Calls.CallRequest call, string requestJson, bool simulated, DateTimeOffset now) => new()
    {
        CallId = callId,
        To = to,
        CallerId = CallerId,
        Message = call.Message ?? call.Script?.Summary ?? string.Empty,
        State = "queued",
        Tag = Tag?.GetRawText(),
        Simulated = simulated,
        WebhookUrl = WebhookUrl,
        WebhookEvents = WebhookEvents,
        RequestJson = requestJson,
        CreatedAt = now,
    };

    /// <summary>
    /// The library's request of a stored call (a call still queued when a host stopped, placed again under its id).
    /// </summary>
    /// <exception cref="System.Text.Json.JsonException">The stored request is not one.</exception>
    public static Voice.Control.Calls.CallRequest FromStored(Storage.CallRecord call) =>
        System.Text.Json.JsonSerializer.Deserialize<OutboundCallRequest>(call.RequestJson, StoredJson)!.ToCallRequest();

    private static readonly System.Text.Json.JsonSerializerOptions StoredJson = new(System.Text.Json.JsonSerializerDefaults.Web);

    /// <summary>The library's request for a validated body.</summary>
    public Voice.Control.Calls.CallRequest ToCallRequest() => new()
    {
        To = To!,
        Message = Message,
        Script = Verbs is { } verbs ? global::Voice.Control.Scripts.CallScript.Parse(verbs) : null,
        Acknowledge = Acknowledge?.ToAcknowledgement(),
        CallerId = CallerId,
        RingTimeout = TimeoutSeconds is { } ring ? TimeSpan.FromSeconds(ring) : null,
        Voice = Voice,
        Repeat = Repeat ?? 1,
        MaxDuration = MaxDurationSeconds is { } max ? TimeSpan.FromSeconds(max) : null,
        Headers = Headers,
        Tag = Tag?.GetRawText(),
        Record = Record ?? false,
    };
}

/// <summary>
/// The alert shorthand: after the message, "press 1 to acknowledge, 2 to hear it again", up to <see cref="Tries"/>
/// times; the call reports <c>acknowledged</c> and the keys pressed as <c>digits</c>.
/// </summary>
public sealed class AcknowledgeRequest
{
    /// <summary>The key that acknowledges (default 1).</summary>
    public string? Digit { get; set; }

    /// <summary>The key that repeats the message (default 2).</summary>
    public string? RepeatDigit { get; set; }

    /// <summary>How often the message and the question are given, 1–5 (default 3).</summary>
    public int? Tries { get; set; }

    /// <summary>The question (default: "Press 1 to acknowledge, 2 to hear it again.").</summary>
    public string? Prompt { get; set; }

    /// <summary>How long to wait for the key after the question, 1–60 s (default 5).</summary>
    public int? TimeoutSeconds { get; set; }

    /// <summary>The library's settings; only for a body whose keys are one character each (the validator checks).</summary>
    public Voice.Control.Scripts.Acknowledgement ToAcknowledgement()
    {
        var defaults = new Voice.Control.Scripts.Acknowledgement();
        return defaults with
        {
            Digit = Digit is { Length: 1 } digit ? digit[0] : defaults.Digit,
            RepeatDigit = RepeatDigit is { Length: 1 } repeat ? repeat[0] : defaults.RepeatDigit,
            Tries = Tries ?? defaults.Tries,
            Prompt = Prompt,
            Timeout = TimeoutSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : defaults.Timeout,
        };
    }
}

/// <summary>When and how often an alert's number is called again.</summary>
public sealed class RetryRequest
{
    /// <summary>What may be retried: an attempt that ended busy, unanswered, answered without the digit, or failed otherwise.</summary>
    public static readonly string[] Outcomes = ["busy", "no_answer", "not_acknowledged", "failed"];

    /// <summary>Attempts per number, the first included, 1–10 (default 3).</summary>
    public int? Attempts { get; set; }

    /// <summary>The wait before calling the same number again, 0–3600 s (default 60).</summary>
    public int? DelaySeconds { get; set; }

    /// <summary>Which outcomes are retried (default busy, no_answer, not_acknowledged).</summary>
    public List<string>? On { get; set; }
}
