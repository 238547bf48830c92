using System.Text.Json;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace Voice.Control.Tests.Support;

/// <summary>A POST an application's hook received: its JSON body, signature and W3C traceparent.</summary>
public sealed record HookCall(string Path, JsonElement Body, string RawBody, string? Signature, string? TraceParent);

/// <summary>
/// An application's hook (a gather's actionHook, a redirect) as a WireMock.Net server: each path answers with the
/// JSON it was given (an empty 200 when none), optionally after a delay; the calls are read back from its log.
/// </summary>
public sealed class FakeHook : IAsyncDisposable
{
    private readonly WireMockServer _server = WireMockServer.Start();

    public Uri Url(string path) => new($"http://127.0.0.1:{_server.Port}{path}");

    /// <summary><paramref name="path"/> answers <paramref name="status"/> with <paramref name="json"/> after <paramref name="delay"/>.</summary>
    public void Answer(string path, string json = "", int status = 200, TimeSpan? delay = null)
    {
        var response = Response.Create().WithStatusCode(status);
        if (json.Length > 0)
        {
            response = response.WithHeader("Content-Type", "application/json").WithBody(json);
        }
        if (delay is { } wait)
        {
            response = response.WithDelay(wait);
        }
        _server.Given(Request.Create().WithPath(path).UsingPost()).RespondWith(response);
    }

    /// <summary>
    /// <paramref name="path"/> takes each request and answers nothing until the hook is disposed (a hook that hangs);
    /// the task completes when the first request has arrived, while it is still unanswered.
    /// </summary>
    public Task Hang(string path)
    {
        var received = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _server.Given(Request.Create().WithPath(path).UsingPost()).RespondWith(Response.Create().WithCallback(_ =>
        {
            received.TrySetResult();
            _released.Wait(TimeSpan.FromSeconds(30));
            return new WireMock.ResponseMessage { StatusCode = 200 };
        }));
        return received.Task;
    }

    private readonly ManualResetEventSlim _released = new();

    public IReadOnlyList<HookCall> Calls =>
    [
        .. _server.LogEntries.OrderBy(e => e.RequestMessage.DateTime).Select(e => e.RequestMessage).Select(r => new HookCall(
            r.Path,
            JsonDocument.Parse(r.Body ?? "null").RootElement.Clone(),
            r.Body ?? string.Empty,
            r.Headers is { } headers && headers.TryGetValue("X-VoiceBridge-Signature", out var signature) ? signature.ToString() : null,
            r.Headers is { } all && all.TryGetValue("traceparent", out var traceParent) ? traceParent.ToString() : null)),
    ];

    public ValueTask DisposeAsync()
    {
        _released.Set();
        _server.Stop();
        _server.Dispose();
        return ValueTask.CompletedTask;
    }
}
