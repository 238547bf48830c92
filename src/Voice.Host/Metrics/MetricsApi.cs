using Voice.Control;
using Voice.Control.Calls;
using Voice.Control.Diagnostics;
using Voice.Control.Drachtio;
using Voice.Control.Media;

namespace Voice.Host.Metrics;

/// <summary>Registers the collector (from the host's start, so nothing is missed) and serves <c>/metrics</c>.</summary>
internal static class MetricsApi
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    public static IServiceCollection AddPrometheusMetrics(this IServiceCollection services) =>
        services.AddSingleton(sp => new PrometheusMetrics(
            sp.GetRequiredService<IOutboundCalls>(), () => Links(sp), [sp.GetRequiredService<VoiceMeter>().Meter, sp.GetRequiredService<HostMeter>().Meter]));

    public static IEndpointRouteBuilder MapMetrics(this IEndpointRouteBuilder routes)
    {
        routes.ServiceProvider.GetRequiredService<PrometheusMetrics>();
        routes.MapGet("/metrics", (PrometheusMetrics metrics) => Results.Text(metrics.Scrape(), ContentType));
        return routes;
    }

    private static IEnumerable<(string Link, string Name, bool Up)> Links(IServiceProvider services)
    {
        if (services.GetRequiredService<VoiceControlOptions>().IsSimulated)
        {
            yield break;
        }
        var drachtio = services.GetRequiredService<DrachtioClient>();
        var options = services.GetRequiredService<VoiceControlOptions>().Drachtio!;
        yield return ("drachtio", $"{options.Host}:{options.Port}", drachtio.IsConnected);
        foreach (var media in services.GetRequiredService<MediaServerPool>().Status)
        {
            yield return ("freeswitch", media.Name, media.IsConnected);
        }
    }
}
