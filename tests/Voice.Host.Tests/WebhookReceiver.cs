using WireMock.Logging;
using WireMock.Matchers;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace Voice.Host.Tests;

/// <summary>
/// A WireMock.Net server standing in for n8n or Home Assistant: it answers <c>POST /hook</c> with 200 unless a
/// test scripts otherwise (a sequence of answers, one event refused, a slow first answer),
/// and its request log is what the tests assert on.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private const int Scripted = 1;
    private const int Default = 100;

    private static readonly Guid AllAnswers = Guid.Parse("6a1f6c55-0c0e-4bf4-9f7a-5c9a5a1b0d01");

    private readonly WireMockServer _server;

    private WebhookReceiver(WireMockServer server)
    {
        _server = server;
        _server.Given(Hook()).AtPriority(Default).RespondWith(Response.Create().WithStatusCode(200));
    }

    public string Url => $"http://127.0.0.1:{_server.Port}/hook";

    /// <summary>Every request, in arrival order, whatever was answered.</summary>
    public IReadOnlyList<Received> Requests =>
        [.. _server.LogEntries.OrderBy(e => e.RequestMessage.DateTime).Select(ToReceived)];

    /// <summary>The requests answered 2xx, in order.</summary>
    public IReadOnlyList<Received> Accepted => [.. Requests.Where(r => r.AnsweredStatus is >= 200 and < 300)];

    public static Task<WebhookReceiver> StartAsync() => Task.FromResult(new WebhookReceiver(WireMockServer.Start()));

    /// <summary>The first requests are answered by each step in turn, each for its number of requests; after the last step, 200.</summary>
    public void AnswerInTurn(params (int Status, int Times)[] steps)
    {
        for (var i = 0; i < steps.Length; i++)
        {
            var step = _server.Given(Hook()).AtPriority(Scripted).InScenario("in turn");
            if (i > 0)
            {
                step = step.WhenStateIs($"step {i}");
            }
            step.WillSetStateTo($"step {i + 1}", steps[i].Times).RespondWith(Answer(steps[i].Status));
        }
    }

    /// <summary>Every webhook of <paramref name="eventName"/> is answered <paramref name="status"/>; the others as before.</summary>
    public void AnswerEvent(string eventName, int status) =>
        _server.Given(Hook().WithBody(new JsonPartialMatcher($$"""{"event":"{{eventName}}"}""")))
            .AtPriority(Scripted).RespondWith(Answer(status));

    /// <summary>From now on every request is answered <paramref name="status"/>.</summary>
    public void AnswerAll(int status) =>
        _server.Given(Hook()).WithGuid(AllAnswers).AtPriority(Scripted).RespondWith(Answer(status));

    /// <summary>The first request is answered 200 after <paramref name="delay"/>; the others at once.</summary>
    public void DelayFirst(TimeSpan delay) =>
        _server.Given(Hook()).AtPriority(Scripted).InScenario("slow first").WillSetStateTo("answered")
            .RespondWith(Response.Create().WithStatusCode(200).WithDelay(delay));

    public ValueTask DisposeAsync()
    {
        _server.Stop();
        _server.Dispose();
        return ValueTask.CompletedTask;
    }

    private static IRequestBuilder Hook() => Request.Create().WithPath("/hook").UsingPost();

    // WireMock.Net's faults still send a status line (EMPTY_RESPONSE a 200), so a connection dropped without an
    // answer is DroppingReceiver's job.
    private static IResponseBuilder Answer(int status) => Response.Create().WithStatusCode(status);

    private static Received ToReceived(ILogEntry entry)
    {
        var request = entry.RequestMessage;
        string Header(string name) => request.Headers is { } headers && headers.TryGetValue(name, out var values) ? values.ToString() ?? string.Empty : string.Empty;
        var response = entry.ResponseMessage;
        var status = Convert.ToInt32(response.StatusCode ?? 200, System.Globalization.CultureInfo.InvariantCulture);
        return new Received(request.Body ?? string.Empty, Header("X-VoiceBridge-Signature"), Header("X-VoiceBridge-Event"), Header("Content-Type"), request.DateTime)
        {
            AnsweredStatus = status,
            TraceParent = Header("traceparent"),
        };
    }

    public sealed record Received(string Body, string Signature, string EventHeader, string ContentType, DateTime At)
    {
        public int AnsweredStatus { get; init; }

        /// <summary>The W3C trace context the request came with, empty when none.</summary>
        public string TraceParent { get; init; } = string.Empty;
    }
}
