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
    private readonly CancellationTokenSource _stopping = new();
    private readonly TimeProvider _time = services.GetService<TimeProvider>() ?? TimeProvider.System;
    private Task _registering = Task.CompletedTask;
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
        _broker!.HandOver = session =>
        {
            _calls.Accept(Backends.DialplanLeg.Describe(session), new Backends.DialplanLeg(session, _time));
            return Task.CompletedTask;
        };
        _broker.Start();
        if (options.Calls.InboundRoutes.Count > 0)
        {
            // INVITEs to VoiceBridge run the application their called number routes to.
            var inbound = new Backends.SipInboundCalls(_calls, _media!, options.Calls, services.GetRequiredService<ILoggerFactory>().CreateLogger<CallManager>());
            _drachtio!.AcceptInvites(inbound.TakeAsync);
        }
        if (options.Registration is { } registration)
        {
            _registering = KeepRegisteredAsync(registration, _stopping.Token);
        }
        var links = new List<Task> { _drachtio!.ConnectAsync(ct) };
        links.AddRange(_media!.Servers.Select(server => ConnectMediaAsync(server, ct)));
        await Task.WhenAll(links).ConfigureAwait(false);
    }

    /// <summary>The registration with the PBX, once its first REGISTER succeeded; it then refreshes itself.</summary>
    public SipRegistration? Registration { get; private set; }

    /// <summary>
    /// Registers once drachtio-server is up, retrying a refused or failed first REGISTER with back-off (the registration
    /// retries by itself after it once succeeded).
    /// </summary>
    private async Task KeepRegisteredAsync(RegistrationOptions registration, CancellationToken stopping)
    {
        for (var failures = 0; !stopping.IsCancellationRequested; failures++)
        {
            try
            {
                await _drachtio!.ConnectAsync(stopping).ConfigureAwait(false);
                Registration = await _drachtio.RegisterAsync(registration, stopping).ConfigureAwait(false);
                return;
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is DrachtioException or Sip.SipFailureException or TimeoutException or OperationCanceledException)
            {
                var delay = Net.Backoff.Next(registration.RetryMinDelay, registration.RetryMaxDelay, failures + 1);
                logger.LogWarning("Could not register {Aor} with {Registrar}: {Error}; retrying in {Delay}", registration.AddressOfRecord, registration.Registrar, ex.Message, delay);
                try
                {
                    await Task.Delay(delay, _time, stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
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
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _registering.ConfigureAwait(false);
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
            // Unregisters too.
            await _drachtio.DisposeAsync().ConfigureAwait(false);
        }
        _stopping.Dispose();
    }
}
