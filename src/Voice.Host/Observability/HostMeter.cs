using System.Diagnostics.Metrics;
using Voice.Control;
using Voice.Control.Calls;
using Voice.Control.Drachtio;
using Voice.Control.Media;

namespace Voice.Host.Observability;

/// <summary>
/// The host's own measurements, on a <see cref="Meter"/> named <see cref="Name"/> from the host's
/// <see cref="IMeterFactory"/>: webhooks and the API, and the gauges read when metrics are collected (calls not yet
/// ended, by state; the links to drachtio-server and FreeSWITCH; the simulated backend).
/// </summary>
internal sealed class HostMeter
{
    public const string Name = "Voice.Host";

    /// <summary>The states of calls not yet ended, each reported even when no call is in it.</summary>
    private static readonly string[] OpenStates = [.. Enum.GetValues<CallState>().Where(s => !CallStateMachine.IsFinal(s)).Select(CallStateMachine.Name)];

    private readonly IServiceProvider _services;

    /// <param name="factory">The host's meter factory: another host in the same process counts its own.</param>
    /// <param name="services">Where the gauges read the calls and the links from, when they are collected.</param>
    public HostMeter(IMeterFactory factory, IServiceProvider services)
    {
        _services = services;
        Meter = factory.Create(Name);
        WebhookAttempts = Meter.CreateCounter<long>("voicebridge.webhook.attempts", description: "Webhook delivery attempts, by result (delivered, retry, failed)");
        RateLimited = Meter.CreateCounter<long>("voicebridge.api.rate_limited", description: "Requests refused by the per-key rate limit");
        Meter.CreateObservableGauge("voicebridge.calls.active", () => Calls.Active.Count, description: "Calls not yet ended");
        Meter.CreateObservableGauge("voicebridge.calls.by_state", CallsByState, description: "Calls not yet ended, by state");
        Meter.CreateObservableGauge("voicebridge.link_up", Links, description: "1 when the link to drachtio-server or a FreeSWITCH is up");
        Meter.CreateObservableGauge("voicebridge.simulated", () => Calls.IsSimulated ? 1 : 0, description: "1 when calls go to the simulated backend");
    }

    public Meter Meter { get; }

    /// <summary>Webhook attempts, tagged <c>result</c>: delivered, retry (will be tried again) or failed (given up).</summary>
    public Counter<long> WebhookAttempts { get; }

    /// <summary>Requests refused by the per-key rate limit.</summary>
    public Counter<long> RateLimited { get; }

    private IOutboundCalls Calls => _services.GetRequiredService<IOutboundCalls>();

    private IEnumerable<Measurement<int>> CallsByState()
    {
        var byState = Calls.Active.CountBy(c => CallStateMachine.Name(c.State)).ToDictionary();
        return OpenStates.Select(state => new Measurement<int>(byState.GetValueOrDefault(state), new KeyValuePair<string, object?>("state", state)));
    }

    private IEnumerable<Measurement<int>> Links()
    {
        var options = _services.GetRequiredService<VoiceControlOptions>();
        if (options.IsSimulated)
        {
            yield break;
        }
        yield return Link("drachtio", $"{options.Drachtio!.Host}:{options.Drachtio.Port}", _services.GetRequiredService<DrachtioClient>().IsConnected);
        foreach (var media in _services.GetRequiredService<MediaServerPool>().Status)
        {
            yield return Link("freeswitch", media.Name, media.IsConnected);
        }
    }

    private static Measurement<int> Link(string link, string name, bool up) =>
        new(up ? 1 : 0, new KeyValuePair<string, object?>("link", link), new KeyValuePair<string, object?>("name", name));
}
