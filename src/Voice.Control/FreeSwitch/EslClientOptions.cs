namespace Voice.Control.FreeSwitch;

/// <summary>Where and how the inbound client reaches FreeSWITCH's Event Socket (event_socket.conf.xml).</summary>
public sealed record EslClientOptions
{
    public string Host { get; init; } = "127.0.0.1";

    public int Port { get; init; } = 8021;

    /// <summary>event_socket.conf.xml's <c>password</c>. FreeSWITCH's default is ClueCon: change it.</summary>
    public string Password { get; init; } = "ClueCon";

    /// <summary>Time allowed for TCP connect, the auth/request greeting and authentication together.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Longest wait for the reply to a command or api call.</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// With no message from FreeSWITCH for this long the link is declared dead and reconnected. FreeSWITCH sends
    /// a HEARTBEAT every 20 s by default (switch.conf.xml <c>event-heartbeat-interval</c>); the client always
    /// subscribes to it.
    /// </summary>
    public TimeSpan HeartbeatTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>First reconnect delay; it doubles per failed attempt, with jitter, up to <see cref="ReconnectMaxDelay"/>.</summary>
    public TimeSpan ReconnectMinDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// The longest wait between attempts. A refused connection costs nothing, and calls wait for the link: one
    /// second brings the link back within about a second of the server's return (a restart, a container replaced).
    /// </summary>
    public TimeSpan ReconnectMaxDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Events held for <see cref="EslClient.Events"/>; when full, the oldest is dropped and logged.</summary>
    public int EventBufferCapacity { get; init; } = 10_000;

    public EslLimits Limits { get; init; } = EslLimits.Default;

    public override string ToString() => $"{Host}:{Port}";

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
        if (string.IsNullOrEmpty(Password) || Password.AsSpan().ContainsAny('\r', '\n'))
        {
            problems.Add("Password is required and must be one line");
        }
        foreach (var (name, value) in new[] { ("ConnectTimeout", ConnectTimeout), ("CommandTimeout", CommandTimeout), ("HeartbeatTimeout", HeartbeatTimeout), ("ReconnectMinDelay", ReconnectMinDelay) })
        {
            if (value <= TimeSpan.Zero)
            {
                problems.Add($"{name} must be positive");
            }
        }
        if (ReconnectMaxDelay < ReconnectMinDelay)
        {
            problems.Add("ReconnectMaxDelay must not be less than ReconnectMinDelay");
        }
        if (EventBufferCapacity < 1)
        {
            problems.Add("EventBufferCapacity must be at least 1");
        }
        if (problems.Count > 0)
        {
            throw new ArgumentException("Invalid Event Socket options: " + string.Join("; ", problems));
        }
    }
}
