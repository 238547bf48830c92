using Voice.Control.Net;
using System.Text;

namespace Voice.Host.Webhooks;

/// <summary>How webhooks are signed, how long one attempt may take, and how retries back off.</summary>
public sealed record WebhookOptions
{
    /// <summary>The HMAC key of <see cref="WebhookSignature"/>.</summary>
    public required byte[] Secret { get; init; }

    /// <summary>Where the secret came from, for the log (never the secret itself).</summary>
    public string SecretSource { get; init; } = "configuration";

    /// <summary>One attempt: connecting, sending and the receiver's answer.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The wait after the first failed attempt; it doubles after each further one.</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>A webhook still undelivered this long after its event is given up (status failed).</summary>
    public TimeSpan GiveUpAfter { get; init; } = TimeSpan.FromHours(24);

    /// <summary>Where webhooks may go (checked on the URL when a call is placed, and on the address at every connection).</summary>
    public WebhookDestinations Destinations { get; init; } = WebhookDestinations.Default;

    /// <summary>Webhooks in flight at once (each to a different call: one call's events go one at a time).</summary>
    public int Concurrency { get; init; } = 32;

    /// <summary>Pending webhooks the sender keeps in memory; beyond this they wait in the outbox until it has room.</summary>
    public int MaxInMemory { get; init; } = 20_000;

    /// <summary>
    /// The secret from WEBHOOK_SECRET or Webhooks:Secret; without one, a random secret kept in the data directory
    /// (created on first start, readable only by its owner), so webhooks are always signed.
    /// </summary>
    public static (byte[] Secret, string Source) LoadSecret(string? configured, string dataDirectory)
    {
        if (configured is not null)
        {
            return (Encoding.UTF8.GetBytes(configured), "WEBHOOK_SECRET");
        }
        var path = Path.Combine(dataDirectory, "webhook-secret");
        return (Encoding.UTF8.GetBytes(Security.SecretFile.ReadOrCreate(path).Secret), path);
    }
}
