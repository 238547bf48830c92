using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Voice.Control.Tests.Support;

/// <summary>A request the fake ElevenLabs received.</summary>
public sealed record ElevenLabsRequest(string Voice, string? OutputFormat, string? ApiKey, string Body);

/// <summary>
/// ElevenLabs' text-to-speech endpoint as an in-process Kestrel server: answers each request with the next
/// scripted reply (a status and body, or a delay), and 200 with PCM audio once the script is used up.
/// </summary>
public sealed class FakeElevenLabs : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<Func<HttpContext, Task>> _script = new();
    private readonly ConcurrentQueue<ElevenLabsRequest> _requests = new();

    private FakeElevenLabs(WebApplication app) => _app = app;

    public Uri BaseUrl { get; private set; } = null!;

    public IReadOnlyList<ElevenLabsRequest> Requests => [.. _requests];

    /// <summary>Bytes of 16 kHz 16-bit PCM the default reply carries: half a second.</summary>
    public int AudioBytes { get; set; } = 16_000;

    public static async Task<FakeElevenLabs> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var fake = new FakeElevenLabs(app);
        app.MapPost("/v1/text-to-speech/{voice}", fake.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        fake.BaseUrl = new Uri(address + "/");
        return fake;
    }

    /// <summary>The next request gets this status and JSON body.</summary>
    public void Reply(int status, string json = "") => _script.Enqueue(async context =>
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(json);
    });

    /// <summary>The next request waits this long before the default audio reply (a stalled service).</summary>
    public void Stall(TimeSpan delay) => _script.Enqueue(async context =>
    {
        await Task.Delay(delay, context.RequestAborted);
        await WriteAudioAsync(context);
    });

    private async Task HandleAsync(HttpContext context, string voice)
    {
        using var reader = new StreamReader(context.Request.Body);
        _requests.Enqueue(new ElevenLabsRequest(voice, context.Request.Query["output_format"], context.Request.Headers["xi-api-key"], await reader.ReadToEndAsync()));
        if (_script.TryDequeue(out var reply))
        {
            await reply(context);
            return;
        }
        await WriteAudioAsync(context);
    }

    private Task WriteAudioAsync(HttpContext context)
    {
        context.Response.ContentType = "audio/pcm";
        var pcm = new byte[AudioBytes];
        for (var i = 0; i < pcm.Length; i++)
        {
            pcm[i] = (byte)(i * 7);
        }
        return context.Response.Body.WriteAsync(pcm).AsTask();
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
