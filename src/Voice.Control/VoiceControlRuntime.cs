using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Voice.Control.Calls;
using Voice.Control.Drachtio;
using Voice.Control.Media;

namespace Voice.Control;

/// <summary>
/// Opens and closes the library's links in order: the outbound listener, drachtio-server, the media servers;
/// on stop, calls first (each hung up), then the links. On the simulated backend there is nothing to open.
/// </summary>
public sealed class VoiceControlRuntime(IServiceProvider services, VoiceControlOptions options, ILogger<VoiceControlRuntime> logger) : IAsyncDisposable
{
    // Resolved now: on disposal the service provider may already be shutting down.
    private readonly CallManager _calls = services.GetRequiredService<CallManager>();
    private readonly MediaServerPool? _media = options.IsSimulated ? null : services.GetRequiredService<MediaServerPool>();
    private readonly MediaSessionBroker? _broker = options.IsSimulated ? null : services.GetRequiredService<MediaSessionBroker>();
    private readonly DrachtioClient? _drachtio = options.IsSimulated ? null : services.GetRequiredService<DrachtioClient>();
    private int _disposed;

    /// <summary>
    /// Starts listening for FreeSWITCH and connects drachtio-server and every media server at the same time.
    /// Each link retries with back-off until it is up; this completes when all have connected once (a host runs
    /// it in the background). Calls meanwhile fail fast as <c>service_unavailable</c>.
    /// </summary>
    /// <exception cref="DrachtioAuthenticationException">drachtio-server refused the secret (not retried).</exception>
    public async Task StartAsync(CancellationToken ct = default)
    {
        if (options.IsSimulated)
        {
            logger.LogWarning("No drachtio-server configured: calls run on the SIMULATED backend and nothing really rings.");
            return;
        }
        // Channels a FreeSWITCH dialplan hands over run their application as calls that came in.
        var time = services.GetService<TimeProvider>() ?? TimeProvider.System;
        _broker!.HandOver = session =>
        {
            _calls.Accept(Backends.DialplanLeg.Describe(session), new Backends.DialplanLeg(session, time));
            return Task.CompletedTask;
        };
        _broker.Start();
        var links = new List<Task> { _drachtio!.ConnectAsync(ct) };
        links.AddRange(_media!.Servers.Select(server => ConnectMediaAsync(server, ct)));
        await Task.WhenAll(links).ConfigureAwait(false);
    }

    private async Task ConnectMediaAsync(MediaServer server, CancellationToken ct)
    {
        try
        {
            await server.ConnectAsync(ct).ConfigureAwait(false);
        }
        catch (MediaServerUnavailableException ex)
        {
            // The Event Socket stays up and re-checks the profile on each reconnect; the pool skips the server meanwhile.
            logger.LogError("{Error}", ex.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        await _calls.DisposeAsync().ConfigureAwait(false);
        if (_media is not null)
        {
            await _media.DisposeAsync().ConfigureAwait(false);
        }
        if (_broker is not null)
        {
            await _broker.DisposeAsync().ConfigureAwait(false);
        }
        if (_drachtio is not null)
        {
            await _drachtio.DisposeAsync().ConfigureAwait(false);
        }
    }
}
