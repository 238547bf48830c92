using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Logging;

namespace Voice.Host.Tests;

/// <summary>The host on the simulated backend, with simulated calls sped up and its data in a temporary directory.</summary>
public sealed class HostFactory : WebApplicationFactory<Program>
{
    private readonly Dictionary<string, string?> _settings;

    /// <param name="settings">Settings over the tests' defaults.</param>
    /// <param name="dataDirectory">A data directory the test keeps; a temporary one by default.</param>
    /// <param name="engine">The database: SQLite in the data directory, or a new database on the test PostgreSQL.</param>
    public HostFactory(Dictionary<string, string?>? settings = null, string? dataDirectory = null, Engine engine = Engine.Sqlite)
    {
        DataDirectory = dataDirectory ?? Path.Combine(Path.GetTempPath(), "vb-host-" + Guid.NewGuid().ToString("N"));
        KeepData = dataDirectory is not null;
        Engine = engine;
        _settings = new Dictionary<string, string?>(Defaults)
        {
            ["DATABASE_URL"] = engine == Engine.Postgres && settings?.ContainsKey("DATABASE_URL") != true ? PostgresServer.CreateDatabase() : null,
            ["DataDirectory"] = DataDirectory,
        };
        foreach (var (key, value) in settings ?? [])
        {
            _settings[key] = value;
        }
    }

    /// <summary>A host on a database of the test's own, which outlives it (its data directory too).</summary>
    public HostFactory(Dictionary<string, string?>? settings, TestDatabase database)
        : this(new Dictionary<string, string?>(settings ?? []) { ["DATABASE_URL"] = database.Url }, database.DataDirectory, database.Engine)
    {
    }

    public Engine Engine { get; }

    /// <summary>A connection of the test's own to the host's database (to set up what no API does, such as an old call).</summary>
    public async Task<System.Data.Common.DbConnection> ConnectAsync()
    {
        System.Data.Common.DbConnection connection = Engine == Engine.Postgres
            ? new Npgsql.NpgsqlConnection(_settings["DATABASE_URL"])
            : new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        await connection.OpenAsync();
        return connection;
    }

    /// <summary>What every test host runs with: the tests' key, no rate limit in the way, loopback webhooks, simulated calls sped up.</summary>
    public static IReadOnlyDictionary<string, string?> Defaults { get; } = new Dictionary<string, string?>
    {
        ["API_KEYS"] = $"tests={ApiKey}",
        ["RateLimit:PerSecond"] = "1000",
        // The tests' webhook receivers listen on 127.0.0.1, as an n8n on the same machine would.
        ["WEBHOOK_ALLOWED_NETWORKS"] = "loopback",
        ["Simulation:RingTimeMs"] = "30",
        ["Simulation:SignallingDelayMs"] = "2",
        ["Simulation:HangupAfterMs"] = "30",
        ["Simulation:PlaybackSpeed"] = "50",
    };

    /// <summary>The key every client of <see cref="WebApplicationFactory{TEntryPoint}.CreateClient()"/> sends.</summary>
    public const string ApiKey = "test-key-0123456789abcdef";

    public string DataDirectory { get; }

    /// <summary>The settings the host was started with.</summary>
    public IReadOnlyDictionary<string, string?> Settings => _settings;

    /// <summary>The data directory belongs to the test (it outlives this host).</summary>
    public bool KeepData { get; }

    public string DatabasePath => Path.Combine(DataDirectory, "voicebridge.db");

    /// <summary>What the host logged, with each line's scopes.</summary>
    public CapturedLogs Logs { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }
        builder.ConfigureLogging(logging => logging.AddProvider(Logs));
    }

    protected override void ConfigureClient(HttpClient client)
    {
        base.ConfigureClient(client);
        client.DefaultRequestHeaders.Add("X-API-Key", ApiKey);
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (!KeepData && Directory.Exists(DataDirectory))
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
    }

    /// <summary>POSTs a call (JSON) and returns its id; fails the test unless it was accepted.</summary>
    public static async Task<string> PlaceAsync(HttpClient client, string json)
    {
        var response = await client.PostAsync("/api/outbound-call", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));
        Assert.That(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("callId").GetString()!;
    }

    /// <summary>GET /api/call/{id} until the call has ended.</summary>
    public static async Task<JsonElement> WaitForEndAsync(HttpClient client, string callId, string? state = null)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var call = await client.GetFromJsonAsync<JsonElement>($"/api/call/{callId}");
            var current = call.GetProperty("state").GetString();
            if (state is null ? current is "completed" or "failed" : current == state)
            {
                return call;
            }
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"call {callId} is still {current}");
            }
            await Task.Delay(10);
        }
    }

    /// <summary>Polls <paramref name="condition"/> until it holds; fails the test after <paramref name="limit"/> (10 s unless given).</summary>
    public static async Task Eventually(Func<Task<bool>> condition, string? what = null, TimeSpan? limit = null)
    {
        var within = limit ?? TimeSpan.FromSeconds(10);
        var deadline = DateTime.UtcNow + within;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"{what ?? "the condition did not become true"}: not within {within.TotalSeconds} s");
            }
            await Task.Delay(20);
        }
    }
}
