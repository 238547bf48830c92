using System.Diagnostics;
using System.Net;

namespace Voice.Integration.Tests;

/// <summary>
/// Where the real drachtio-server and FreeSWITCH are, from the environment. Without <c>VB_IT_DRACHTIO</c> every
/// test of this suite is reported skipped with the reason. The README's "Integration tests" section lists them all.
/// </summary>
public sealed record LabSettings
{
    public required string DrachtioHost { get; init; }

    public int DrachtioPort { get; init; } = 9022;

    public string DrachtioSecret { get; init; } = "cymru";

    public required string FreeSwitchHost { get; init; }

    public int FreeSwitchPort { get; init; } = 8021;

    public string FreeSwitchPassword { get; init; } = "ClueCon";

    /// <summary>The stock MRF profile (its offer: RTP/SAVP with crypto lines, then RTP/AVP).</summary>
    public required (string Name, string SipUri) Stock { get; init; }

    /// <summary>A profile whose offer is RTP/AVP only; null skips the tests that need it.</summary>
    public (string Name, string SipUri)? Plain { get; init; }

    /// <summary>The address the test phone listens on, which drachtio-server must reach.</summary>
    public required IPAddress PhoneAddress { get; init; }

    /// <summary>The address VoiceBridge's outbound Event Socket listener binds and FreeSWITCH connects to.</summary>
    public required IPAddress ListenerAddress { get; init; }

    /// <summary>Where rendered speech is written; FreeSWITCH must read the same path (a shared volume with a container).</summary>
    public required string SpeechDirectory { get; init; }

    public string? DrachtioStop { get; init; }

    public string? DrachtioStart { get; init; }

    public string? FreeSwitchStop { get; init; }

    public string? FreeSwitchStart { get; init; }

    private static readonly Lazy<LabSettings?> Current = new(FromEnvironment);

    /// <summary>The settings, or the test is skipped saying which variable to set.</summary>
    public static LabSettings Require()
    {
        if (Current.Value is { } settings)
        {
            return settings;
        }
        Assert.Ignore("No real servers: set VB_IT_DRACHTIO=host:port (and the other VB_IT_* variables of the README's 'Integration tests') to run this suite.");
        return null!;
    }

    private static LabSettings? FromEnvironment()
    {
        if (Environment.GetEnvironmentVariable("VB_IT_DRACHTIO") is not { Length: > 0 } drachtio)
        {
            return null;
        }
        var (drachtioHost, drachtioPort) = HostPort(drachtio, 9022);
        var (fsHost, fsPort) = HostPort(Variable("VB_IT_FREESWITCH") ?? "127.0.0.1:8021", 8021);
        return new LabSettings
        {
            DrachtioHost = drachtioHost,
            DrachtioPort = drachtioPort,
            DrachtioSecret = Variable("VB_IT_DRACHTIO_SECRET") ?? "cymru",
            FreeSwitchHost = fsHost,
            FreeSwitchPort = fsPort,
            FreeSwitchPassword = Variable("VB_IT_FREESWITCH_PASSWORD") ?? "ClueCon",
            Stock = (Variable("VB_IT_MRF_PROFILE") ?? "mrf", Variable("VB_IT_MRF_URI") ?? $"sip:drachtio@{fsHost}:5090"),
            Plain = Variable("VB_IT_MRF_PLAIN_URI") is { } plain ? (Variable("VB_IT_MRF_PLAIN_PROFILE") ?? "mrf-plain", plain) : null,
            PhoneAddress = IPAddress.Parse(Variable("VB_IT_PHONE_ADDRESS") ?? "127.0.0.1"),
            ListenerAddress = IPAddress.Parse(Variable("VB_IT_LISTENER_ADDRESS") ?? "127.0.0.1"),
            SpeechDirectory = Variable("VB_IT_TTS_DIR") ?? Path.Combine(Path.GetTempPath(), "vb-it-tts"),
            DrachtioStop = Variable("VB_IT_DRACHTIO_STOP"),
            DrachtioStart = Variable("VB_IT_DRACHTIO_START"),
            FreeSwitchStop = Variable("VB_IT_FREESWITCH_STOP"),
            FreeSwitchStart = Variable("VB_IT_FREESWITCH_START"),
        };
    }

    private static string? Variable(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : null;

    private static (string Host, int Port) HostPort(string value, int defaultPort)
    {
        var colon = value.LastIndexOf(':');
        return colon > 0 ? (value[..colon], int.Parse(value[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture)) : (value, defaultPort);
    }

    /// <summary>Runs one of the stop/start commands (<c>sh -c</c>); skips the test when it is not set.</summary>
    public static async Task RunAsync(string? command, string variable)
    {
        if (command is null)
        {
            Assert.Ignore($"set {variable} to the command that does this (for the docker images: docker stop … / docker start …)");
        }
        using var process = Process.Start(new ProcessStartInfo("/bin/sh", ["-c", command!]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(90));
        TestContext.Progress.WriteLine($"{variable}: {(await output).Trim()} {(await errors).Trim()}");
        Assert.That(process.ExitCode, Is.Zero, $"{variable} ({command}) failed");
    }
}
