using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Voice.Host.Tests;

/// <summary>
/// The host as an operator starts it, as a process: a setting it cannot use ends the start with one clear line
/// and exit code 1, and <c>API_AUTH=off</c> is refused on whatever non-loopback address Kestrel really bound.
/// </summary>
[NonParallelizable]
public class StartupTests
{
    private sealed record Run(int ExitCode, string Output, string Error);

    private static async Task<Run> StartAsync(Dictionary<string, string> environment, Func<Task>? whileRunning = null)
    {
        using var data = new TemporaryDirectory();
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        var start = new ProcessStartInfo(dotnet, [Path.Combine(AppContext.BaseDirectory, "Voice.Host.dll")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        start.Environment["DATA_DIR"] = data.Path;
        start.Environment["ASPNETCORE_URLS"] = null;
        start.Environment["ASPNETCORE_HTTP_PORTS"] = null;
        start.Environment["urls"] = "http://127.0.0.1:0";
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (whileRunning is not null)
        {
            await whileRunning();
            process.Kill(entireProcessTree: true);
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return new Run(process.ExitCode, await output, await error);
    }

    [TestCase("API_KEYS", "n8n=short", "API key 'n8n' is shorter than 16 characters")]
    [TestCase("DRACHTIO_PORT", "abc", "DRACHTIO_PORT 'abc' is not a whole number")]
    [TestCase("RATE_LIMIT_PER_SECOND", "0", "RATE_LIMIT_PER_SECOND and RateLimit:Burst must be at least 1")]
    [TestCase("WEBHOOK_ALLOWED_NETWORKS", "lan", "WEBHOOK_ALLOWED_NETWORKS: 'lan' is not a network")]
    [TestCase("Tts__HttpBase", "not a url", "Tts:HttpBase 'not a url' is not an absolute http or https URL")]
    [TestCase("DRACHTIO_SECRET", "", "Secret is required")]
    [TestCase("Calls__DeniedNumberTypes__0", "premium", "Calls:DeniedNumberTypes 'premium' is not a number type")]
    [TestCase("RETENTION_DAYS", "ninety", "RETENTION_DAYS 'ninety' is not a whole number")]
    [TestCase("RETENTION_DAYS", "0", "RETENTION_DAYS 0 must be at least 1")]
    [TestCase("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317", "OTEL_EXPORTER_OTLP_ENDPOINT 'collector:4317' is not an http:// or https:// URL")]
    [TestCase("INBOUND_ROUTES", "4000", "Inbound route '4000' must be pattern=application")]
    [TestCase("INBOUND_ROUTES", "4000=sales", "names application 'sales', which is not configured")]
    [TestCase("SIP_REGISTER", "yes", "SIP_REGISTER 'yes' must be true or false")]
    [TestCase("RECORDINGS_FREESWITCH_TARGET", "recordings", "RECORDINGS_FREESWITCH_TARGET 'recordings' must be an absolute directory path, or an http(s) URL ending in '/'")]
    [TestCase("RECORDINGS_FREESWITCH_TARGET", "http://vb:3000/fs/recordings", "RECORDINGS_FREESWITCH_TARGET 'http://vb:3000/fs/recordings' must be")]
    [TestCase("Recordings__MaxSeconds", "5", "Recordings:MaxSeconds must be 10–14400")]
    public async Task A_setting_that_cannot_be_used_ends_the_start_with_one_clear_line_and_exit_code_1(string name, string value, string said)
    {
        var run = await StartAsync(new() { ["DRACHTIO_HOST"] = "127.0.0.1", ["DRACHTIO_SECRET"] = "cymru", ["API_KEYS"] = "tests=0123456789abcdef0123", [name] = value });
        Assert.That(run.ExitCode, Is.EqualTo(1), run.Error);
        Assert.That(run.Error, Does.StartWith("VoiceBridge cannot start: ").And.Contain(said));
        Assert.That(run.Error.TrimEnd().Split('\n'), Has.Length.EqualTo(1), "one line, no stack trace");
        Assert.That(run.Error + run.Output, Does.Not.Contain("Unhandled exception"));
    }

    [TestCase("Kestrel__Endpoints__Http__Url", "http://0.0.0.0:{port}", "http://0.0.0.0:")]
    [TestCase("ASPNETCORE_HTTP_PORTS", "{port}", "http://[::]:")]
    public async Task Authentication_off_is_refused_on_the_address_Kestrel_really_bound(string name, string value, string bound)
    {
        var settings = new Dictionary<string, string> { ["API_AUTH"] = "off", [name] = value.Replace("{port}", FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal) };
        if (name == "ASPNETCORE_HTTP_PORTS")
        {
            settings["urls"] = string.Empty;
        }
        var run = await StartAsync(settings);
        Assert.That(run.ExitCode, Is.EqualTo(1), run.Output + run.Error);
        Assert.That(run.Error, Does.Contain("API_AUTH=off is allowed only when VoiceBridge listens on loopback alone").And.Contain(bound));
    }

    [Test]
    public async Task Authentication_off_on_loopback_serves_the_API_without_a_key()
    {
        var port = FreePort();
        var served = HttpStatusCode.InternalServerError;
        await StartAsync(new() { ["API_AUTH"] = "off", ["urls"] = $"http://127.0.0.1:{port}" }, async () =>
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            await HostFactory.Eventually(async () =>
            {
                try
                {
                    served = (await client.GetAsync("/api/calls")).StatusCode;
                    return served != HttpStatusCode.ServiceUnavailable;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            }, "the host answers");
        });
        Assert.That(served, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task A_request_body_that_stalls_is_answered_408_as_a_problem_and_not_logged_as_an_error()
    {
        var port = FreePort();
        var answer = string.Empty;
        var run = await StartAsync(new() { ["API_AUTH"] = "off", ["urls"] = $"http://127.0.0.1:{port}" }, async () =>
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            await HostFactory.Eventually(async () =>
            {
                try
                {
                    return (await client.GetAsync("/api/calls")).StatusCode == HttpStatusCode.OK;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            }, "the host answers");
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(IPAddress.Loopback, port);
            await socket.SendAsync("POST /api/outbound-call HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"to\":"u8.ToArray(), SocketFlags.None);
            // Kestrel's minimum body rate (240 bytes/s after a 5 s grace) ends the wait.
            var buffer = new byte[8192];
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            answer = System.Text.Encoding.UTF8.GetString(buffer, 0, n);
        });
        Assert.That(answer, Does.StartWith("HTTP/1.1 408"));
        Assert.That(answer, Does.Contain("application/problem+json").And.Contain("request_timeout"));
        Assert.That(run.Output, Does.Contain("was not read"), "the stall is logged");
        Assert.That(run.Output, Does.Not.Contain("fail:").And.Not.Contain("crit:"), "a client that stalls is not an error of the host");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
