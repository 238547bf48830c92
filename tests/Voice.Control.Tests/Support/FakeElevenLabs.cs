using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace Voice.Control.Tests.Support;

/// <summary>A request the fake ElevenLabs received.</summary>
public sealed record ElevenLabsRequest(string Voice, string? OutputFormat, string? ApiKey, string Body);

/// <summary>
/// ElevenLabs' text-to-speech endpoint as a WireMock.Net server: each request gets the next scripted reply (a
/// status and body, or a delay) in turn (a scenario), and 200 with PCM audio once the script is used up. The
/// requests are read back from WireMock's request log.
/// </summary>
public sealed class FakeElevenLabs : IAsyncDisposable
{
    private const string Path = "/v1/text-to-speech/*";
    private static readonly Guid AudioReply = Guid.Parse("0b5e8d4e-8a0c-4c7e-9d51-1e2f3a4b5c6d");

    private readonly WireMockServer _server;
    private int _steps;
    private int _audioBytes = 16_000;

    private FakeElevenLabs(WireMockServer server)
    {
        _server = server;
        MapAudio();
    }

    public Uri BaseUrl => new($"http://127.0.0.1:{_server.Port}/");

    public IReadOnlyList<ElevenLabsRequest> Requests =>
    [
        .. _server.LogEntries.OrderBy(e => e.RequestMessage.DateTime).Select(e => e.RequestMessage).Select(r => new ElevenLabsRequest(
            r.Path["/v1/text-to-speech/".Length..],
            r.Query is { } query && query.TryGetValue("output_format", out var format) ? format.ToString() : null,
            r.Headers is { } headers && headers.TryGetValue("xi-api-key", out var key) ? key.ToString() : null,
            r.Body ?? string.Empty)),
    ];

    /// <summary>Bytes of 16 kHz 16-bit PCM the default reply carries: half a second.</summary>
    public int AudioBytes
    {
        get => _audioBytes;
        set
        {
            _audioBytes = value;
            MapAudio();
        }
    }

    public static Task<FakeElevenLabs> StartAsync() => Task.FromResult(new FakeElevenLabs(WireMockServer.Start()));

    /// <summary>The next request gets this status and JSON body.</summary>
    public void Reply(int status, string json = "") =>
        Next(Response.Create().WithStatusCode(status).WithHeader("Content-Type", "application/json").WithBody(json));

    /// <summary>The next request waits this long before the default audio reply (a stalled service).</summary>
    public void Stall(TimeSpan delay) => Next(Audio().WithDelay(delay));

    public ValueTask DisposeAsync()
    {
        _server.Stop();
        _server.Dispose();
        return ValueTask.CompletedTask;
    }

    private static IRequestBuilder Speech() => Request.Create().WithPath(new WireMock.Matchers.WildcardMatcher(Path)).UsingPost();

    /// <summary>One more step of the script: the request after the ones already scripted gets <paramref name="reply"/>.</summary>
    private void Next(IResponseBuilder reply)
    {
        var step = _steps++;
        var mapping = _server.Given(Speech()).AtPriority(1).InScenario("script");
        if (step > 0)
        {
            mapping = mapping.WhenStateIs($"step {step}");
        }
        mapping.WillSetStateTo($"step {step + 1}").RespondWith(reply);
    }

    private void MapAudio() => _server.Given(Speech()).WithGuid(AudioReply).AtPriority(100).RespondWith(Audio());

    private IResponseBuilder Audio()
    {
        var pcm = new byte[_audioBytes];
        for (var i = 0; i < pcm.Length; i++)
        {
            pcm[i] = (byte)(i * 7);
        }
        return Response.Create().WithStatusCode(200).WithHeader("Content-Type", "audio/pcm").WithBody(pcm);
    }
}
