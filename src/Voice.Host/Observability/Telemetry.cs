using System.Diagnostics;
using Microsoft.Extensions.Diagnostics.Metrics;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using Voice.Control.Diagnostics;

namespace Voice.Host.Observability;

/// <summary>
/// Metrics, traces and log correlation on OpenTelemetry. <c>/metrics</c> is its Prometheus scraping endpoint, with
/// the series names and labels VoiceBridge has always had. Traces: one per call (the request that placed it, the
/// call's queue, media, INVITE and playback spans, and each webhook delivery), sent nowhere unless
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> names a collector, which then also receives the metrics and the logs; without
/// one they still give log lines their trace and span ids (and a webhook its traceparent). Lines logged while a
/// call runs also carry its id.
/// </summary>
internal static class Telemetry
{
    public const string MetricsPath = "/metrics";

    /// <summary>The name of OpenTelemetry's listener in the .NET metrics system.</summary>
    private const string OpenTelemetryListener = "OpenTelemetry";

    public static WebApplicationBuilder AddTelemetry(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<HostMeter>();
        // This host's meters only (MeterScope.Local: made by its own IMeterFactory): another host in the same process
        // has meters of the same names, and counts its own.
        builder.Services.AddMetrics(metrics => metrics
            .EnableMetrics(VoiceMeter.Name, listenerName: OpenTelemetryListener, scopes: MeterScope.Local)
            .EnableMetrics(HostMeter.Name, listenerName: OpenTelemetryListener, scopes: MeterScope.Local));
        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("voicebridge", serviceVersion: typeof(Telemetry).Assembly.GetName().Version?.ToString(3)))
            .WithMetrics(metrics => metrics.AddPrometheusExporter(options =>
            {
                // Every scrape reads the figures of that moment (the exporter's default keeps one for 300 ms).
                options.ScrapeResponseCacheDurationMilliseconds = 0;
                // The series and labels of VoiceBridge's own exporter before OpenTelemetry: dashboards keep working.
                options.ScopeInfoEnabled = false;
                options.TargetInfoEnabled = false;
            }))
            .WithTracing(tracing => tracing.AddSource(VoiceActivities.SourceName, HostActivities.SourceName));
        if (OtlpEndpoint(builder.Configuration) is not null)
        {
            // Endpoint, protocol (grpc, or http/protobuf), headers and intervals from the standard OTEL_* settings.
            telemetry.UseOtlpExporter();
        }
        builder.Logging.Configure(options => options.ActivityTrackingOptions = ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId);
        QuietHostingDiagnostics(builder);
        return builder;
    }

    /// <summary>The logging category of ASP.NET Core's request diagnostics: "Request starting", "Request finished".</summary>
    internal const string HostingDiagnostics = "Microsoft.AspNetCore.Hosting.Diagnostics";

    /// <summary>
    /// Turns ASP.NET Core's request diagnostics off unless the configuration sets their level. While that category
    /// logs anything at all, ASP.NET Core makes an activity and a log scope for every request (each poll and probe
    /// too) that no one records: about a tenth of a poll's CPU on the lab's machine (<c>perf</c>, 70 polls a second).
    /// The requests that change something still get their span (<see cref="UseRequestSpans"/>), which their log lines
    /// name; the lines "Request starting" and "Request finished" were below the host's default level anyway.
    /// </summary>
    private static void QuietHostingDiagnostics(WebApplicationBuilder builder)
    {
        if (builder.Configuration.GetSection("Logging:LogLevel")[HostingDiagnostics] is null)
        {
            builder.Logging.AddFilter(HostingDiagnostics, LogLevel.None);
        }
    }

    /// <summary>
    /// Requests that change something (placing or hanging up a call) are traced; reads are not: a client polling its
    /// call every second, probes and scrapes would add a trace per request that says nothing about a call, and cost
    /// more than the call's own spans.
    /// </summary>
    private static bool Traced(HttpContext context) => !HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method);

    /// <summary>
    /// A server span for each traced request (<see cref="Traced"/>), in the caller's trace when it sent a
    /// <c>traceparent</c>, named for the route that answered, with OpenTelemetry's HTTP attributes. VoiceBridge's own
    /// instead of OpenTelemetry's ASP.NET Core instrumentation, which heard every request (each poll and probe too)
    /// through a diagnostic event and looked at its headers again before its filter dropped it: about 5 % of the CPU
    /// of each GET.
    /// </summary>
    public static WebApplication UseRequestSpans(this WebApplication app)
    {
        app.Use((context, next) => Traced(context) && HostActivities.Source.HasListeners() ? TracedAsync(context, next) : next(context));
        return app;
    }

    private static async Task TracedAsync(HttpContext context, RequestDelegate next)
    {
        // The caller's trace, from its traceparent and tracestate headers (W3C, or whatever propagator the process set).
        // Read here rather than from ASP.NET Core's request activity, which the host no longer has made (see
        // QuietHostingDiagnostics). A request without a trace, or with one that does not parse, starts a trace of its own.
        DistributedContextPropagator.Current.ExtractTraceIdAndState(context.Request.Headers, static (carrier, name, out value, out values) =>
        {
            values = null;
            value = ((IHeaderDictionary)carrier!)[name] is { Count: > 0 } header ? header.ToString() : null;
        }, out var traceParent, out var traceState);
        var parent = ActivityContext.TryParse(traceParent, traceState, isRemote: true, out var remote) ? remote : default;
        if (parent == default)
        {
            Activity.Current = null; // a root, whatever the connection's context held
        }
        var method = context.Request.Method;
        using var span = HostActivities.Source.StartActivity(ActivityKind.Server, parent, name: method);
        if (span is null)
        {
            await next(context);
            return;
        }
        span.SetTag("http.request.method", method).SetTag("url.path", context.Request.Path.Value).SetTag("url.scheme", context.Request.Scheme);
        try
        {
            await next(context);
        }
        catch (Exception ex)
        {
            span.SetStatus(ActivityStatusCode.Error, ex.GetType().FullName);
            throw;
        }
        finally
        {
            var status = context.Response.StatusCode;
            span.SetTag("http.response.status_code", status);
            if (context.GetEndpoint() is RouteEndpoint { RoutePattern.RawText: { } route })
            {
                span.DisplayName = $"{method} {route}";
                span.SetTag("http.route", route);
            }
            if (status >= 500)
            {
                span.SetStatus(ActivityStatusCode.Error);
            }
        }
    }

    public static IEndpointRouteBuilder MapMetrics(this IEndpointRouteBuilder routes)
    {
        routes.MapPrometheusScrapingEndpoint(MetricsPath);
        return routes;
    }

    /// <summary>The collector traces, metrics and logs go to, or null when none is configured; a start-up error when it is not an http(s) URL.</summary>
    internal static Uri? OtlpEndpoint(IConfiguration configuration) => configuration["OTEL_EXPORTER_OTLP_ENDPOINT"] switch
    {
        null or "" => null,
        var value when Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps) => uri,
        var value => throw new InvalidOperationException($"OTEL_EXPORTER_OTLP_ENDPOINT '{value}' is not an http:// or https:// URL (the OpenTelemetry collector, e.g. http://localhost:4317)."),
    };
}
