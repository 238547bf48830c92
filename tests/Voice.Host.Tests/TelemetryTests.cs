using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Voice.Control.Calls;
using Voice.Host.Storage;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace Voice.Host.Tests;

/// <summary>
/// Traces and log correlation as an operator reads them in Jaeger or Tempo: a call placed from a traced workflow
/// stays in that workflow's trace, through its webhooks (retries, and after a restart) and its log lines; with an
/// OTLP endpoint the spans, metrics and logs reach the collector.
/// </summary>
[NonParallelizable]
public class TelemetryTests
{
    private const string TraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    private const string Caller = "00f067aa0ba902b7";

    private static readonly Dictionary<string, string?> FastRetries = new()
    {
        ["Webhooks:InitialBackoffMs"] = "20",
        ["Webhooks:MaxBackoffSeconds"] = "1",
    };

    private readonly ConcurrentQueue<Activity> _ended = new();
    private ActivityListener _listener = null!;

    [SetUp]
    public void Listen()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is "Voice.Control" or "Voice.Host",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _ended.Enqueue,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    [TearDown]
    public void Stop() => _listener.Dispose();

    private static async Task<string> PlaceAsync(HttpClient client, string body, string? traceParent = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/outbound-call") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (traceParent is not null)
        {
            request.Headers.Add("traceparent", traceParent);
        }
        using var response = await client.SendAsync(request);
        Assert.That((int)response.StatusCode, Is.EqualTo(202).Or.EqualTo(200), await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("callId").GetString()!;
    }

    private Activity CallSpan(string callId) => _ended.Single(a => a.OperationName == "call" && (string?)a.GetTagItem("voicebridge.call.id") == callId);

    private static string TraceOf(string traceParent) => traceParent.Split('-') is [_, var trace, _, _] ? trace : string.Empty;

    [Test]
    public async Task A_call_placed_from_a_traced_workflow_stays_in_its_trace_through_webhook_retries_and_log_lines()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.AnswerInTurn((500, 2));
        await using var factory = new HostFactory(FastRetries);
        using var client = factory.CreateClient();

        var callId = await PlaceAsync(client, $$"""{"to":"+15005550000","message":"Disk full.","webhookUrl":"{{receiver.Url}}","webhookEvents":["completed"]}""",
            $"00-{TraceId}-{Caller}-01");
        await HostFactory.WaitForEndAsync(client, callId, "completed");
        await HostFactory.Eventually(async () => receiver.Accepted.Count == 1, "delivered on the third attempt");
        await HostFactory.Eventually(async () => _ended.Count(a => a.OperationName == "webhook.deliver" && (string?)a.GetTagItem("voicebridge.call.id") == callId && (string?)a.GetTagItem("voicebridge.webhook.result") == "delivered") == 1);

        var call = CallSpan(callId);
        Assert.That(call.TraceId.ToHexString(), Is.EqualTo(TraceId), "the call is in the trace of the workflow that placed it");
        var deliveries = _ended.Where(a => a.OperationName == "webhook.deliver" && (string?)a.GetTagItem("voicebridge.call.id") == callId).OrderBy(a => a.StartTimeUtc).ToList();
        Assert.That(deliveries, Has.Count.EqualTo(3));
        Assert.That(deliveries.Select(d => (d.TraceId.ToHexString(), d.ParentSpanId)), Is.All.EqualTo((TraceId, call.SpanId)), "every attempt is a span under the call's");
        Assert.That((deliveries[0].Status, deliveries[0].GetTagItem("http.response.status_code"), deliveries[0].GetTagItem("voicebridge.webhook.result")),
            Is.EqualTo((ActivityStatusCode.Error, (object)500, (object)"retry")));
        Assert.That((deliveries[^1].Status, deliveries[^1].GetTagItem("http.response.status_code")), Is.EqualTo((ActivityStatusCode.Ok, (object)200)));
        Assert.That(deliveries.Select(d => d.GetTagItem("voicebridge.webhook.attempt")), Is.EqualTo(Enumerable.Range(1, deliveries.Count).Select(i => (object)(long)i)));
        Assert.That(receiver.Requests.Select(r => TraceOf(r.TraceParent)), Is.All.EqualTo(TraceId), "the receiver can join the trace too");
        Assert.That(receiver.Requests.Select(r => r.TraceParent.Split('-')[2]), Is.EquivalentTo(deliveries.Select(d => d.SpanId.ToHexString())),
            "under the span of the attempt that sent it");

        var completed = factory.Logs.Entries.Single(e => e.EventId.Id == 302 && e.Message.Contains(callId, StringComparison.Ordinal));
        Assert.That(completed.Scopes.GetValueOrDefault("TraceId"), Is.EqualTo(TraceId), "the log line names the trace");
        Assert.That(completed.Scopes.GetValueOrDefault("CallId"), Is.EqualTo(callId));
        var retried = factory.Logs.Entries.First(e => e.Category.EndsWith("WebhookSender", StringComparison.Ordinal) && e.Message.Contains("retrying", StringComparison.Ordinal));
        Assert.That(retried.Scopes.GetValueOrDefault("TraceId"), Is.EqualTo(TraceId), "so does the webhook's");
    }

    [Test]
    public async Task The_POST_that_places_a_call_is_a_server_span_in_the_callers_trace_and_the_polls_are_not_traced()
    {
        const string trace = "0af7651916cd43dd8448eb211c80319c";
        await using var factory = new HostFactory();
        using var client = factory.CreateClient();

        var callId = await PlaceAsync(client, """{"to":"+15005550000","message":"Disk full."}""", $"00-{trace}-{Caller}-01");
        await HostFactory.WaitForEndAsync(client, callId, "completed");
        await HostFactory.Eventually(async () => _ended.Any(a => a.OperationName == "call" && (string?)a.GetTagItem("voicebridge.call.id") == callId), "the call's span ends");

        var server = _ended.Where(a => a.Kind == ActivityKind.Server && a.TraceId.ToHexString() == trace).ToList();
        Assert.That(server.Select(s => (s.DisplayName, s.ParentSpanId.ToHexString(), s.GetTagItem("http.request.method"), s.GetTagItem("http.route"))),
            Is.EqualTo(new[] { ("POST /api/outbound-call", Caller, (object)"POST", (object)"/api/outbound-call") }), "one server span, the POST's, under the caller's; the polls have none");
        Assert.That(server[0].GetTagItem("http.response.status_code"), Is.EqualTo(200).Or.EqualTo(202));
        Assert.That(CallSpan(callId).ParentSpanId, Is.EqualTo(server[0].SpanId), "the call is a child of the request that placed it");

        var untraced = await PlaceAsync(client, """{"to":"+15005550000","message":"Disk full."}""");
        await HostFactory.WaitForEndAsync(client, untraced, "completed");
        await HostFactory.Eventually(async () => _ended.Any(a => a.OperationName == "call" && (string?)a.GetTagItem("voicebridge.call.id") == untraced), "the second call's span ends");
        var root = _ended.Single(a => a.Kind == ActivityKind.Server && a.TraceId == CallSpan(untraced).TraceId);
        Assert.That((root.ParentSpanId, CallSpan(untraced).ParentSpanId), Is.EqualTo((default(ActivitySpanId), root.SpanId)),
            "a POST that came without a trace starts one, and the call is its child");

        using var refused = await client.PostAsync("/api/outbound-call", new StringContent("""{"to":"not a number"}""", Encoding.UTF8, "application/json"));
        await HostFactory.Eventually(async () => _ended.Any(a => a.Kind == ActivityKind.Server && (int?)a.GetTagItem("http.response.status_code") == (int)refused.StatusCode),
            "a refused POST is traced too, with its status");
    }

    [Test]
    public async Task Request_lines_are_logged_only_when_the_operator_asks_for_them()
    {
        // Off by default (with them, ASP.NET Core made an activity and a log scope for every poll); an operator's level wins.
        const string category = "Microsoft.AspNetCore.Hosting.Diagnostics";
        await using (var quiet = new HostFactory(new() { ["Logging:LogLevel:Default"] = "Debug", ["Logging:LogLevel:Microsoft.AspNetCore"] = "Debug" }))
        {
            using var client = quiet.CreateClient();
            (await client.GetAsync("/healthz")).EnsureSuccessStatusCode();
            var callId = await PlaceAsync(client, """{"to":"+15005550000","message":"Disk full."}""", $"00-{TraceId}-{Caller}-01");
            await HostFactory.WaitForEndAsync(client, callId, "completed");
            Assert.That(quiet.Logs.Entries.Where(e => e.Category == category), Is.Empty, "even with every other category at Debug");
            var callLines = quiet.Logs.Entries.Where(e => e.Category.StartsWith("Voice.", StringComparison.Ordinal) && e.Message.Contains(callId, StringComparison.Ordinal));
            Assert.That(callLines.Select(e => e.Scopes.GetValueOrDefault("TraceId")), Is.Not.Empty.And.All.EqualTo(TraceId),
                "the call's own lines (queued, completed) still name the trace its POST came in");
        }

        await using var verbose = new HostFactory(new() { [$"Logging:LogLevel:{category}"] = "Information" });
        using var asked = verbose.CreateClient();
        (await asked.GetAsync("/healthz")).EnsureSuccessStatusCode();
        await HostFactory.Eventually(async () => verbose.Logs.Entries.Any(e => e.Category == category && e.Message.Contains("/healthz", StringComparison.Ordinal)),
            "Request starting / finished, once configured");
    }

    [Test]
    public async Task A_webhook_left_pending_by_a_restart_is_delivered_in_its_calls_trace()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        using var directory = new TemporaryDirectory();
        var now = DateTimeOffset.UtcNow;
        var span = new ActivityContext(ActivityTraceId.CreateFromString(TraceId), ActivitySpanId.CreateFromString(Caller), ActivityTraceFlags.Recorded);
        using (var store = TestStores.Sqlite(Path.Combine(directory.Path, "voicebridge.db")))
        {
            await store.InitializeAsync();
            await store.InsertAsync(new CallRecord
            {
                CallId = "left", To = "+15005550000", Message = "Left over", State = "queued", CreatedAt = now, WebhookUrl = receiver.Url,
                RequestJson = """{"to":"+15005550000","message":"Left over"}""",
            });
            await store.RecordAsync([new CallStateChange("left", 1, null, CallState.Queued, now) { Trace = span }]);
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();

        await using var factory = new HostFactory(FastRetries, dataDirectory: directory.Path);
        using var client = factory.CreateClient();
        await HostFactory.Eventually(async () => _ended.Any(a => a.OperationName == "webhook.deliver" && (string?)a.GetTagItem("voicebridge.call.id") == "left" && (long?)a.GetTagItem("voicebridge.webhook.sequence") == 1));

        var delivery = _ended.First(a => a.OperationName == "webhook.deliver" && (string?)a.GetTagItem("voicebridge.call.id") == "left");
        Assert.That((delivery.TraceId.ToHexString(), delivery.ParentSpanId.ToHexString()), Is.EqualTo((TraceId, Caller)), "the trace was kept with the webhook on disk");
        Assert.That(TraceOf(receiver.Requests[0].TraceParent), Is.EqualTo(TraceId));
    }

    [Test]
    public async Task With_an_OTLP_endpoint_the_calls_spans_metrics_and_logs_reach_the_collector()
    {
        using var collector = WireMockServer.Start();
        collector.Given(Request.Create().WithPath("/v1/*").UsingPost()).RespondWith(Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/x-protobuf"));
        await using var factory = new HostFactory(new()
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.Url,
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "50",
            ["OTEL_BLRP_SCHEDULE_DELAY"] = "50",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "100",
        });
        using var client = factory.CreateClient();
        var callId = await PlaceAsync(client, """{"to":"+15005550000","message":"Disk full."}""");
        await HostFactory.WaitForEndAsync(client, callId, "completed");

        bool Received(string path, params string[] texts) => collector.LogEntries.Any(e => e.RequestMessage.Path == path
            && e.RequestMessage.BodyAsBytes is { } body && texts.All(text => body.AsSpan().IndexOf(Encoding.UTF8.GetBytes(text)) >= 0));
        // The call's span (which names it) ends last: its children may have gone out in an earlier batch.
        await HostFactory.Eventually(async () => Received("/v1/traces", callId) && Received("/v1/traces", "call.invite"), "the call's spans");
        await HostFactory.Eventually(async () => Received("/v1/metrics", "voicebridge.calls.ended", "announce_complete"), "the call counted");
        await HostFactory.Eventually(async () => Received("/v1/logs", "Call {CallId} completed", callId), "its log lines");
    }
}
