using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Voice.Dashboard.Tests;

/// <summary>
/// The host on the simulated backend, listening on a real loopback port so that a real browser can load its dashboard;
/// calls ring and play slowly enough to be watched changing state.
/// </summary>
public sealed class DashboardHost : WebApplicationFactory<Program>
{
    public const string ApiKey = "dashboard-key-0123456789abcdef";

    private readonly string _data = Path.Combine(Path.GetTempPath(), "vb-dashboard-" + Guid.NewGuid().ToString("N"));

    public DashboardHost()
    {
        Port = FreePort();
        UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, Port));
        StartServer();
    }

    public int Port { get; }

    public string Url => $"http://127.0.0.1:{Port}";

    /// <summary>A client of the API with the key, as n8n or curl would be.</summary>
    public HttpClient Api()
    {
        var client = new HttpClient { BaseAddress = new Uri(Url) };
        client.DefaultRequestHeaders.Add("X-API-Key", ApiKey);
        return client;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in new Dictionary<string, string>
        {
            ["DataDirectory"] = _data,
            ["API_KEYS"] = $"dashboard={ApiKey}",
            ["AGENTS"] = "101=Alice,102=Bob",
            ["RateLimit:PerSecond"] = "1000",
            ["WEBHOOK_ALLOWED_NETWORKS"] = "loopback",
            ["Simulation:RingTimeMs"] = "1200",
            ["Simulation:SignallingDelayMs"] = "20",
            ["Simulation:PlaybackSpeed"] = "4",
            ["Simulation:TalkTimeMs"] = "2500",
        })
        {
            builder.UseSetting(key, value);
        }
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_data))
        {
            Directory.Delete(_data, recursive: true);
        }
    }

    /// <summary>A webhook receiver on this machine that answers 204 to everything, as n8n would; dispose to stop it.</summary>
    public static (string Url, IDisposable Stop) Receiver()
    {
        var port = FreePort();
        var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        _ = Task.Run(async () =>
        {
            while (listener.IsListening)
            {
                try
                {
                    var context = await listener.GetContextAsync();
                    context.Response.StatusCode = 204;
                    context.Response.Close();
                }
                catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    return;
                }
            }
        });
        return ($"http://127.0.0.1:{port}/hook", listener);
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
