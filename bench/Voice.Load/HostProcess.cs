using System.Diagnostics;
using System.Net;
using System.Text;
using static LoadKit;

/// <summary>
/// The VoiceBridge host (the Release build next to this tool's) as its own process, with a data directory of its
/// own, an API key, and its log kept for when a run fails. The tool measures that process, not itself.
/// </summary>
internal sealed class HostProcess : IAsyncDisposable
{
    public const string Key = "load-test-key-0123456789abcdef";

    private readonly Process _process;
    private readonly StringBuilder _log = new();

    private HostProcess(Process process, int port, string data)
    {
        _process = process;
        Port = port;
        DataDirectory = data;
        Http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 512, PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
        {
            BaseAddress = new Uri($"http://127.0.0.1:{port}"),
            Timeout = TimeSpan.FromSeconds(30),
        };
        Http.DefaultRequestHeaders.Add("X-API-Key", Key);
        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Id => _process.Id;

    public int Port { get; }

    public string DataDirectory { get; }

    /// <summary>A client of the host's API, with the key.</summary>
    public HttpClient Http { get; }

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>Starts the host with <paramref name="settings"/> on top of the tool's own (port, data, key, no rate limit).</summary>
    public static async Task<HostProcess> StartAsync(IReadOnlyDictionary<string, string> settings, string readyPath = "/healthz")
    {
        var configuration = typeof(HostProcess).Assembly.Location.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";
        // VOICEBRIDGE_HOST_DLL: another build of the host, such as the ReadyToRun output of dotnet publish.
        var hostDll = Environment.GetEnvironmentVariable("VOICEBRIDGE_HOST_DLL") is { Length: > 0 } other
            ? Path.GetFullPath(other)
            : Path.Combine(FindRepository(), "src", "Voice.Host", "bin", configuration, "net10.0", "Voice.Host.dll");
        if (!File.Exists(hostDll))
        {
            throw new FileNotFoundException($"{hostDll} is missing: build with dotnet build -c {configuration} VoiceBridge.sln");
        }
        var port = FreePort();
        var data = Path.Combine(Path.GetTempPath(), "vb-load-" + Guid.NewGuid().ToString("N"));
        var start = new ProcessStartInfo("dotnet", [hostDll])
        {
            WorkingDirectory = Path.GetDirectoryName(hostDll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment =
            {
                ["ASPNETCORE_ENVIRONMENT"] = "Production",
                ["Urls"] = $"http://127.0.0.1:{port}",
                ["DATA_DIR"] = data,
                ["API_KEYS"] = "load=" + Key,
                ["RATE_LIMIT_PER_SECOND"] = "100000",
                ["Logging__LogLevel__Microsoft.AspNetCore"] = "Warning",
            },
        };
        KeepInlineCompletionsAsStarted(start);
        foreach (var (key, value) in settings)
        {
            start.Environment[key] = value;
        }
        var host = new HostProcess(Process.Start(start)!, port, data);
        try
        {
            await WaitUntilAsync(async () => (await TryGetAsync(host.Http, readyPath)) == HttpStatusCode.OK, TimeSpan.FromSeconds(60), $"the host to answer {readyPath}");
        }
        catch
        {
            Console.Error.WriteLine(host.Log);
            await host.DisposeAsync();
            throw;
        }
        return host;
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_log)
        {
            _log.AppendLine(line);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
        await _process.WaitForExitAsync();
        _process.Dispose();
        if (Directory.Exists(DataDirectory))
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
    }
}
