using System.Diagnostics.Metrics;

namespace Voice.Host;

/// <summary>The host's own measurements (webhooks, API), on a <see cref="Meter"/> named <see cref="Name"/> from the host's <see cref="IMeterFactory"/>.</summary>
internal sealed class HostMeter
{
    public const string Name = "Voice.Host";

    public HostMeter(IMeterFactory factory)
    {
        Meter = factory.Create(Name);
        WebhookAttempts = Meter.CreateCounter<long>("voicebridge.webhook.attempts", description: "Webhook delivery attempts, by result (delivered, retry, failed)");
        RateLimited = Meter.CreateCounter<long>("voicebridge.api.rate_limited", description: "Requests refused by the per-key rate limit");
    }

    public Meter Meter { get; }

    /// <summary>Webhook attempts, tagged <c>result</c>: delivered, retry (will be tried again) or failed (given up).</summary>
    public Counter<long> WebhookAttempts { get; }

    /// <summary>Requests refused by the per-key rate limit.</summary>
    public Counter<long> RateLimited { get; }
}
