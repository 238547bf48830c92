using System.Diagnostics;
using System.Globalization;
using Voice.Control.Drachtio;
using Voice.Control.FreeSwitch;
using Voice.Control.Media;

namespace Voice.Bench;

/// <summary>
/// <see cref="LeanMediaServer"/> in a process of its own (so this process's CPU counters measure the client
/// alone), with the drachtio client, outbound listener and media server connected to it.
/// </summary>
public sealed class StandIn : IAsyncDisposable
{
    private readonly Process _process;

    private StandIn(Process process, DrachtioClient drachtio, MediaSessionBroker broker, MediaServer server)
    {
        _process = process;
        Drachtio = drachtio;
        Broker = broker;
        Server = server;
    }

    public DrachtioClient Drachtio { get; }

    public MediaSessionBroker Broker { get; }

    public MediaServer Server { get; }

    public static async Task<StandIn> StartAsync(int listenBacklog = 256, TimeSpan? endpointTimeout = null)
    {
        var process = Process.Start(new ProcessStartInfo("dotnet", [typeof(LeanMediaServer).Assembly.Location, "serve-media"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
        })!;
        var ports = (await process.StandardOutput.ReadLineAsync())!.Split(' ').Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToArray();
        var drachtio = new DrachtioClient(new DrachtioClientOptions { Host = "127.0.0.1", Port = ports[0], Secret = "cymru" });
        await drachtio.ConnectAsync();
        // A burst of calls at once makes as many outbound Event Socket connections at once: the listener lets that many
        // wait for their channel data (its default, 128, is for a host that paces its calls; past it, new ones are closed).
        var broker = new MediaSessionBroker(new EslOutboundOptions { Port = 0, Backlog = listenBacklog, MaxPendingConnections = listenBacklog });
        broker.Start();
        var server = new MediaServer(new MediaServerOptions
        {
            EventSocket = new EslClientOptions { Host = "127.0.0.1", Port = ports[1], HeartbeatTimeout = TimeSpan.FromHours(1) },
            EndpointTimeout = endpointTimeout ?? new MediaServerOptions().EndpointTimeout,
        }, drachtio, broker);
        await server.ConnectAsync();
        return new StandIn(process, drachtio, broker, server);
    }

    /// <summary>The line the stand-in ends a report with.</summary>
    public const string EndOfReport = ".";

    /// <summary>Prints what the stand-in measured since the last report, as <paramref name="name"/> (with the latency targets, or without), and starts afresh.</summary>
    public async Task ReportAsync(string name, bool targets = true)
    {
        await _process.StandardInput.WriteLineAsync(targets ? name : name + "\tno target");
        await _process.StandardInput.FlushAsync();
        while (await _process.StandardOutput.ReadLineAsync() is { } line && line != EndOfReport)
        {
            Console.WriteLine(line);
        }
    }

    /// <summary>Closes the links, then stops the stand-in and prints what it measured.</summary>
    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        await Broker.DisposeAsync();
        await Drachtio.DisposeAsync();
        _process.StandardInput.Close();
        Console.Write(await _process.StandardOutput.ReadToEndAsync());
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}
