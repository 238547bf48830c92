using System.Text.Json;

namespace Voice.Host.Api;

/// <summary>The body of <c>POST /api/outbound-call</c>: the original's fields, then VoiceBridge's extensions.</summary>
public sealed class OutboundCallRequest
{
    /// <summary>E.164 number, US 10/11 digits, or a PBX extension.</summary>
    public string? To { get; set; }

    /// <summary>What to say, 1–1000 characters.</summary>
    public string? Message { get; set; }

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

    /// <summary>Which states to send webhooks for; default all.</summary>
    public List<string>? WebhookEvents { get; set; }

    /// <summary>The library's request for a validated body.</summary>
    public Voice.Control.Calls.CallRequest ToCallRequest() => new()
    {
        To = To!,
        Message = Message!,
        CallerId = CallerId,
        RingTimeout = TimeoutSeconds is { } ring ? TimeSpan.FromSeconds(ring) : null,
        Voice = Voice,
        Repeat = Repeat ?? 1,
        MaxDuration = MaxDurationSeconds is { } max ? TimeSpan.FromSeconds(max) : null,
        Headers = Headers,
        Tag = Tag?.GetRawText(),
    };
}
