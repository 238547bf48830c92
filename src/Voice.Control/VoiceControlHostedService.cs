using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Voice.Control.Drachtio;

namespace Voice.Control;

/// <summary>
/// Opens the library's links when the host starts, in the background (each link retries until it is up, so a
/// drachtio-server that is down does not hold the host's start), and ends calls and links when it stops.
/// Registered by <see cref="VoiceControlServiceCollectionExtensions.AddVoiceControl(Microsoft.Extensions.DependencyInjection.IServiceCollection, Action{VoiceControlOptions})"/>.
/// </summary>
public sealed class VoiceControlHostedService(VoiceControlRuntime runtime, ILogger<VoiceControlHostedService> logger) : IHostedService
{
    private readonly CancellationTokenSource _stopping = new();
    private Task _opening = Task.CompletedTask;

    /// <summary>Why the links could not be opened at all (a refused secret, a port in use); null otherwise. For readiness checks.</summary>
    public string? StartFailure { get; private set; }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _opening = OpenAsync(_stopping.Token);
        return Task.CompletedTask;
    }

    private async Task OpenAsync(CancellationToken ct)
    {
        await Task.Yield(); // the host's start goes on while the links connect
        try
        {
            await runtime.StartAsync(ct).ConfigureAwait(false);
        }
        catch (DrachtioAuthenticationException ex)
        {
            StartFailure = ex.Message;
            logger.LogCritical("{Error}. Fix the drachtio secret (drachtio.conf.xml's admin element) and restart.", ex.Message);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is System.Net.Sockets.SocketException or InvalidOperationException)
        {
            StartFailure = ex.Message;
            logger.LogCritical(ex, "VoiceBridge could not open its telephony links: {Error}", ex.Message);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _opening.ConfigureAwait(false);
        await runtime.DisposeAsync().ConfigureAwait(false);
    }
}
