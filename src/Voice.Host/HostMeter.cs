using System.Diagnostics.Metrics;

namespace Voice.Host;

/// <summary>The host's own measurements (webhooks, API), on the <see cref="Meter"/> named <see cref="Name"/>.</summary>
internal static class HostMeter
{
    public const string Name = "Voice.Host";

    private static readonly Meter Meter = new(Name);

    /// <summary>Webhook attempts, tagged <c>result</c>: delivered, retry (will be tried again) or failed (given up).</summary>
    public static readonly Counter<long> WebhookAttempts = Meter.CreateCounter<long>(
        "voicebridge.webhook.attempts", description: "Webhook delivery attempts, by result (delivered, retry, failed)");

    /// <summary>Requests refused by the per-key rate limit.</summary>
    public static readonly Counter<long> RateLimited = Meter.CreateCounter<long>(
        "voicebridge.api.rate_limited", description: "Requests refused by the per-key rate limit");
}
