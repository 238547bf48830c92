using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Voice.Control.Drachtio;

/// <summary>Where and how the client reaches drachtio-server's control port (the <c>admin</c> element of drachtio.conf.xml).</summary>
public sealed record DrachtioClientOptions
{
    public static DrachtioClientOptions Default { get; } = new();

    public string Host { get; init; } = "127.0.0.1";

    public int Port { get; init; } = 9022;

    /// <summary>The shared secret of drachtio.conf.xml's <c>admin</c> element. Required.</summary>
    public string Secret { get; init; } = string.Empty;

    /// <summary>Tags sent with <c>authenticate</c>, so drachtio-server can route by them.</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>Connect over TLS when set (drachtio's <c>tls-port</c>); reconnects stay on TLS.</summary>
    public DrachtioTlsOptions? Tls { get; init; }

    /// <summary>Time allowed for TCP connect, TLS handshake and authentication together.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How often the client pings drachtio-server to prove the link is alive.</summary>
    public TimeSpan PingInterval { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>A ping not answered within this time declares the link dead; it is closed and reconnected.</summary>
    public TimeSpan PingTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>First reconnect delay; it doubles per failed attempt, with jitter, up to <see cref="ReconnectMaxDelay"/>.</summary>
    public TimeSpan ReconnectMinDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// The longest wait between attempts. A refused connection costs nothing, and calls wait for the link: one
    /// second brings the link back within about a second of the server's return (a restart, a container replaced).
    /// </summary>
    public TimeSpan ReconnectMaxDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Longest wait for a SIP transaction's final response once nothing but the far end can end it (after a
    /// CANCEL, for a BYE). drachtio-server's stack answers 408 itself after 64×T1 = 32 s; this is the backstop.
    /// </summary>
    public TimeSpan TransactionTimeout { get; init; } = TimeSpan.FromSeconds(40);

    /// <summary>Largest frame accepted from drachtio-server; it never sends more than five length digits.</summary>
    public int MaxMessageLength { get; init; } = DrachtioFrame.DefaultMaxMessageLength;

    /// <summary>Checks every setting and reports all problems at once.</summary>
    /// <exception cref="ArgumentException">One or more settings are invalid.</exception>
    public void Validate()
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(Host))
        {
            problems.Add("Host is required");
        }
        if (Port is < 1 or > 65535)
        {
            problems.Add($"Port {Port} is not between 1 and 65535");
        }
        if (string.IsNullOrEmpty(Secret))
        {
            problems.Add("Secret is required (the secret of drachtio.conf.xml's admin element)");
        }
        else if (Secret.AsSpan().IndexOfAny("|\r\n") >= 0)
        {
            problems.Add("Secret must not contain '|', CR or LF");
        }
        foreach (var tag in Tags)
        {
            if (string.IsNullOrEmpty(tag) || tag.AsSpan().IndexOfAny("|,\r\n") >= 0)
            {
                problems.Add($"Tag '{tag}' must be non-empty and free of '|', ',', CR and LF");
            }
        }
        RequirePositive(problems, nameof(ConnectTimeout), ConnectTimeout);
        RequirePositive(problems, nameof(PingInterval), PingInterval);
        RequirePositive(problems, nameof(PingTimeout), PingTimeout);
        RequirePositive(problems, nameof(ReconnectMinDelay), ReconnectMinDelay);
        RequirePositive(problems, nameof(TransactionTimeout), TransactionTimeout);
        if (ReconnectMaxDelay < ReconnectMinDelay)
        {
            problems.Add("ReconnectMaxDelay must not be shorter than ReconnectMinDelay");
        }
        if (MaxMessageLength is < 1024 or > 9_999_999)
        {
            problems.Add($"MaxMessageLength {MaxMessageLength} is not between 1024 and 9999999");
        }
        if (problems.Count > 0)
        {
            throw new ArgumentException("Invalid drachtio client options: " + string.Join("; ", problems) + ".");
        }
    }

    private static void RequirePositive(List<string> problems, string name, TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            problems.Add($"{name} must be positive");
        }
    }

    public override string ToString() => $"drachtio {(Tls is null ? "tcp" : "tls")}://{Host}:{Port}";
}

/// <summary>TLS settings for the control connection.</summary>
public sealed record DrachtioTlsOptions
{
    /// <summary>Server name to validate the certificate against; defaults to <see cref="DrachtioClientOptions.Host"/>.</summary>
    public string? TargetHost { get; init; }

    /// <summary>Custom certificate validation (a private CA, pinning); the platform's validation when null.</summary>
    public RemoteCertificateValidationCallback? RemoteCertificateValidation { get; init; }

    public X509CertificateCollection? ClientCertificates { get; init; }

    public SslProtocols EnabledProtocols { get; init; } = SslProtocols.None;
}
