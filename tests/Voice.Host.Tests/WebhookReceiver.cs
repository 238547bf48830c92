using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Voice.Host.Tests;

/// <summary>
/// An in-process HTTP server standing in for n8n or Home Assistant: it keeps every webhook it is sent and answers
/// what the test says — 200, an error status, or a dropped connection.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;

    private WebhookReceiver(WebApplication app) => _app = app;

    /// <summary>Every request, in arrival order, whatever was answered.</summary>
    public ConcurrentQueue<Received> Requests { get; } = new();

    /// <summary>Decides the answer to each request: a status code, or 0 to drop the connection.</summary>
    public Func<Received, int> Answer { get; set; } = _ => 200;

    public string Url { get; private set; } = string.Empty;

    /// <summary>The requests answered 2xx, in order.</summary>
    public IReadOnlyList<Received> Accepted => [.. Requests.Where(r => r.AnsweredStatus is >= 200 and < 300)];

    public static async Task<WebhookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new WebhookReceiver(app);
        app.MapPost("/hook", async (HttpContext context) =>
        {
            using var reader = new StreamReader(context.Request.Body);
            var received = new Received(
                await reader.ReadToEndAsync(),
                context.Request.Headers["X-VoiceBridge-Signature"].ToString(),
                context.Request.Headers["X-VoiceBridge-Event"].ToString(),
                context.Request.ContentType ?? string.Empty,
                DateTimeOffset.UtcNow);
            var status = receiver.Answer(received);
            receiver.Requests.Enqueue(received with { AnsweredStatus = status });
            if (status == 0)
            {
                context.Abort();
                return;
            }
            context.Response.StatusCode = status;
        });
        await app.StartAsync();
        receiver.Url = app.Urls.First() + "/hook";
        return receiver;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    public sealed record Received(string Body, string Signature, string EventHeader, string ContentType, DateTimeOffset At)
    {
        public int AnsweredStatus { get; init; }
    }
}
