using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace Voice.Host.Tests;

/// <summary>
/// The host as a process of its own (the build next to the tests), for what only a process shows: being killed. Its
/// output is kept, and with it the calls it placed.
/// </summary>
public sealed partial class HostProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private HostProcess(Process process, int port)
    {
        _process = process;
        Client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(20) };
        Client.DefaultRequestHeaders.Add("X-API-Key", HostFactory.ApiKey);
        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public HttpClient Client { get; }

    /// <summary>The process's id, to read what the kernel says of it under /proc.</summary>
    public int Id => _process.Id;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>The calls this process handed to the library to place (its "queued" log lines).</summary>
    public IReadOnlyList<string> Placed => [.. PlacedLine().Matches(Output).Select(m => m.Groups[1].Value)];

    /// <summary>Starts the host with the tests' settings (as <see cref="HostFactory"/> has them) and <paramref name="settings"/>; returns once it is ready.</summary>
    public static async Task<HostProcess> StartAsync(string dataDirectory, IReadOnlyDictionary<string, string?> settings)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Voice.Host.dll");
        using var probe = new TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        var port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var start = new ProcessStartInfo("dotnet", [dll]) { WorkingDirectory = AppContext.BaseDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        var all = new Dictionary<string, string?>(HostFactory.Defaults)
        {
            ["Urls"] = $"http://127.0.0.1:{port}",
            ["DataDirectory"] = dataDirectory,
            ["Logging__Console__FormatterName"] = "simple",
        };
        foreach (var (key, value) in settings)
        {
            all[key] = value;
        }
        foreach (var (key, value) in all.Where(s => s.Value is not null))
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }
        var host = new HostProcess(Process.Start(start)!, port);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            try
            {
                if ((await host.Client.GetAsync("/readyz")).IsSuccessStatusCode)
                {
                    return host;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            if (host._process.HasExited || DateTime.UtcNow > deadline)
            {
                var output = host.Output;
                await host.DisposeAsync();
                Assert.Fail("the host process did not become ready:\n" + output);
            }
            await Task.Delay(100);
        }
    }

    /// <summary>Kills the process at once (SIGKILL): nothing of it runs on, nothing is handed back.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    private void Keep(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
        await _process.WaitForExitAsync();
        _process.Dispose();
    }

    [GeneratedRegex(@"Call ([0-9a-f-]{36}) to \S+ queued")]
    private static partial Regex PlacedLine();
}
